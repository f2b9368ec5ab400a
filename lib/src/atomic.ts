import * as fs from "node:fs";
import * as path from "node:path";

/** A temp path next to `target` (same filesystem, so rename is atomic). */
export function tempPathFor(target: string): string {
  return path.join(path.dirname(target), `.${path.basename(target)}.${process.pid}.${Date.now()}.tmp`);
}

/**
 * Writes through a temp file and renames it over `target`, so readers never see a half-written file and an
 * interrupted run leaves the previous version intact. `write` receives the temp path.
 */
export function writeAtomically(target: string, write: (tempPath: string) => void): void {
  fs.mkdirSync(path.dirname(target), { recursive: true });
  const temp = tempPathFor(target);
  try {
    write(temp);
    fs.renameSync(temp, target);
  } catch (err) {
    fs.rmSync(temp, { force: true });
    throw err;
  }
}

/** Atomic writeFileSync. */
export function writeFileAtomic(target: string, data: string | NodeJS.ArrayBufferView): void {
  writeAtomically(target, (temp) => fs.writeFileSync(temp, data));
}

/** True when `output` exists and is at least as new as every input: the skip rule of every stage. */
export function isUpToDate(output: string, inputs: string[]): boolean {
  if (!fs.existsSync(output)) return false;
  const made = fs.statSync(output).mtimeMs;
  return inputs.every((input) => fs.existsSync(input) && made >= fs.statSync(input).mtimeMs);
}
