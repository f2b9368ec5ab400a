/**
 * Writing .npy files numpy reads (np.load): whole arrays through npyjs, float32 arrays too large to hold block by
 * block, and binary shortlists as int32 / int64 in one write. Every write is atomic (a temp file renamed at the end).
 */
import * as fs from "node:fs";
import { dump, type DType } from "npyjs";
import { writeAtomically, writeFileAtomic } from "../../core/atomic";
import { check } from "../../core/errors";
import { matrix, type IntMatrix, type Matrix } from "../../core/matrix";
import { STREAM_BUFFER_BYTES } from "./file";
import { npyHeaderBytes } from "./header";

function writeNpy(file: string, data: Float32Array | BigInt64Array | Int32Array, shape: number[], dtype: DType): void {
  const buffer = dump(data, shape, { dtype });
  writeFileAtomic(file, new Uint8Array(buffer));
}

/** Writes a float32 matrix as a C-order '<f4' array (np.load gives shape (rows, cols)). */
export function writeMatrixNpy(file: string, m: Matrix): void {
  writeNpy(file, m.data, [m.rows, m.cols], "f4");
}

/** Writes labels as int64, the dtype PyTorch/numpy pipelines produce. */
export function writeLabelsNpy(file: string, labels: Int32Array): void {
  writeNpy(file, BigInt64Array.from(labels, (v) => BigInt(v)), [labels.length], "i8");
}

/** Writes an integer matrix as int64, like FAISS's I array. */
export function writeIntMatrixNpy(file: string, m: IntMatrix): void {
  writeNpy(file, BigInt64Array.from(m.data, (v) => BigInt(v)), [m.rows, m.cols], "i8");
}

/**
 * Writes a rows x cols float32 .npy file block by block (atomically: temp file renamed at the end), for
 * arrays too large to hold: `fill(start, block)` fills rows start.. of a reused block.
 */
export function writeMatrixNpyStreaming(file: string, rows: number, cols: number,
  fill: (start: number, block: Matrix) => void, blockRows = Math.max(1, Math.floor(STREAM_BUFFER_BYTES / (cols * 4)))): void {
  check(Number.isInteger(rows) && rows >= 0 && Number.isInteger(cols) && cols > 0, `invalid shape ${rows} x ${cols}`, file);
  writeAtomically(file, (temp) => {
    const fd = fs.openSync(temp, "w");
    try {
      const header = npyHeaderBytes("<f4", [rows, cols]);
      fs.writeSync(fd, header);
      const buffer = new Float32Array(Math.min(rows, blockRows) * cols);
      let position = header.length;
      for (let start = 0; start < rows; start += blockRows) {
        const count = Math.min(blockRows, rows - start);
        const block = matrix(count, cols, buffer.subarray(0, count * cols));
        fill(start, block);
        const bytes = new Uint8Array(block.data.buffer, block.data.byteOffset, block.data.byteLength);
        let done = 0;
        while (done < bytes.length) done += fs.writeSync(fd, bytes, done, bytes.length - done, position + done);
        position += bytes.length;
      }
    } finally {
      fs.closeSync(fd);
    }
  });
}

/**
 * Writes neighbour ids as a binary .npy shortlist (np.load gives the (nq, k) array): int32 (default, half
 * the size) or int64 (FAISS's own I dtype). One write of the raw bytes, no per-element formatting.
 */
export function writeShortlistNpy(file: string, m: IntMatrix, dtype: "i4" | "i8" = "i4"): void {
  const header = npyHeaderBytes(dtype === "i4" ? "<i4" : "<i8", [m.rows, m.cols]);
  let payload: Uint8Array;
  if (dtype === "i4") {
    payload = new Uint8Array(m.data.buffer, m.data.byteOffset, m.data.byteLength);
  } else {
    // little-endian int64 = (low word, sign-extended high word)
    const wide = new Int32Array(m.data.length * 2);
    for (let i = 0; i < m.data.length; i++) {
      wide[2 * i] = m.data[i];
      wide[2 * i + 1] = m.data[i] < 0 ? -1 : 0;
    }
    payload = new Uint8Array(wide.buffer);
  }
  writeAtomically(file, (temp) => {
    const fd = fs.openSync(temp, "w");
    try {
      fs.writeSync(fd, header);
      let done = 0;
      while (done < payload.length) done += fs.writeSync(fd, payload, done, payload.length - done);
    } finally {
      fs.closeSync(fd);
    }
  });
}
