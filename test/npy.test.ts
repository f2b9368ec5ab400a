import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { test } from "node:test";
import {
  intMatrix, mapMatrixNpy, matrix, MrlError, readIntMatrixNpy, readLabelsNpy, readMatrixNpy, readNpy, writeAtomically,
  writeIntMatrixNpy, writeLabelsNpy, writeMatrixNpy,
} from "@mrl-retrieval/lib/internal";
import { python, seededFloats, tempDir } from "./helpers";

const dir = tempDir();

test("reads arrays written by numpy: float32 matrix, float64, int64 labels, int32 matrix", () => {
  python(`
import numpy as np, sys
d = sys.argv[1]
x = (np.arange(7 * 5, dtype=np.float32).reshape(7, 5) * 0.25 - 3).astype(np.float32)
np.save(d + "/x.npy", x)
np.save(d + "/x64.npy", x.astype(np.float64))
np.save(d + "/y.npy", (np.arange(7) % 3).astype(np.int64))
np.save(d + "/i32.npy", np.arange(12, dtype=np.int32).reshape(3, 4) - 5)
np.save(d + "/empty.npy", np.zeros((0, 4), dtype=np.float32))
print("{}")`, [dir]);
  const x = readMatrixNpy(path.join(dir, "x.npy"));
  assert.equal(x.rows, 7);
  assert.equal(x.cols, 5);
  assert.ok(x.data instanceof Float32Array);
  x.data.forEach((v, i) => assert.equal(v, i * 0.25 - 3));
  const x64 = readMatrixNpy(path.join(dir, "x64.npy"));
  assert.deepEqual(Array.from(x64.data), Array.from(x.data));
  assert.deepEqual(Array.from(readLabelsNpy(path.join(dir, "y.npy"))), [0, 1, 2, 0, 1, 2, 0]);
  const i32 = readIntMatrixNpy(path.join(dir, "i32.npy"));
  assert.equal(i32.rows, 3);
  assert.deepEqual(Array.from(i32.data), Array.from({ length: 12 }, (_, i) => i - 5));
  const empty = readMatrixNpy(path.join(dir, "empty.npy"));
  assert.equal(empty.rows, 0);
  assert.equal(empty.cols, 4);
});

test("numpy reads what we write: float32 matrix, int64 labels and int64 neighbour ids", () => {
  const values = seededFloats(11 * 6, 7);
  writeMatrixNpy(path.join(dir, "ours-X.npy"), matrix(11, 6, values));
  writeLabelsNpy(path.join(dir, "ours-y.npy"), Int32Array.from([3, 1, 4, 1, 5, 9, 2, 6, 5, 3, 5]));
  writeIntMatrixNpy(path.join(dir, "ours-I.npy"), intMatrix(2, 3, Int32Array.from([0, 5, -1, 2147483647, 7, 8])));
  const got = python<{ dtype: string; shape: number[]; values: number[]; ydtype: string; y: number[]; I: number[][]; Idtype: string; c: boolean }>(`
import numpy as np, sys, json
d = sys.argv[1]
x = np.load(d + "/ours-X.npy"); y = np.load(d + "/ours-y.npy"); I = np.load(d + "/ours-I.npy")
print(json.dumps({"dtype": str(x.dtype), "shape": list(x.shape), "values": x.ravel().tolist(), "c": bool(x.flags["C_CONTIGUOUS"]),
  "ydtype": str(y.dtype), "y": y.tolist(), "I": I.tolist(), "Idtype": str(I.dtype)}))`, [dir]);
  assert.equal(got.dtype, "float32");
  assert.deepEqual(got.shape, [11, 6]);
  assert.ok(got.c);
  assert.deepEqual(got.values, Array.from(values));
  assert.equal(got.ydtype, "int64");
  assert.deepEqual(got.y, [3, 1, 4, 1, 5, 9, 2, 6, 5, 3, 5]);
  assert.equal(got.Idtype, "int64");
  assert.deepEqual(got.I, [[0, 5, -1], [2147483647, 7, 8]]);
  // and our own reader gets the same back
  assert.deepEqual(Array.from(readMatrixNpy(path.join(dir, "ours-X.npy")).data), Array.from(values));
});

/** Asserts that `fn` throws an MrlError whose message names `file` and matches `problem`. */
function assertBadFile(fn: () => unknown, file: string, problem: RegExp): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof MrlError, `expected MrlError, got ${String(err)}`);
    assert.ok(err.message.includes(file), `message should name ${file}: ${err.message}`);
    assert.match(err.message, problem);
    return true;
  });
}

test("a mapped matrix holds numpy's values; writing to it leaves the file as it was; float64 and empty arrays are read", () => {
  python(`
import numpy as np, sys
d = sys.argv[1]
x = np.random.default_rng(3).standard_normal((513, 37)).astype(np.float32)
np.save(d + "/mapped.npy", x)
np.save(d + "/mapped64.npy", x.astype(np.float64))
np.save(d + "/mapped-empty.npy", np.zeros((0, 37), dtype=np.float32))
print("{}")`, [dir]);
  const file = path.join(dir, "mapped.npy"), before = fs.readFileSync(file);
  const mapped = mapMatrixNpy(file), read = readMatrixNpy(file);
  assert.deepEqual([mapped.rows, mapped.cols], [513, 37]);
  assert.deepEqual(mapped.data, read.data, "the mapping gives the values np.save wrote");
  mapped.data[5] = 1234.5; // a private mapping: the change stays in this process
  assert.equal(mapped.data[5], 1234.5);
  assert.ok(fs.readFileSync(file).equals(before), "the file is unchanged");
  assert.deepEqual(mapMatrixNpy(path.join(dir, "mapped64.npy")).data, read.data, "float64 is converted");
  const empty = mapMatrixNpy(path.join(dir, "mapped-empty.npy"));
  assert.deepEqual([empty.rows, empty.data.length], [0, 0]);
  fs.truncateSync(path.join(dir, "mapped64.npy"), 2000);
  assert.throws(() => mapMatrixNpy(path.join(dir, "mapped64.npy")), (e: unknown) => e instanceof MrlError && /mapped64\.npy.*truncated/.test(e.message));
});

test("bad .npy input gets an error naming the file and the problem", () => {
  python(`
import numpy as np, sys
d = sys.argv[1]
np.save(d + "/fortran.npy", np.asfortranarray(np.arange(12, dtype=np.float32).reshape(3, 4)))
np.save(d + "/complex.npy", np.zeros((2, 2), dtype=np.complex64))
np.save(d + "/f16.npy", np.zeros((2, 2), dtype=np.float16))
np.save(d + "/bigendian.npy", np.zeros((2, 2), dtype=">f4"))
np.save(d + "/floatlabels.npy", np.array([0.5, 1.0]))
np.save(d + "/vec.npy", np.zeros(5, dtype=np.float32))
np.save(d + "/full.npy", np.ones((100, 8), dtype=np.float32))
print("{}")`, [dir]);
  const full = fs.readFileSync(path.join(dir, "full.npy"));
  fs.writeFileSync(path.join(dir, "truncated.npy"), full.subarray(0, full.length - 37));
  fs.writeFileSync(path.join(dir, "cut-header.npy"), full.subarray(0, 40));
  const corrupt = Buffer.from(full);
  corrupt.write("{'garbage': 1}".padEnd(60, " "), 10, "latin1");
  fs.writeFileSync(path.join(dir, "corrupt.npy"), corrupt);
  fs.writeFileSync(path.join(dir, "text.npy"), "id,value\n1,2\n");

  const f = (name: string): string => path.join(dir, name);
  assertBadFile(() => readMatrixNpy(f("fortran.npy")), f("fortran.npy"), /Fortran/);
  assertBadFile(() => readMatrixNpy(f("complex.npy")), f("complex.npy"), /unsupported dtype '<c8'/);
  assertBadFile(() => readMatrixNpy(f("f16.npy")), f("f16.npy"), /unsupported dtype '<f2'/);
  assertBadFile(() => readMatrixNpy(f("bigendian.npy")), f("bigendian.npy"), /big-endian/);
  assertBadFile(() => readLabelsNpy(f("floatlabels.npy")), f("floatlabels.npy"), /labels must be integers/);
  assertBadFile(() => readMatrixNpy(f("vec.npy")), f("vec.npy"), /expected a 2-D array.*\(5\)/);
  assertBadFile(() => readMatrixNpy(f("truncated.npy")), f("truncated.npy"), /truncated.*needs 3200 data bytes, file has 3163/);
  assertBadFile(() => readMatrixNpy(f("cut-header.npy")), f("cut-header.npy"), /truncated \.npy header/);
  assertBadFile(() => readMatrixNpy(f("corrupt.npy")), f("corrupt.npy"), /corrupt \.npy header/);
  assertBadFile(() => readNpy(f("text.npy")), f("text.npy"), /not a \.npy file/);
  assertBadFile(() => readNpy(f("missing.npy")), f("missing.npy"), /file not found/);
  assertBadFile(() => readLabelsNpy(f("full.npy")), f("full.npy"), /expected a 1-D label array/);
});

test("atomic writes leave the previous file intact and no temp file when writing fails", () => {
  const target = path.join(dir, "atomic", "kept.npy");
  writeMatrixNpy(target, matrix(1, 2, Float32Array.from([1, 2])));
  const before = fs.readFileSync(target);
  assert.throws(() => writeAtomically(target, (temp) => {
    fs.writeFileSync(temp, "partial");
    throw new Error("disk full");
  }), /disk full/);
  assert.deepEqual(fs.readFileSync(target), before);
  assert.deepEqual(fs.readdirSync(path.dirname(target)), ["kept.npy"]);
});
