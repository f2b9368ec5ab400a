// The out-of-core search's block reader (io/database.ts BlockReader): blocks read ahead on a thread, pass after
// pass, equal the rows readBlock gives (whole rows and prefixes, the last block short, blocks asked out of order);
// a file shorter than its header is one error naming it.
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { test } from "node:test";
import { DatabaseVectors, matrix, MrlError, seededUniform, writeMatrixNpy } from "@mrl-retrieval/lib/internal";
import { tempDir } from "./helpers";

const ROWS = 5000, COLS = 96;
const dir = tempDir("mrl-blocks-");
const file = path.join(dir, "db.npy");
writeMatrixNpy(file, matrix(ROWS, COLS, seededUniform(ROWS * COLS, 3, -1, 1)));
const db = new DatabaseVectors(file, ROWS, COLS, false);

test("blocks read ahead equal readBlock's rows: every pass, whole rows and prefixes, the last block short", () => {
  for (const [blockRows, dims, passes] of [[1024, COLS, 3], [1024, 8, 2], [700, 33, 1], [ROWS, COLS, 2]] as const) {
    const reader = db.blockReader(blockRows, dims, passes)!;
    try {
      for (let pass = 0; pass < passes; pass++) {
        for (let start = 0; start < ROWS; start += blockRows) {
          const end = Math.min(ROWS, start + blockRows);
          const got = reader.read(start, end);
          assert.deepEqual([got.rows, got.cols], [end - start, dims]);
          assert.deepEqual(got.data, db.readBlock(start, end, dims).data, `rows ${start}..${end} x ${dims}, pass ${pass}`);
        }
      }
      // a block other than the one read ahead is read at once
      assert.deepEqual(reader.read(2000, 2100).data, db.readBlock(2000, 2100, dims).data, "out of order");
    } finally {
      reader.close();
    }
  }
});

test("a file shorter than its header says is one error naming it", () => {
  const short = path.join(dir, "short.npy");
  fs.copyFileSync(file, short);
  fs.truncateSync(short, fs.statSync(file).size - 10 * COLS * 4);
  const reader = new DatabaseVectors(short, ROWS, COLS, false).blockReader(2048, COLS, 1)!;
  try {
    reader.read(0, 2048);
    reader.read(2048, 4096);
    assert.throws(() => reader.read(4096, ROWS), (e: unknown) => e instanceof MrlError && e.message.includes("short.npy") &&
      /unexpected end of file: row 4990 is not all there/.test(e.message));
  } finally {
    reader.close();
  }
});
