/**
 * The one checkpoint mechanism of long computations (the exact search's finished query chunks, the sweep's
 * finished rows): a file whose first line is a JSON header, `{"format": ..., "fingerprint": ...}`, the fingerprint
 * being the canonical JSON (io/manifest.ts) of everything the payload depends on; the payload follows the header,
 * either appended piece by piece (each flushed to disk) or rewritten whole, atomically. A reader takes the payload
 * only under the same format and fingerprint, and otherwise gets a reason to start afresh.
 */
import * as fs from "node:fs";
import { writeAtomically, writeFileAtomic } from "../core/atomic";
import { MrlError } from "../core/errors";
import { canonicalJson, configChanges } from "./manifest";
import { readFully } from "./npy";

/** What kind of checkpoint a file holds, and how to say why an earlier fingerprint no longer holds. */
export interface CheckpointKind<F> {
  /** Written in the header, e.g. "mrl-sweep-partial/1"; a file of another format is never resumed. */
  format: string;
  /** Names the kind in messages, e.g. "sweep": "its first line is not a sweep checkpoint header". */
  what: string;
  /** Why payload made under `before` does not hold under `now` (default: the top-level fields that differ). */
  explain?: (before: F, now: F) => string | undefined;
}

/** A checkpoint found for this fingerprint: where its payload starts, or why it cannot be used. */
export type CheckpointMatch = { payloadOffset: number; afresh?: undefined } | { afresh: string; payloadOffset?: undefined };

/** The header longer fingerprints would need: far above any real one (the sweep's grid is a few KB). */
const MAX_HEADER_BYTES = 1 << 20;

/** The header line of a checkpoint (newline included). */
export function checkpointHeader<F>(kind: CheckpointKind<F>, fingerprint: F): string {
  return `{"format":${JSON.stringify(kind.format)},"fingerprint":${canonicalJson(fingerprint)}}\n`;
}

/**
 * Matches a header line (without its newline) against the fingerprint `now`: undefined when the payload after it
 * holds, else why not.
 */
export function headerMismatch<F>(line: string, kind: CheckpointKind<F>, now: F): string | undefined {
  let header: { format?: unknown; fingerprint?: F } | undefined;
  try {
    header = JSON.parse(line) as typeof header;
  } catch {
    header = undefined;
  }
  if (!header || header.format !== kind.format || header.fingerprint === undefined) return `its first line is not a ${kind.what} checkpoint header`;
  if (canonicalJson(header.fingerprint) === canonicalJson(now)) return undefined;
  const before = header.fingerprint;
  return kind.explain?.(before, now) ?? `its fingerprint differs (${fieldChanges(before, now)})`;
}

const fieldChanges = (before: unknown, now: unknown): string =>
  before !== null && now !== null && typeof before === "object" && typeof now === "object"
    ? configChanges(before as Record<string, unknown>, now as Record<string, unknown>)
    : `${canonicalJson(before)} -> ${canonicalJson(now)}`;

/** Splits a checkpoint's text into header match and payload text (the payload is empty when it does not match). */
export function parseCheckpointText<F>(text: string, kind: CheckpointKind<F>, now: F): { afresh?: string; payload: string } {
  const end = text.indexOf("\n");
  const afresh = headerMismatch(end < 0 ? "" : text.slice(0, end), kind, now);
  return afresh ? { afresh, payload: "" } : { payload: text.slice(end + 1) };
}

/**
 * Reads the header of the checkpoint `file` (the payload stays on disk: readCheckpointPayload reads it where the
 * caller wants it). Undefined when there is no file.
 */
export function matchCheckpoint<F>(file: string, kind: CheckpointKind<F>, now: F): CheckpointMatch | undefined {
  if (!fs.existsSync(file)) return undefined;
  const fd = fs.openSync(file, "r");
  try {
    const head = new Uint8Array(Math.min(fs.fstatSync(fd).size, MAX_HEADER_BYTES));
    readFully(fd, head, 0, file);
    const end = head.indexOf(0x0a);
    const afresh = headerMismatch(end < 0 ? "" : Buffer.from(head.buffer, head.byteOffset, end).toString("utf8"), kind, now);
    return afresh ? { afresh } : { payloadOffset: end + 1 };
  } finally {
    fs.closeSync(fd);
  }
}

/** Bytes of payload after the header (see matchCheckpoint). */
export function checkpointPayloadBytes(file: string, match: { payloadOffset: number }): number {
  return fs.statSync(file).size - match.payloadOffset;
}

/** Reads `target.length` payload bytes of a matched checkpoint, from its start. */
export function readCheckpointPayload(file: string, match: { payloadOffset: number }, target: Uint8Array): void {
  const fd = fs.openSync(file, "r");
  try {
    readFully(fd, target, match.payloadOffset, file);
  } finally {
    fs.closeSync(fd);
  }
}

/** Rewrites a checkpoint whole, atomically: the header, then the payload's parts in order. */
export function writeCheckpoint<F>(file: string, kind: CheckpointKind<F>, fingerprint: F, payload: Uint8Array[]): void {
  writeAtomically(file, (temp) => {
    const fd = fs.openSync(temp, "w");
    try {
      for (const part of [Buffer.from(checkpointHeader(kind, fingerprint)), ...payload]) {
        let done = 0;
        while (done < part.length) done += fs.writeSync(fd, part, done, part.length - done);
      }
    } finally {
      fs.closeSync(fd);
    }
  });
}

/** A checkpoint open for appending: each piece is on disk (fsync) when append returns. */
export interface AppendingCheckpoint {
  file: string;
  append(text: string): void;
  close(): void;
}

/** Writes the header and `payload` atomically, then opens the file for appending further payload. */
export function appendingCheckpoint<F>(file: string, kind: CheckpointKind<F>, fingerprint: F, payload = ""): AppendingCheckpoint {
  writeFileAtomic(file, checkpointHeader(kind, fingerprint) + payload);
  let fd: number | undefined = fs.openSync(file, "a");
  return {
    file,
    append: (text) => {
      if (fd === undefined) throw new MrlError("checkpoint already closed", file);
      fs.writeSync(fd, text);
      fs.fsyncSync(fd); // the piece survives a kill, or a power cut, from here on
    },
    close: () => {
      if (fd !== undefined) fs.closeSync(fd);
      fd = undefined;
    },
  };
}
