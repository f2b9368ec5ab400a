/**
 * Inference throughput: TypeScript (onnxruntime-node) vs PyTorch CPU on the same images and batch size.
 *   node build/bench/inference.js [mrl|ff] [N]
 */
import { spawnSync } from "node:child_process";
import * as path from "node:path";
import { embed, fashionMnist, loadEmbeddingModel, loadExperiment } from "@mrl-retrieval/lib/internal";

async function main(): Promise<void> {
  const kind = (process.argv[2] ?? "mrl") as "mrl" | "ff";
  const n = Number(process.argv[3] ?? 10000);
  const batch = 256;
  // the shipped model of this kind, as experiments/fmnist.json names it
  const model = await loadEmbeddingModel(loadExperiment().inference!.models[kind]!);
  const source = fashionMnist("test");
  await embed(model, source, { limit: batch, batchSize: batch, quiet: true }); // warm-up
  const t0 = performance.now();
  await embed(model, source, { limit: n, batchSize: batch, quiet: true });
  const ours = n / ((performance.now() - t0) / 1000);
  const peerRun = spawnSync("/usr/bin/python3", [path.join(__dirname, "..", "..", "bench", "inference_peer.py"), kind, String(n), String(batch)], { encoding: "utf8" });
  if (peerRun.status !== 0) throw new Error(peerRun.stderr);
  const peer = JSON.parse(peerRun.stdout.trim().split("\n").pop()!).images_per_second as number;
  console.log(`inference ${kind} (${n} Fashion-MNIST images, batch ${batch}): TypeScript/onnxruntime ${ours.toFixed(0)} images/s, ` +
    `PyTorch CPU ${peer.toFixed(0)} images/s, ratio ${(ours / peer).toFixed(2)}x`);
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
