import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { test } from "node:test";
import { intMatrix, MrlError, readShortlistCsv, writeShortlistCsv } from "@mrl-retrieval/lib/internal";
import { python, tempDir } from "./helpers";

const dir = tempDir();

test("our shortlist CSV is byte-identical to pandas' to_csv(header=None, index=None) and reads back in pandas", () => {
  const rows = 37, cols = 13;
  const ids = Int32Array.from({ length: rows * cols }, (_, i) => (i * 7919) % 60000);
  ids[5] = -1; // FAISS's "no neighbour"
  const ours = path.join(dir, "ours.csv");
  writeShortlistCsv(ours, intMatrix(rows, cols, ids));
  const got = python<{ same: boolean; shape: number[]; values: number[] }>(`
import numpy as np, pandas as pd, sys, json
d = sys.argv[1]
I = (np.arange(37 * 13, dtype=np.int64) * 7919 % 60000).reshape(37, 13)
I[0, 5] = -1
pd.DataFrame(I).to_csv(d + "/pandas.csv", header=None, index=None)
back = pd.read_csv(d + "/ours.csv", header=None)
print(json.dumps({"same": open(d + "/pandas.csv", "rb").read() == open(d + "/ours.csv", "rb").read(),
  "shape": list(back.shape), "values": back.values.ravel().tolist()}))`, [dir]);
  assert.ok(got.same, "bytes differ from pandas");
  assert.deepEqual(got.shape, [rows, cols]);
  assert.deepEqual(got.values, Array.from(ids));
  const back = readShortlistCsv(path.join(dir, "pandas.csv"));
  assert.equal(back.rows, rows);
  assert.equal(back.cols, cols);
  assert.deepEqual(Array.from(back.data), Array.from(ids));
});

test("reads CRLF line ends, spaces around fields and a missing final newline", () => {
  const file = path.join(dir, "crlf.csv");
  fs.writeFileSync(file, "1,2,3\r\n4, 5 ,6");
  const m = readShortlistCsv(file);
  assert.deepEqual([m.rows, m.cols, ...m.data], [2, 3, 1, 2, 3, 4, 5, 6]);
});

test("reads only the first columns when asked, and files larger than one read buffer", () => {
  const file = path.join(dir, "wide.csv");
  const rows = 3000, cols = 2048; // about 20 MB: more than one 8 MiB read
  const m = intMatrix(rows, cols, Int32Array.from({ length: rows * cols }, (_, i) => (i * 7919) % 1_000_003 - (i % 5 === 0 ? 1 : 0)));
  writeShortlistCsv(file, m);
  const all = readShortlistCsv(file);
  assert.deepEqual([all.rows, all.cols], [rows, cols]);
  assert.deepEqual(all.data, m.data);
  for (const columns of [1, 100, 2047, 5000]) {
    const first = readShortlistCsv(file, { columns });
    const kept = Math.min(columns, cols);
    assert.deepEqual([first.rows, first.cols], [rows, kept]);
    for (const r of [0, 1, 1234, rows - 1]) assert.deepEqual(first.data.subarray(r * kept, (r + 1) * kept), m.data.subarray(r * cols, r * cols + kept));
  }
  // a short line is still found when only the first columns are read
  fs.writeFileSync(path.join(dir, "short-line.csv"), "1,2,3,4\n5,6\n");
  assert.throws(() => readShortlistCsv(path.join(dir, "short-line.csv"), { columns: 3 }), /ragged CSV: line 2 has 2 values, line 1 has 4/);
  fs.writeFileSync(path.join(dir, "blank-inside.csv"), "1,2\n\n3,4\n");
  assert.throws(() => readShortlistCsv(path.join(dir, "blank-inside.csv")), /line 2 is empty/);
});

test("bad CSV input gets an error naming the file, the line and the problem", () => {
  const cases: Array<[string, string, RegExp]> = [
    ["ragged-short.csv", "1,2,3\n4,5\n", /ragged CSV: line 2 has 2 values, line 1 has 3/],
    ["ragged-long.csv", "1,2\n3,4,5\n", /ragged CSV: line 2 has more than 2 values/],
    ["float.csv", "1,2\n3,4.5\n", /line 2, column 2: "4.5" is not an integer/],
    ["header.csv", "a,b\n1,2\n", /line 1, column 1: "a" is not an integer/],
    ["emptyfield.csv", "1,,3\n", /line 1, column 2: "" is not an integer/],
    ["huge.csv", "1,99999999999\n", /does not fit in int32/],
    ["empty.csv", "\n\n", /empty CSV file/],
    ["space-inside.csv", "1 2,3\n", /line 1, column 1: "1 2" has a space inside the number/],
    ["space-after-sign.csv", "- 5,3\n", /line 1, column 1: "- 5" has a space inside the number/],
  ];
  for (const [name, text, problem] of cases) {
    const file = path.join(dir, name);
    fs.writeFileSync(file, text);
    assert.throws(() => readShortlistCsv(file), (err: unknown) => {
      assert.ok(err instanceof MrlError);
      assert.ok(err.message.startsWith(file), err.message);
      assert.match(err.message, problem);
      return true;
    }, name);
  }
  assert.throws(() => readShortlistCsv(path.join(dir, "nope.csv")), /nope\.csv: file not found/);
});
