/**
 * The export tool (model-tools/export_resnet50.py) and the TypeScript inference path on its output: a random MRL
 * ResNet50 checkpoint in the original format is exported to ONNX, a tiny ImageNet-style folder is embedded
 * with onnxruntime-node + sharp, and both halves are checked against PyTorch/torchvision separately:
 * the network on the very tensor the TypeScript side feeds it, and the preprocessing on the same image files.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { before, test } from "node:test";
import {
  embed, type EmbeddingModel, fashionMnist, FMNIST_DIR, imageFolder, loadEmbeddingModel, matrix, MrlError, readMatrixNpy,
  writeMatrixNpy,
} from "@mrl-retrieval/lib/internal";
import { python, REPO, tempDir } from "./helpers";

const dir = tempDir("mrl-export-");
const SCRIPT = path.join(REPO, "model-tools", "export_resnet50.py");
const checkpoint = path.join(dir, "mrl_r50_random.pt");
const onnxFile = path.join(dir, "models", "mrl_r50_random.onnx");
const images = path.join(dir, "images");
const PER_IMAGE = 3 * 224 * 224;

/** Runs the export script; returns its exit status and stderr. */
function exportTool(args: string[]): { status: number | null; stderr: string } {
  const run = spawnSync("/usr/bin/python3", [SCRIPT, ...args], { encoding: "utf8" });
  return { status: run.status, stderr: run.stderr };
}

/** Asserts that `promise` rejects with an MrlError whose message names `file` and matches `pattern`. */
async function rejectsNaming(promise: Promise<unknown> | (() => unknown), file: string, pattern: RegExp): Promise<void> {
  await assert.rejects(async () => (typeof promise === "function" ? promise() : promise), (err: Error) => {
    assert.ok(err instanceof MrlError, `expected an MrlError, got ${err}`);
    assert.ok(err.message.includes(file), `the message should name ${file}: ${err.message}`);
    assert.match(err.message, pattern);
    return true;
  });
}

let model: EmbeddingModel;

before(async () => {
  let run = exportTool(["--make-random-checkpoint", checkpoint, "--seed", "7"]);
  assert.equal(run.status, 0, run.stderr);
  run = exportTool([checkpoint, onnxFile]);
  assert.equal(run.status, 0, run.stderr);
  // An ImageNet-style folder. "zebra" is written first but sorts last; the images cover a wide and a tall
  // aspect ratio, a large one that is downscaled and a grayscale JPEG. 180x240 and 500x375 resize to a long
  // side of 341, whose center crop offset is 58.5: torchvision rounds that half to even (58).
  // Smooth patterns with a hard-edged block and mild noise, roughly like photos, rather than pure noise.
  python(`
import os, sys
import numpy as np
from PIL import Image
root = sys.argv[1]
rng = np.random.default_rng(0)
def picture(w, h, channels):
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    planes = []
    for _ in range(channels):
        fx, fy, phase = rng.uniform(0.01, 0.06), rng.uniform(0.01, 0.06), rng.uniform(0, 6.3)
        p = 128 + 90 * np.sin(fx * x + phase) * np.cos(fy * y)
        p[h // 4:h // 2, w // 3:2 * w // 3] = rng.uniform(0, 255)
        planes.append(p + rng.normal(0, 6, size=p.shape))
    a = np.clip(np.rint(np.stack(planes, -1)), 0, 255).astype(np.uint8)
    return a[..., 0] if channels == 1 else a
for cls in ("zebra", "apple"):
    os.makedirs(os.path.join(root, cls), exist_ok=True)
Image.fromarray(picture(300, 260, 3), "RGB").save(os.path.join(root, "zebra", "1_wide.png"))
Image.fromarray(picture(180, 240, 3), "RGB").save(os.path.join(root, "zebra", "2_tall.jpg"), quality=92)
Image.fromarray(picture(200, 200, 1), "L").save(os.path.join(root, "apple", "1_gray.jpg"), quality=92)
Image.fromarray(picture(500, 375, 3), "RGB").save(os.path.join(root, "apple", "2_large.png"))
print("{}")`, [images]);
  model = await loadEmbeddingModel(onnxFile);
});

test("export tool: writes the ONNX model and its card; loadEmbeddingModel picks the ImageNet transform", () => {
  const card = JSON.parse(fs.readFileSync(onnxFile.replace(/\.onnx$/, ".json"), "utf8"));
  assert.equal(card.kind, "mrl");
  assert.deepEqual(card.nesting, [8, 16, 32, 64, 128, 256, 512, 1024, 2048]);
  assert.equal(card.representation_dim, 2048);
  assert.equal(card.blurpool, true, "the original training format has FFCV BlurPool");
  assert.deepEqual(card.input.shape, ["N", 3, 224, 224]);
  assert.deepEqual(card.output.shape, ["N", 2048]);
  assert.deepEqual(card.preprocessing.mean, [0.485, 0.456, 0.406]);
  assert.deepEqual(card.preprocessing.std, [0.229, 0.224, 0.225]);
  assert.deepEqual(fs.readdirSync(path.dirname(onnxFile)).sort(), ["mrl_r50_random.json", "mrl_r50_random.onnx"], "no temp files left");
  assert.equal(model.inputName, "images");
  assert.equal(model.outputName, "features");
  assert.deepEqual(model.input, { channels: 3, height: 224, width: 224, mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225], resize: "imagenet" });
  assert.equal(model.card?.kind, "mrl");
});

test("export tool: the plain torchvision layout (no BlurPool) with an MRL-E head exports too", async () => {
  const plain = path.join(dir, "mrl_e_plain.pt"), plainOnnx = path.join(dir, "models", "mrl_e_plain.onnx");
  let run = exportTool(["--make-random-checkpoint", plain, "--no-blurpool", "--efficient", "--nesting", "16,128,2048"]);
  assert.equal(run.status, 0, run.stderr);
  // An MRL-E head does not record its nesting sizes: the card takes them from --nesting.
  run = exportTool([plain, plainOnnx, "--nesting", "16,128,2048"]);
  assert.equal(run.status, 0, run.stderr);
  const card = JSON.parse(fs.readFileSync(plainOnnx.replace(/\.onnx$/, ".json"), "utf8"));
  assert.deepEqual([card.blurpool, card.efficient, card.config, card.nesting], [false, true, "mrl1_e1_ff2048", [16, 128, 2048]]);
  const plainModel = await loadEmbeddingModel(plainOnnx);
  const { vectors } = await embed(plainModel, imageFolder(images), { limit: 1, quiet: true });
  assert.deepEqual([vectors.rows, vectors.cols], [1, 2048]);
});

test("export tool: clear errors for a missing checkpoint, foreign backbone keys and a nesting mismatch", () => {
  const missing = path.join(dir, "no-such.pt");
  let run = exportTool([missing, path.join(dir, "x.onnx")]);
  assert.equal(run.status, 1);
  assert.match(run.stderr, /no-such\.pt: checkpoint file not found/);
  // A DDP checkpoint wrapped in {"state_dict": ...}, with one backbone key renamed.
  const bad = path.join(dir, "renamed.pt");
  python(`
import sys, torch
sd = torch.load(sys.argv[1])
sd["module.layer1.0.conv9.weight"] = sd.pop("module.layer1.0.conv1.weight")
torch.save({"state_dict": sd, "epoch": 3}, sys.argv[2])
print("{}")`, [checkpoint, bad]);
  run = exportTool([bad, path.join(dir, "x.onnx")]);
  assert.equal(run.status, 1);
  assert.match(run.stderr, /renamed\.pt: the backbone weights do not match torchvision resnet50 with FFCV BlurPool; missing keys: layer1\.0\.conv1\.weight; unexpected keys: layer1\.0\.conv9\.weight/);
  run = exportTool([checkpoint, path.join(dir, "x.onnx"), "--nesting", "16,2048"]);
  assert.equal(run.status, 1);
  assert.match(run.stderr, /mrl_r50_random\.pt: the checkpoint's heads have nesting \[8, 16, .*2048\], but --nesting says \[16, 2048\]/);
  assert.ok(!fs.existsSync(path.join(dir, "x.onnx")));
});

test("embed an image folder: labels follow sorted class names, 4 x 2048 features equal PyTorch's on the same input, preprocessing equal to torchvision's", async () => {
  const source = imageFolder(images);
  assert.deepEqual(source.classes, ["apple", "zebra"]);
  assert.deepEqual(Array.from(source.labels), [0, 0, 1, 1]);
  const { vectors, labels } = await embed(model, source, { quiet: true });
  assert.equal(vectors.rows, 4);
  assert.equal(vectors.cols, 2048);
  assert.deepEqual(Array.from(labels), [0, 0, 1, 1]);

  // The exact tensor embed() feeds the model (one batch: the default batch size exceeds 4).
  const n = source.size;
  const input = new Float32Array(n * PER_IMAGE);
  await source.loadBatch(0, n, model.input, input);
  writeMatrixNpy(path.join(dir, "ts_input.npy"), matrix(n, PER_IMAGE, input));
  const reference = python<{ classes: string[]; targets: number[] }>(`
import json, sys
import numpy as np, torch
import torchvision.transforms as T
from torchvision.datasets import ImageFolder
repo, d, images, checkpoint = sys.argv[1:5]
sys.dont_write_bytecode = True  # no __pycache__ in the repository
sys.path.insert(0, repo + "/model-tools")
from export_resnet50 import load_backbone
model, _ = load_backbone(checkpoint)
x = np.load(d + "/ts_input.npy").reshape(-1, 3, 224, 224)
with torch.no_grad():
    np.save(d + "/torch_features.npy", model(torch.from_numpy(x)).numpy())
tf = T.Compose([T.Resize(256), T.CenterCrop(224), T.ToTensor(), T.Normalize([0.485, 0.456, 0.406], [0.229, 0.224, 0.225])])
ds = ImageFolder(images, transform=tf)
tv = torch.stack([ds[i][0] for i in range(len(ds))]).numpy()
np.save(d + "/tv_input.npy", tv.reshape(len(ds), -1))
print(json.dumps({"classes": ds.classes, "targets": ds.targets}))`, [REPO, dir, images, checkpoint]);
  assert.deepEqual(reference.classes, source.classes);
  assert.deepEqual(reference.targets, Array.from(source.labels));

  // 1. The network: ONNX (onnxruntime, graph optimizations on) vs PyTorch eval on the identical tensor.
  const torchFeatures = readMatrixNpy(path.join(dir, "torch_features.npy"));
  assert.equal(torchFeatures.rows, 4);
  assert.equal(torchFeatures.cols, 2048);
  let maxFeat = 0, maxAbs = 0;
  torchFeatures.data.forEach((v, i) => {
    maxFeat = Math.max(maxFeat, Math.abs(vectors.data[i] - v));
    maxAbs = Math.max(maxAbs, Math.abs(v));
  });
  console.log(`# ONNX vs PyTorch features: max abs diff ${maxFeat.toExponential(2)} (largest feature ${maxAbs.toFixed(3)})`);
  assert.ok(maxAbs > 0.1, "features should not be all zero");
  assert.ok(maxFeat <= 1e-4, `ONNX vs PyTorch max abs diff ${maxFeat}`);

  // 2. The preprocessing: sharp decoding + PIL-exact bilinear resize and center crop vs torchvision on PIL,
  // in normalized units, where one pixel level is 1/(255 * std) ~ 0.017. Measured here: the pixels agree
  // exactly (max 2.4e-7: float32 rounding of the normalization). The bounds leave room for a JPEG decoder
  // build that differs by a level on a few pixels, not for a resampling or crop difference (those gave a
  // mean of 0.02-0.06 on the upscaled images before the resampler matched PIL).
  const tv = readMatrixNpy(path.join(dir, "tv_input.npy"));
  assert.equal(tv.cols, PER_IMAGE);
  const perImage: string[] = [];
  let maxPre = 0, sumPre = 0;
  for (let b = 0; b < n; b++) {
    let m = 0, s = 0;
    for (let i = b * PER_IMAGE; i < (b + 1) * PER_IMAGE; i++) {
      const d = Math.abs(input[i] - tv.data[i]);
      m = Math.max(m, d);
      s += d;
    }
    perImage.push(`#${b} max ${m.toExponential(1)} mean ${(s / PER_IMAGE).toExponential(1)}`);
    maxPre = Math.max(maxPre, m);
    sumPre += s;
  }
  const meanPre = sumPre / (n * PER_IMAGE);
  const report = `preprocessing vs torchvision: max abs diff ${maxPre.toExponential(2)}, mean ${meanPre.toExponential(2)} (${perImage.join("; ")})`;
  console.log(`# ${report}`);
  assert.ok(meanPre < 1e-3, report);
  assert.ok(maxPre < 0.1, report);
});

test("clear errors: missing model file, 4-D model output, undecodable image, empty folders, Fashion-MNIST into the 3x224x224 model", async () => {
  const missing = path.join(dir, "models", "missing.onnx");
  await rejectsNaming(loadEmbeddingModel(missing), missing, /model file not found/);

  // A model that outputs a feature map (N, 8, 222, 222) instead of pooled features.
  const convFile = path.join(dir, "conv_map.onnx");
  python(`
import sys, torch
torch.onnx.export(torch.nn.Conv2d(3, 8, 3).eval(), torch.zeros(1, 3, 224, 224), sys.argv[1], input_names=["images"],
                  output_names=["features"], dynamic_axes={"images": {0: "batch"}, "features": {0: "batch"}}, opset_version=13)
print("{}")`, [convFile]);
  await rejectsNaming(loadEmbeddingModel(convFile), convFile, /expected a 2-D \(batch, features\) output, got shape \[batch, 8, 222, 222\]/);
  // A model not named *.onnx has no card (this used to parse the model itself as JSON), and a broken card is named.
  const otherName = path.join(dir, "conv_map.model");
  fs.copyFileSync(convFile, otherName);
  await rejectsNaming(loadEmbeddingModel(otherName), otherName, /expected a 2-D \(batch, features\) output/);
  const withCard = path.join(dir, "conv_card.onnx");
  fs.copyFileSync(convFile, withCard);
  fs.writeFileSync(path.join(dir, "conv_card.json"), "{ not json");
  await rejectsNaming(loadEmbeddingModel(withCard), path.join(dir, "conv_card.json"), /cannot read the model card/);

  // Garbage bytes with a .jpg name next to a good image.
  const broken = path.join(dir, "broken", "cls", "b_broken.jpg");
  fs.mkdirSync(path.dirname(broken), { recursive: true });
  fs.copyFileSync(path.join(images, "zebra", "1_wide.png"), path.join(dir, "broken", "cls", "a_ok.png"));
  fs.writeFileSync(broken, Buffer.from("this is not a JPEG, just some bytes \x00\x01\x02\xff\xd8", "latin1"));
  await rejectsNaming(embed(model, imageFolder(path.join(dir, "broken")), { quiet: true }), broken, /image failed to decode/);

  const empty = path.join(dir, "empty");
  fs.mkdirSync(empty);
  await rejectsNaming(() => imageFolder(empty), empty, /no class sub-folders/);
  fs.mkdirSync(path.join(empty, "cls"));
  fs.writeFileSync(path.join(empty, "cls", "notes.txt"), "not an image");
  await rejectsNaming(() => imageFolder(empty), empty, /no images/);

  const fmnist = fashionMnist("test");
  await rejectsNaming(embed(model, fmnist, { limit: 2, quiet: true }), path.join(FMNIST_DIR, "t10k-images-idx3-ubyte.gz"),
    /the model expects 3x224x224 input, but Fashion-MNIST images are 1x28x28 grayscale/);
});

test("imageFolder: symlinked class folders count, as in torchvision's ImageFolder", () => {
  const root = path.join(dir, "linked");
  fs.mkdirSync(path.join(root, "b_real"), { recursive: true });
  fs.copyFileSync(path.join(images, "apple", "2_large.png"), path.join(root, "b_real", "x.png"));
  fs.symlinkSync(path.join(images, "zebra"), path.join(root, "a_link"));
  fs.symlinkSync(path.join(images, "missing"), path.join(root, "c_dangling"));
  const source = imageFolder(root);
  const tv = python<{ classes: string[]; targets: number[] }>(`
import json, sys
from torchvision.datasets import ImageFolder
ds = ImageFolder(sys.argv[1])
print(json.dumps({"classes": ds.classes, "targets": ds.targets}))`, [root]);
  assert.deepEqual(source.classes, ["a_link", "b_real"]);
  assert.deepEqual(source.classes, tv.classes);
  assert.deepEqual(Array.from(source.labels), tv.targets);
});
