/**
 * Per-folder manifests: `<folder>/manifest.json` records, for every artifact in that folder, the stage and
 * configuration that produced it and the inputs it was made from (path relative to the folder, size,
 * mtime). This is the one freshness rule of every stage:
 *
 *   an artifact is up to date when it exists, is unchanged since it was recorded, and its entry has the
 *   same stage, the same configuration and the same inputs (each still present with the recorded size and
 *   mtime).
 *
 * Anything else (missing entry, changed configuration, edited or replaced input, artifact overwritten by
 * another tool) makes it stale, so a wrong skip needs an input edited in place with its size and mtime
 * restored. Stages write the artifact atomically first and record it second: a run killed between the two
 * leaves a complete file without an entry, which the next run recomputes. Files copied in from elsewhere
 * (e.g. the Python originals) have no entry either and are recomputed when a stage would write them.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { removeStaleTempFiles, writeFileAtomic } from "../core/atomic";

export const MANIFEST_NAME = "manifest.json";

/** JSON-serializable stage configuration (undefined fields are dropped). */
export type StageConfig = { [key: string]: unknown };

/** An input file as it was when the artifact was made; `path` is relative to the manifest's folder. */
export interface FileStamp {
  path: string;
  size: number;
  mtimeMs: number;
}

export interface ManifestEntry {
  /** Which stage wrote it, e.g. "faiss_nn", "rerank". */
  stage: string;
  config: StageConfig;
  inputs: FileStamp[];
  /** The artifact itself right after it was written: a later change by anything else makes it stale. */
  output: { size: number; mtimeMs: number };
  /** When it was recorded (ISO time), for people reading the manifest. */
  recorded: string;
}

export interface Manifest {
  version: 1;
  artifacts: Record<string, ManifestEntry>;
}

export type Freshness = { fresh: true } | { fresh: false; reason: string };

/** Reads `<folder>/manifest.json`; a missing or unreadable manifest reads as empty (everything stale, which is safe). */
export function readManifest(folder: string): Manifest {
  try {
    const parsed = JSON.parse(fs.readFileSync(path.join(folder, MANIFEST_NAME), "utf8")) as Manifest;
    if (parsed && parsed.version === 1 && typeof parsed.artifacts === "object" && parsed.artifacts !== null) return parsed;
  } catch {
    // missing or hand-damaged: recompute rather than trust it
  }
  return { version: 1, artifacts: {} };
}

/** `file` as it is now (undefined when it is not a file), its path relative to `folder`. */
export function fileStamp(file: string, folder: string): FileStamp | undefined {
  const st = fs.statSync(file, { throwIfNoEntry: false });
  return st?.isFile() ? { path: path.relative(folder, path.resolve(file)), size: st.size, mtimeMs: st.mtimeMs } : undefined;
}

/**
 * JSON with sorted keys and undefined fields dropped, so equal configurations compare equal: the one canonical JSON
 * (manifest entries, checkpoint fingerprints).
 */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) => {
    if (v === null || typeof v !== "object" || Array.isArray(v)) return v;
    return Object.fromEntries(Object.entries(v as Record<string, unknown>).filter(([, x]) => x !== undefined).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
  });
}

/** Names the configuration fields that differ, e.g. "k: 256 -> 200". */
export function configChanges(before: StageConfig, now: StageConfig): string {
  const keys = [...new Set([...Object.keys(before), ...Object.keys(now)])].sort();
  return keys.filter((key) => canonicalJson(before[key]) !== canonicalJson(now[key]))
    .map((key) => `${key}: ${canonicalJson(before[key]) ?? "unset"} -> ${canonicalJson(now[key]) ?? "unset"}`).join(", ");
}

/** Whether `artifact` is up to date for this stage, configuration and inputs, and if not, why. */
export function artifactFreshness(artifact: string, stage: string, config: StageConfig, inputs: string[]): Freshness {
  const folder = path.dirname(path.resolve(artifact));
  const current = fileStamp(artifact, folder);
  if (!current) return { fresh: false, reason: "missing" };
  const entry = readManifest(folder).artifacts[path.basename(artifact)];
  if (!entry) return { fresh: false, reason: "no manifest entry" };
  if (entry.stage !== stage) return { fresh: false, reason: `made by stage ${entry.stage}, not ${stage}` };
  if (canonicalJson(entry.config) !== canonicalJson(config)) {
    return { fresh: false, reason: `configuration changed (${configChanges(entry.config, config)})` };
  }
  if (entry.output?.size !== current.size || entry.output?.mtimeMs !== current.mtimeMs) {
    return { fresh: false, reason: "changed since it was recorded" };
  }
  const recorded = new Map(entry.inputs.map((s) => [s.path, s]));
  if (recorded.size !== inputs.length) return { fresh: false, reason: "different inputs" };
  for (const input of inputs) {
    const now = fileStamp(input, folder);
    const was = recorded.get(path.relative(folder, path.resolve(input)));
    if (!was) return { fresh: false, reason: `new input ${input}` };
    if (!now) return { fresh: false, reason: `input missing: ${input}` };
    if (now.size !== was.size || now.mtimeMs !== was.mtimeMs) return { fresh: false, reason: `input changed: ${input}` };
  }
  return { fresh: true };
}

/** True when `artifact` is up to date (see artifactFreshness). */
export function isFresh(artifact: string, stage: string, config: StageConfig, inputs: string[]): boolean {
  return artifactFreshness(artifact, stage, config, inputs).fresh;
}

/**
 * Records `artifact` (already written) with the stage, configuration and current state of its inputs.
 * Call it after the artifact is in place, never before: the entry vouches for a complete file.
 */
export function recordArtifact(artifact: string, stage: string, config: StageConfig, inputs: string[]): void {
  const folder = path.dirname(path.resolve(artifact));
  const output = fileStamp(artifact, folder);
  if (!output) return;
  const stamps = inputs.map((input) => fileStamp(input, folder)).filter((s): s is FileStamp => s !== undefined);
  // Re-read right before writing so entries recorded meanwhile (another model or index type) are kept.
  const manifest = readManifest(folder);
  manifest.artifacts[path.basename(artifact)] = {
    stage, config: JSON.parse(canonicalJson(config)) as StageConfig, inputs: stamps,
    output: { size: output.size, mtimeMs: output.mtimeMs }, recorded: new Date().toISOString(),
  };
  const sorted = Object.fromEntries(Object.entries(manifest.artifacts).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
  writeFileAtomic(path.join(folder, MANIFEST_NAME), JSON.stringify({ version: 1, artifacts: sorted }, null, 1) + "\n");
  // A killed run leaves its half-written temp file behind (nothing under a final name); clear those here.
  removeStaleTempFiles(folder);
}
