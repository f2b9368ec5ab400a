/**
 * ONNX embedding models: loading (with the preprocessing their input shape and model card call for) and
 * batched embedding of an image source into (N, D) features. The only module that imports onnxruntime-node.
 */
import * as fs from "node:fs";
import * as ort from "onnxruntime-node";
import { MrlError } from "../core/errors";
import { matrix, type Matrix } from "../core/matrix";
import { createProgress } from "../core/progress";
import type { ModelKind } from "../experiment/types";
import type { ImageSource, ModelInput } from "./sources";

export const IMAGENET_MEAN = [0.485, 0.456, 0.406];
export const IMAGENET_STD = [0.229, 0.224, 0.225];

/** The optional model card written next to a model (`<model>.json`), e.g. by model-tools/train_fmnist.py. */
export interface ModelCard {
  name?: string;
  kind?: ModelKind;
  nesting?: number[];
  representation_dim?: number;
  preprocessing?: { mean: number[]; std: number[] };
  test_accuracy?: Record<string, number>;
  [key: string]: unknown;
}

export interface EmbeddingModel {
  file: string;
  session: ort.InferenceSession;
  inputName: string;
  outputName: string;
  input: ModelInput;
  card?: ModelCard;
}

/**
 * Loads an ONNX model that maps NCHW float32 images to (N, D) features and decides its preprocessing from
 * the input shape: 3 x 224 x 224 gets the ImageNet eval transform and statistics (unless its card says
 * otherwise); other shapes are resized straight to H x W and use the card's mean/std.
 */
export async function loadEmbeddingModel(file: string): Promise<EmbeddingModel> {
  if (!fs.existsSync(file)) throw new MrlError("model file not found; expected an ONNX model file (.onnx)", file);
  let session: ort.InferenceSession;
  try {
    session = await ort.InferenceSession.create(file, { graphOptimizationLevel: "all" });
  } catch (err) {
    throw new MrlError(`cannot load ONNX model: ${(err as Error).message}`, file);
  }
  // The card is <model>.json; a model not named *.onnx has none (replace() would return the model file itself).
  const cardFile = file.replace(/\.onnx$/i, ".json");
  let card: ModelCard | undefined;
  if (cardFile !== file && fs.existsSync(cardFile)) {
    try {
      card = JSON.parse(fs.readFileSync(cardFile, "utf8")) as ModelCard;
    } catch (err) {
      throw new MrlError(`cannot read the model card: ${(err as Error).message}`, cardFile);
    }
  }
  const meta = session.inputMetadata[0];
  const outMeta = session.outputMetadata[0];
  if (!meta?.isTensor || meta.shape.length !== 4) {
    throw new MrlError(`expected one NCHW image input, got ${meta?.isTensor ? `shape [${meta.shape.join(", ")}]` : "a non-tensor input"}`, file);
  }
  if (outMeta?.isTensor && outMeta.shape.length !== 2) {
    throw new MrlError(`expected a 2-D (batch, features) output, got shape [${outMeta.shape.join(", ")}]; export the pooled features, not a feature map`, file);
  }
  const [, c, h, w] = meta.shape;
  if (typeof c !== "number" || typeof h !== "number" || typeof w !== "number") {
    throw new MrlError(`input shape [${meta.shape.join(", ")}] must have fixed channels, height and width`, file);
  }
  const imagenet = c === 3 && h === 224 && w === 224;
  const mean = card?.preprocessing?.mean ?? (c === 3 ? IMAGENET_MEAN : [0.5]);
  const std = card?.preprocessing?.std ?? (c === 3 ? IMAGENET_STD : [0.5]);
  if (mean.length !== c || std.length !== c) throw new MrlError(`card mean/std have ${mean.length} values, the model has ${c} channels`, cardFile);
  return {
    file, session, card, inputName: meta.name, outputName: outMeta.name,
    input: { channels: c, height: h, width: w, mean, std, resize: imagenet ? "imagenet" : "resize" },
  };
}

export interface EmbedOptions {
  batchSize?: number;
  /** Embed only the first `limit` items (quick runs and tests). */
  limit?: number;
  /** Label shown in the progress line. */
  label?: string;
  quiet?: boolean;
  /** Items start..end-1 only (a shard's; start on a whole batch, so the batches, and floats, are a whole run's). */
  range?: { start: number; end: number };
}

/** Runs the model over a source in batches; returns (N, D) features and the N labels. */
export async function embed(model: EmbeddingModel, source: ImageSource, options: EmbedOptions = {}): Promise<{ vectors: Matrix; labels: Int32Array }> {
  const n = Math.min(source.size, options.limit ?? source.size);
  const batchSize = options.batchSize ?? 256;
  const first = options.range?.start ?? 0, last = Math.min(n, options.range?.end ?? n);
  const { channels, height, width } = model.input;
  const perImage = channels * height * width;
  const progress = createProgress(options.label ?? `embed ${source.location}`, last - first, { quiet: options.quiet });
  let out: Float32Array | undefined;
  let dim = 0;
  const batch = new Float32Array(batchSize * perImage);
  for (let start = first; start < last; start += batchSize) {
    const end = Math.min(last, start + batchSize);
    const view = batch.subarray(0, (end - start) * perImage);
    await source.loadBatch(start, end, model.input, view);
    const feeds = { [model.inputName]: new ort.Tensor("float32", view, [end - start, channels, height, width]) };
    const result = (await model.session.run(feeds))[model.outputName];
    if (result.dims.length !== 2) {
      throw new MrlError(`model output has shape [${result.dims.join(", ")}], expected (batch, features)`, model.file);
    }
    // Copying e.g. float16 data (a Uint16Array) into the Float32Array would silently give garbage.
    if (result.type !== "float32") throw new MrlError(`model output is ${result.type}, expected float32`, model.file);
    if (!out) {
      dim = result.dims[1];
      out = new Float32Array((last - first) * dim);
    }
    out.set(result.data as Float32Array, (start - first) * dim);
    progress.tick(end - start);
  }
  progress.done();
  return { vectors: matrix(last - first, dim, out ?? new Float32Array(0)), labels: source.labels.slice(first, last) };
}

