/**
 * Image sources for inference: Fashion-MNIST from Debian's IDX files, and ImageNet-style folders
 * (one sub-folder per class, JPEG/PNG). Each source turns a range of items into the model's input tensor;
 * which preprocessing applies is decided by the model's input shape (see ModelInput).
 */
import * as fs from "node:fs";
import * as path from "node:path";
import * as zlib from "node:zlib";
import sharp from "sharp";
import { MrlError } from "../core/errors";
import { decodeForModel } from "./decode";

/** What the model takes: NCHW float32 of channels x height x width, normalized with mean/std per channel. */
export interface ModelInput {
  channels: number;
  height: number;
  width: number;
  mean: number[];
  std: number[];
  /** "imagenet": resize shorter side to 256, center crop 224 (the original MRL eval transform); "resize": straight to H x W. */
  resize: "imagenet" | "resize";
}

export interface ImageSource {
  /** Where the images come from, for messages. */
  readonly location: string;
  readonly size: number;
  /** Class index per item (torchvision ImageFolder order: sorted class names). */
  readonly labels: Int32Array;
  readonly classes: string[];
  /** Writes items [start, end) preprocessed for `input` into `out` (NCHW, (end-start) * C*H*W floats). */
  loadBatch(start: number, end: number, input: ModelInput, out: Float32Array): Promise<void>;
  /** Item `index` as a `size` x `size` PNG for galleries (optional: sources without it show placeholders). */
  previewPng?(index: number, size: number): Promise<Buffer>;
}

function checkItem(index: number, size: number, location: string): void {
  if (!Number.isInteger(index) || index < 0 || index >= size) throw new MrlError(`item ${index} is outside 0..${size - 1}`, location);
}

export const FMNIST_DIR = "/usr/share/datasets/fashion-mnist";
export const FMNIST_CLASSES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"];

/** Reads a (gzipped) IDX file: magic 0x0000 08 <ndim>, big-endian dims, then uint8 data. */
export function readIdx(file: string): { shape: number[]; data: Uint8Array } {
  if (!fs.existsSync(file)) {
    throw new MrlError("file not found (Fashion-MNIST comes from the Debian package dataset-fashion-mnist; run `npm run setup`)", file);
  }
  let bytes: Buffer = fs.readFileSync(file);
  if (bytes[0] === 0x1f && bytes[1] === 0x8b) {
    try {
      bytes = zlib.gunzipSync(bytes);
    } catch (err) {
      throw new MrlError(`corrupt gzip data: ${(err as Error).message}`, file);
    }
  }
  if (bytes.length < 4 || bytes[0] !== 0 || bytes[1] !== 0 || bytes[2] !== 0x08) {
    throw new MrlError("not a uint8 IDX file (bad magic number)", file);
  }
  const ndim = bytes[3];
  const shape = Array.from({ length: ndim }, (_, i) => bytes.readUInt32BE(4 + 4 * i));
  const count = shape.reduce((a, b) => a * b, 1);
  const offset = 4 + 4 * ndim;
  if (bytes.length - offset < count) throw new MrlError(`truncated IDX file: expected ${count} bytes of data, found ${bytes.length - offset}`, file);
  return { shape, data: new Uint8Array(bytes.buffer, bytes.byteOffset + offset, count) };
}

/** Fashion-MNIST "train" (60k, the database) or "test" (10k, the queries) from the IDX files. */
export function fashionMnist(split: "train" | "test", dir = FMNIST_DIR): ImageSource {
  const prefix = split === "train" ? "train" : "t10k";
  const images = readIdx(path.join(dir, `${prefix}-images-idx3-ubyte.gz`));
  const labelsIdx = readIdx(path.join(dir, `${prefix}-labels-idx1-ubyte.gz`));
  const [n, h, w] = images.shape;
  if (images.shape.length !== 3 || labelsIdx.shape[0] !== n) {
    throw new MrlError(`images (${images.shape.join("x")}) and labels (${labelsIdx.shape.join("x")}) do not match`, dir);
  }
  const labels = Int32Array.from(labelsIdx.data);
  const location = path.join(dir, `${prefix}-images-idx3-ubyte.gz`);
  return {
    location, size: n, labels, classes: FMNIST_CLASSES,
    async loadBatch(start, end, input, out) {
      if (input.channels !== 1 || input.height !== h || input.width !== w) {
        throw new MrlError(`the model expects ${input.channels}x${input.height}x${input.width} input, but Fashion-MNIST ` +
          `images are 1x${h}x${w} grayscale; use a model exported for Fashion-MNIST (e.g. data/models/fmnist_mrl_cnn.onnx)`, location);
      }
      const pixels = h * w;
      const scale = 1 / (255 * input.std[0]);
      const shift = input.mean[0] / input.std[0];
      for (let i = start; i < end; i++) {
        const src = images.data.subarray(i * pixels, (i + 1) * pixels);
        const dst = (i - start) * pixels;
        for (let p = 0; p < pixels; p++) out[dst + p] = src[p] * scale - shift;
      }
    },
    async previewPng(index, size) {
      checkItem(index, n, location);
      const raw = Buffer.from(images.data.subarray(index * h * w, (index + 1) * h * w));
      // Nearest-neighbour upscaling keeps the 28x28 pixels crisp instead of blurring them.
      return sharp(raw, { raw: { width: w, height: h, channels: 1 } }).resize(size, size, { kernel: "nearest" }).png().toBuffer();
    },
  };
}

const IMAGE_EXTENSIONS = new Set([".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff"]);

/** An ImageNet-style folder: `dir/<class>/<image>`; classes sorted by name, files sorted within a class. */
export function imageFolder(dir: string): ImageSource {
  if (!fs.existsSync(dir) || !fs.statSync(dir).isDirectory()) throw new MrlError("image folder not found", dir);
  // Symlinked class folders count too, as in torchvision (os.scandir's is_dir() follows links): subsets of
  // ImageNet are often built from links, and skipping them would shift every later label.
  const isDir = (e: fs.Dirent) =>
    e.isDirectory() || (e.isSymbolicLink() && fs.statSync(path.join(dir, e.name), { throwIfNoEntry: false })?.isDirectory() === true);
  const classes = fs.readdirSync(dir, { withFileTypes: true }).filter(isDir).map((e) => e.name).sort();
  const files: string[] = [];
  const labels: number[] = [];
  classes.forEach((cls, label) => {
    for (const name of fs.readdirSync(path.join(dir, cls)).sort()) {
      if (IMAGE_EXTENSIONS.has(path.extname(name).toLowerCase())) {
        files.push(path.join(dir, cls, name));
        labels.push(label);
      }
    }
  });
  if (classes.length === 0) throw new MrlError("no class sub-folders; expected <dir>/<class>/<image>.jpg", dir);
  if (files.length === 0) {
    throw new MrlError(`no images in the ${classes.length} class folders; expected <dir>/<class>/<image> files ending in ${[...IMAGE_EXTENSIONS].join(", ")}`, dir);
  }
  return {
    location: dir, size: files.length, labels: Int32Array.from(labels), classes,
    async loadBatch(start, end, input, out) {
      const plane = input.height * input.width;
      const decoded = await Promise.all(files.slice(start, end).map((f) => decodeForModel(f, input)));
      decoded.forEach((pixels, b) => {
        const base = b * input.channels * plane;
        for (let c = 0; c < input.channels; c++) {
          const scale = 1 / (255 * input.std[c]);
          const shift = input.mean[c] / input.std[c];
          for (let p = 0; p < plane; p++) out[base + c * plane + p] = pixels[p * input.channels + c] * scale - shift;
        }
      });
    },
    async previewPng(index, size) {
      checkItem(index, files.length, dir);
      try {
        return await sharp(files[index]).rotate().resize(size, size, { fit: "cover" }).png().toBuffer();
      } catch (err) {
        throw new MrlError(`cannot decode image: ${(err as Error).message}`, files[index]);
      }
    },
  };
}

/** A source cut to its first `n` items (quick runs and tests). */
export function firstItems(source: ImageSource, n: number): ImageSource {
  if (n >= source.size) return source;
  return { ...source, size: n, labels: source.labels.slice(0, n), loadBatch: source.loadBatch.bind(source) };
}

/**
 * The images a source string names: "fashion-mnist:train" / "fashion-mnist:test" (Debian's
 * dataset-fashion-mnist) or an ImageNet-style folder (<dir>/<class>/<image>).
 */
export function imageSource(name: string): ImageSource {
  if (name === "fashion-mnist:train") return fashionMnist("train");
  if (name === "fashion-mnist:test") return fashionMnist("test");
  return imageFolder(name);
}
