/**
 * The one .npy module, interoperable with numpy both ways. Split by job, each part depending only on the ones
 * before it: npy/header.ts (parse and write the header), npy/file.ts (open a file, its checks, exact reads),
 * npy/read.ts (whole arrays, row blocks, dim prefixes, shortlists), npy/write.ts (whole, streamed, shortlists).
 */
export { npyHeaderBytes, parseNpyHeader, type NpyHeader } from "./npy/header";
export { HUGE_PAGE_MIN_BYTES, STREAM_BUFFER_BYTES, npyShape, openNpy, readFully, type NpyFile } from "./npy/file";
export {
  mapMatrixNpy, npyRowBlocks, readIntMatrixNpy, readLabelsNpy, readMatrixNpy, readMatrixPrefixNpy, readNpy, readShortlistNpy,
  type NpyArray, type NpyData, type ReadPrefixOptions, type RowBlock, type RowBlockOptions,
} from "./npy/read";
export { writeIntMatrixNpy, writeLabelsNpy, writeMatrixNpy, writeMatrixNpyStreaming, writeShortlistNpy } from "./npy/write";
