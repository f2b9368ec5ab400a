/**
 * One image file to the model's input pixels, exactly as the original's torchvision eval transform makes them:
 * sharp decodes, then a port of Pillow's bilinear resampler resizes (and center-crops) the way PIL does.
 */
import sharp from "sharp";
import { MrlError } from "../core/errors";
import type { ModelInput } from "./sources";

/**
 * Python's round(): halves go to the even neighbour. torchvision's CenterCrop offset is
 * int(round((size - crop) / 2)), so e.g. 341 -> 224 starts at 58, where Math.round would give 59.
 */
function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** Fixed-point weights of PIL's 8-bit resampler (Resample.c: PRECISION_BITS = 32 - 8 - 2). */
const PRECISION_BITS = 22;
const ONE = 2 ** PRECISION_BITS;

/** Per output pixel: the first input pixel, how many it reads, and their fixed-point weights (ksize per pixel). */
interface Taps { start: Int32Array; count: Int32Array; weights: Int32Array; ksize: number }

/**
 * PIL's bilinear coefficients (precompute_coeffs + normalize_coeffs_8bpc, Pillow 9): pixel centres aligned, the
 * triangle filter stretched by the scale when shrinking (antialiasing), weights renormalized at the borders.
 */
function bilinearTaps(inSize: number, outSize: number): Taps {
  const scale = inSize / outSize;
  const filterscale = Math.max(scale, 1);
  const support = filterscale; // the bilinear filter's support is 1, stretched
  const ss = 1 / filterscale;
  const ksize = Math.ceil(support) * 2 + 1;
  const start = new Int32Array(outSize), count = new Int32Array(outSize), weights = new Int32Array(outSize * ksize);
  const k = new Float64Array(ksize);
  for (let xx = 0; xx < outSize; xx++) {
    const center = (xx + 0.5) * scale;
    const xmin = Math.max(Math.trunc(center - support + 0.5), 0);
    const n = Math.min(Math.trunc(center + support + 0.5), inSize) - xmin;
    let sum = 0;
    for (let x = 0; x < n; x++) {
      const t = Math.abs((x + xmin - center + 0.5) * ss);
      k[x] = t < 1 ? 1 - t : 0;
      sum += k[x];
    }
    for (let x = 0; x < n; x++) {
      const w = sum !== 0 ? k[x] / sum : k[x];
      weights[xx * ksize + x] = Math.trunc(w < 0 ? -0.5 + w * ONE : 0.5 + w * ONE);
    }
    start[xx] = xmin;
    count[xx] = n;
  }
  return { start, count, weights, ksize };
}

function clip8(acc: number): number {
  return acc <= 0 ? 0 : acc >= 256 * ONE ? 255 : Math.floor(acc / ONE);
}

/**
 * Resizes interleaved uint8 pixels (w0 x h0 x c) to w x h exactly like PIL's Image.resize(..., BILINEAR), which is
 * what torchvision's Resize does on the PIL images of ImageFolder, and returns the crop of W x H at (left, top).
 * Two passes (horizontal, then vertical) with a uint8 intermediate, as in Pillow; only the cropped part is computed,
 * which gives the same pixels because every output pixel has its own weights.
 * Why not sharp's resize: libvips aligns upscaled images differently (sample positions shifted by half an output
 * pixel), so images whose short side is below 256 came out shifted against the original's inputs.
 */
function resizeLikePil(src: Uint8Array, w0: number, h0: number, c: number, w: number, h: number,
  crop: { left: number; top: number; width: number; height: number }): Uint8Array {
  const cols = bilinearTaps(w0, w), rows = bilinearTaps(h0, h);
  const { left, top, width: W, height: H } = crop;
  const rowLen = W * c;
  // The source rows the kept output rows read.
  const y0 = rows.start[top], y1 = rows.start[top + H - 1] + rows.count[top + H - 1];
  const mid = new Uint8Array((y1 - y0) * rowLen);
  for (let y = y0; y < y1; y++) {
    const srcRow = y * w0 * c, midRow = (y - y0) * rowLen;
    for (let x = 0; x < W; x++) {
      const xx = left + x, first = cols.start[xx], n = cols.count[xx], k = xx * cols.ksize;
      for (let ch = 0; ch < c; ch++) {
        let acc = ONE / 2;
        for (let t = 0; t < n; t++) acc += src[srcRow + (first + t) * c + ch] * cols.weights[k + t];
        mid[midRow + x * c + ch] = clip8(acc);
      }
    }
  }
  const out = new Uint8Array(H * rowLen);
  for (let y = 0; y < H; y++) {
    const yy = top + y, first = rows.start[yy] - y0, n = rows.count[yy], k = yy * rows.ksize;
    for (let i = 0; i < rowLen; i++) {
      let acc = ONE / 2;
      for (let t = 0; t < n; t++) acc += mid[(first + t) * rowLen + i] * rows.weights[k + t];
      out[y * rowLen + i] = clip8(acc);
    }
  }
  return out;
}

/**
 * Decodes one image to interleaved uint8 pixels (H x W x C) at the model's input size.
 * "imagenet": shorter side to 256, then a center 224 crop, both exactly as torchvision's Resize(256) and
 * CenterCrop(224) do on PIL images; "resize": straight to H x W (PIL bilinear too).
 */
export async function decodeForModel(file: string, input: ModelInput): Promise<Uint8Array> {
  try {
    let img = sharp(file, { failOn: "error" }).rotate();
    img = input.channels === 1 ? img.grayscale() : img.toColourspace("srgb").removeAlpha();
    const { data, info } = await img.raw().toBuffer({ resolveWithObject: true });
    const { width: w0, height: h0 } = info;
    let pixels = new Uint8Array(data.buffer, data.byteOffset, data.length);
    if (pixels.length !== w0 * h0 * info.channels) {
      throw new MrlError(`decoded to ${pixels.length} bytes for ${w0}x${h0}x${info.channels}; expected 8-bit samples`, file);
    }
    if (info.channels !== input.channels) {
      // grayscale JPEGs decode to 1 channel even after toColourspace in some builds: expand
      if (info.channels !== 1 || input.channels !== 3) {
        throw new MrlError(`decoded to ${info.channels} channels, the model expects ${input.channels}`, file);
      }
      const rgb = new Uint8Array(pixels.length * 3);
      for (let i = 0; i < pixels.length; i++) rgb[3 * i] = rgb[3 * i + 1] = rgb[3 * i + 2] = pixels[i];
      pixels = rgb;
    }
    if (input.resize === "imagenet") {
      // torchvision Resize(256): the short side becomes 256, the long side int(256 * long / short).
      const short = Math.round(256 * (input.height / 224));
      const [w, h] = w0 <= h0 ? [short, Math.floor((short * h0) / w0)] : [Math.floor((short * w0) / h0), short];
      return resizeLikePil(pixels, w0, h0, input.channels, w, h, {
        left: roundHalfEven((w - input.width) / 2), top: roundHalfEven((h - input.height) / 2), width: input.width, height: input.height,
      });
    }
    return resizeLikePil(pixels, w0, h0, input.channels, input.width, input.height, { left: 0, top: 0, width: input.width, height: input.height });
  } catch (err) {
    if (err instanceof MrlError) throw err;
    throw new MrlError(`image failed to decode (${(err as Error).message.trim()}); expected a readable JPEG, PNG, WebP, BMP or TIFF image`, file);
  }
}
