/**
 * Shortlist files in either format, chosen by extension: `.csv` (headerless, as pandas' to_csv writes it)
 * or `.npy` (binary int32, np.load-able; int64 files from Python are read too). Stages call these, so the
 * format follows from the artifact names (ArtifactSpec.shortlistFormat).
 */
import { readShortlistCsv, writeShortlistCsv } from "./csv";
import type { IntMatrix } from "./matrix";
import { readShortlistNpy, writeShortlistNpy } from "./npystream";

const isNpy = (file: string): boolean => file.toLowerCase().endsWith(".npy");

/** Writes neighbour ids atomically as .npy (int32) or CSV, by the file's extension. */
export function writeShortlist(file: string, m: IntMatrix): void {
  if (isNpy(file)) writeShortlistNpy(file, m);
  else writeShortlistCsv(file, m);
}

/** Reads a .npy or CSV shortlist, by the file's extension. */
export function readShortlist(file: string): IntMatrix {
  return isNpy(file) ? readShortlistNpy(file) : readShortlistCsv(file);
}
