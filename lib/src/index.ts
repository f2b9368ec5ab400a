/**
 * mrl-retrieval: Matryoshka Representation Learning retrieval — inference, FAISS index/search, adaptive and
 * funnel retrieval, metrics and figures. Notebooks and the CLI import everything from here.
 */
export * from "./errors";
export * from "./matrix";
export * from "./atomic";
export * from "./manifest";
export * from "./validate";
export * from "./npy";
export * from "./csv";
export * from "./naming";
export * from "./progress";
export * from "./notebooks";
export * from "./faiss";
export * from "./datasets";
export * from "./inference";
export * from "./config";
export * from "./search";
export * from "./rerank";
export * from "./metrics";
export * from "./evaluate";
export * from "./tables";
export * from "./pipeline";
export * from "./figures";
export * from "./render";
export * from "./gallery";
export * from "./report";
export * from "./parallel";
export * from "./rerankKernel";
export * from "./npystream";
export * from "./shortlist";
export * from "./wasmDot";
