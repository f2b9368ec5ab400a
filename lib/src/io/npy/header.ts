/**
 * The .npy header, both ways: parsing and validating one (every reader starts here), and writing the version 1.0
 * header numpy writes for a C-order array. Knows no files: bytes in, bytes out.
 */
import { MrlError } from "../../core/errors";

/** Bytes per element of the element types this project reads; everything else is rejected with a clear error. */
export const ITEM_SIZE: Record<string, number> = { f4: 4, f8: 8, i4: 4, i8: 8, u1: 1, i1: 1 };

/** The parsed header of a .npy file. */
export interface NpyHeader {
  dtype: string;
  shape: number[];
  fortranOrder: boolean;
  /** Byte offset of the first element. */
  dataOffset: number;
  /** Bytes of element data the shape calls for. */
  dataBytes: number;
}

const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]; // \x93NUMPY

/**
 * Parses and validates the header at the start of `bytes` (the whole file or at least its header).
 * Throws MrlError naming `file` for: not an .npy file, corrupt header, big-endian or unsupported dtype,
 * Fortran order.
 */
export function parseNpyHeader(bytes: Uint8Array, file: string): NpyHeader {
  if (bytes.length < 10 || MAGIC.some((b, i) => bytes[i] !== b)) {
    throw new MrlError("not a .npy file (missing the \\x93NUMPY magic bytes)", file);
  }
  const major = bytes[6];
  if (major < 1 || major > 3) throw new MrlError(`unsupported .npy format version ${major}.${bytes[7]}`, file);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const lenBytes = major === 1 ? 2 : 4;
  if (bytes.length < 8 + lenBytes) throw new MrlError("truncated .npy header", file);
  const headerLen = major === 1 ? view.getUint16(8, true) : view.getUint32(8, true);
  const dataOffset = 8 + lenBytes + headerLen;
  if (bytes.length < dataOffset) {
    throw new MrlError(`truncated .npy header (header says ${headerLen} bytes, file has ${bytes.length - 8 - lenBytes})`, file);
  }
  const dict = new TextDecoder(major === 3 ? "utf-8" : "latin1").decode(bytes.subarray(8 + lenBytes, dataOffset));
  const descr = /'descr'\s*:\s*'([^']*)'/.exec(dict)?.[1];
  const fortran = /'fortran_order'\s*:\s*(True|False)/.exec(dict)?.[1];
  const shapeText = /'shape'\s*:\s*\(([^)]*)\)/.exec(dict)?.[1];
  if (descr === undefined || fortran === undefined || shapeText === undefined) {
    throw new MrlError(`corrupt .npy header (expected 'descr', 'fortran_order' and 'shape'): ${JSON.stringify(dict.trim())}`, file);
  }
  const shapeParts = shapeText.split(",").map((s) => s.trim()).filter((s) => s.length > 0);
  const shape = shapeParts.map(Number);
  if (shape.some((n) => !Number.isInteger(n) || n < 0)) {
    throw new MrlError(`corrupt .npy header: bad shape (${shapeText})`, file);
  }
  if (descr.startsWith(">") && !descr.endsWith("1")) {
    throw new MrlError(`big-endian dtype '${descr}' is not supported; save with arr.astype('<${descr.slice(1)}')`, file);
  }
  const dtype = descr.replace(/^[<|=]/, "");
  const itemSize = ITEM_SIZE[dtype];
  if (itemSize === undefined) {
    throw new MrlError(`unsupported dtype '${descr}'; expected float32 ('<f4'), float64, int32, int64 or uint8`, file);
  }
  if (fortran === "True") {
    throw new MrlError("Fortran-order arrays are not supported; expected C order: save with np.save(path, np.ascontiguousarray(arr))", file);
  }
  const count = shape.reduce((a, b) => a * b, 1);
  return { dtype, shape, fortranOrder: false, dataOffset, dataBytes: count * itemSize };
}

/** A version 1.0 .npy header for a C-order array, padded so the data starts at a multiple of 64 bytes. */
export function npyHeaderBytes(descr: "<f4" | "<i4" | "<i8", shape: number[]): Uint8Array {
  const shapeText = shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(", ")})`;
  const dict = `{'descr': '${descr}', 'fortran_order': False, 'shape': ${shapeText}, }`;
  const total = Math.ceil((10 + dict.length + 1) / 64) * 64;
  const out = new Uint8Array(total);
  out.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0]);
  new DataView(out.buffer).setUint16(8, total - 10, true);
  const text = dict.padEnd(total - 11, " ") + "\n";
  for (let i = 0; i < text.length; i++) out[10 + i] = text.charCodeAt(i);
  return out;
}
