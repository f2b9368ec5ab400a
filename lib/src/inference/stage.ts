/**
 * Stage 1 runner (inference): embed a database (train split) and queries (val split) with an ONNX MRL model,
 * writing `<DATASET>_{train,val}_<config>-{X,y}.npy` like the original `pytorch_inference.py --retrieval`.
 */
import * as fs from "node:fs";
import { checkFinite } from "../core/checks";
import { MrlError } from "../core/errors";
import type { ModelKind } from "../experiment/types";
import { isFresh, recordArtifact, type StageConfig } from "../io/manifest";
import { arrayFiles } from "../io/naming";
import { writeLabelsNpy, writeMatrixNpy } from "../io/npy";
import { embed, loadEmbeddingModel } from "./model";
import type { ImageSource } from "./sources";

export interface RetrievalInferenceConfig {
  modelFile: string;
  /** "mrl" or "ff": picks the original's config string in the file names. */
  modelKind: ModelKind;
  /** Dataset tag used in file names, e.g. "FMNIST" or "1K". */
  dataset: string;
  database: ImageSource;
  queries: ImageSource;
  /** The retrieval array folder (the original's inference_array root). */
  root: string;
  batchSize?: number;
  /** Limit items per split (quick configurations). */
  limit?: number;
  /** Recompute even when the four arrays exist and are newer than the model. */
  force?: boolean;
  quiet?: boolean;
}

export interface RetrievalInferenceResult {
  files: { databaseX: string; databaseY: string; queriesX: string; queriesY: string };
  /** Images per second per split (NaN for a split that was up to date), or undefined when all were. */
  imagesPerSecond?: { database: number; queries: number };
  skipped: boolean;
}

/**
 * Embeds database (train split) and queries (val split) and writes the four .npy arrays atomically. A split
 * whose two arrays have matching manifest entries (same model file and card, same source and item count) is
 * skipped, so a run interrupted after the database resumes with the queries.
 */
export async function runRetrievalInference(config: RetrievalInferenceConfig): Promise<RetrievalInferenceResult> {
  const { files, splits } = inferenceSplits(config);
  if (splits.every((s) => s.fresh)) return { files, skipped: true };

  const model = await loadEmbeddingModel(config.modelFile);
  const rates: number[] = [];
  for (const s of splits) {
    if (s.fresh) {
      rates.push(NaN);
      continue;
    }
    const t0 = performance.now();
    const { vectors, labels } = await embed(model, s.source, {
      batchSize: config.batchSize, limit: config.limit, quiet: config.quiet, label: `${config.dataset} ${s.split}`,
    });
    rates.push(vectors.rows / ((performance.now() - t0) / 1000));
    checkFinite(vectors, `${config.modelFile} output for ${s.source.location}`);
    writeMatrixNpy(s.xFile, vectors);
    writeLabelsNpy(s.yFile, labels);
    recordArtifact(s.xFile, "inference", s.stageConfig, s.inputs);
    recordArtifact(s.yFile, "inference", s.stageConfig, s.inputs);
  }
  return { files, imagesPerSecond: { database: rates[0], queries: rates[1] }, skipped: false };
}

/** One split of the stage: its source, files, what its manifest entries record, and whether they are up to date. */
export interface InferenceSplit {
  split: "train" | "val";
  source: ImageSource;
  /** Items embedded (the source's size, cut to the limit). */
  items: number;
  xFile: string;
  yFile: string;
  stageConfig: StageConfig;
  inputs: string[];
  fresh: boolean;
}

/** The database (train) and query (val) splits of the stage, checked (the model file exists). */
export function inferenceSplits(config: RetrievalInferenceConfig): { files: RetrievalInferenceResult["files"]; splits: InferenceSplit[] } {
  const files = arrayFiles(config.root, config.dataset, config.modelKind);
  if (!fs.existsSync(config.modelFile)) {
    throw new MrlError("model file not found; expected an ONNX model mapping NCHW images to (batch, features), " +
      "e.g. data/models/fmnist_mrl_cnn.onnx", config.modelFile);
  }
  // The card sets the preprocessing, so it is an input too.
  const card = config.modelFile.replace(/\.onnx$/i, ".json");
  const modelInputs = [config.modelFile, ...(card !== config.modelFile && fs.existsSync(card) ? [card] : [])];
  const splits = ([
    ["train", config.database, files.databaseX, files.databaseY],
    ["val", config.queries, files.queriesX, files.queriesY],
  ] as const).map(([split, source, xFile, yFile]) => {
    const items = Math.min(source.size, config.limit ?? source.size);
    const stageConfig = { model: config.modelKind, dataset: config.dataset, split, source: source.location, items, classes: source.classes.length };
    const inputs = [...modelInputs, ...(fs.statSync(source.location, { throwIfNoEntry: false })?.isFile() ? [source.location] : [])];
    const fresh = !config.force && [xFile, yFile].every((f) => isFresh(f, "inference", stageConfig, inputs));
    return { split, source, items, xFile, yFile, stageConfig, inputs, fresh };
  });
  return { files, splits };
}
