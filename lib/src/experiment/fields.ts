/**
 * Readers for the fields of a JSON experiment file: each turns an unknown JSON value into a typed one or
 * throws an MrlError naming the file, the field (e.g. `adaptive[1].shortlist`), the value and what is allowed.
 */
import { MrlError } from "../core/errors";

/** Where a value sits: the file and the field path inside it. */
export interface FieldAt {
  file?: string;
  field: string;
}

export type Reader<T> = (value: unknown, at: FieldAt) => T;

const show = (value: unknown): string => (typeof value === "string" ? `"${value}"` : JSON.stringify(value) ?? String(value));

/** Throws the standard message: `field "x" is <value>; expected <allowed>`. */
export function fieldError(at: FieldAt, value: unknown, expected: string): never {
  throw new MrlError(`field "${at.field}" is ${show(value)}; expected ${expected}`, at.file);
}

const inside = (at: FieldAt, key: string | number): FieldAt =>
  ({ file: at.file, field: typeof key === "number" ? `${at.field}[${key}]` : at.field ? `${at.field}.${key}` : key });

export const positiveInt: Reader<number> = (v, at) => (Number.isInteger(v) && (v as number) > 0 ? (v as number) : fieldError(at, v, "a positive integer"));

export const positiveNumber: Reader<number> = (v, at) =>
  (typeof v === "number" && Number.isFinite(v) && v > 0 ? v : fieldError(at, v, "a positive number"));

/** A name that becomes part of file names (dataset tag, model): no path separators, no "..". */
export const plainName: Reader<string> = (v, at) =>
  (typeof v === "string" && /^[A-Za-z0-9][A-Za-z0-9_.+-]*$/.test(v) && !v.includes("..") ? v
    : fieldError(at, v, 'a plain name (letters, digits, "_", "-", "+", "."; no path separators or ".."), as it becomes part of file names'));

export const text: Reader<string> = (v, at) => (typeof v === "string" && v.length > 0 ? v : fieldError(at, v, "a non-empty string"));

export function oneOf<T extends string>(allowed: readonly T[]): Reader<T> {
  return (v, at) => ((allowed as readonly unknown[]).includes(v) ? (v as T) : fieldError(at, v, `one of: ${allowed.join(", ")}`));
}

export function listOf<T>(item: Reader<T>, options: { nonEmpty?: boolean } = {}): Reader<T[]> {
  return (v, at) => {
    if (!Array.isArray(v)) return fieldError(at, v, "a list");
    if (options.nonEmpty && v.length === 0) return fieldError(at, v, "a non-empty list");
    return v.map((x, i) => item(x, inside(at, i)));
  };
}

/** A JSON object with these fields (optional ones may be absent); unknown fields are an error naming them. */
export function objectOf<T>(fields: { [K in keyof T]-?: Reader<T[K]> }, optional: ReadonlyArray<keyof T> = []): Reader<T> {
  return (v, at) => {
    if (typeof v !== "object" || v === null || Array.isArray(v)) return fieldError(at, v, "an object");
    const record = v as Record<string, unknown>;
    const known = Object.keys(fields);
    for (const key of Object.keys(record)) {
      if (!known.includes(key)) {
        throw new MrlError(`unknown field "${inside(at, key).field}"; expected one of: ${known.join(", ")}`, at.file);
      }
    }
    const out: Record<string, unknown> = {};
    for (const key of known) {
      if (record[key] === undefined) {
        if (optional.includes(key as keyof T)) continue;
        throw new MrlError(`missing field "${inside(at, key).field}"`, at.file);
      }
      out[key] = (fields as Record<string, Reader<unknown>>)[key](record[key], inside(at, key));
    }
    return out as T;
  };
}
