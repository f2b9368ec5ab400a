import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { test } from "node:test";
import {
  arrayFileName, arrayFiles, arrayPath, findFunnelFile, funnelFileName, funnelPath, indexFileName, indexPath, modelConfig,
  neighborsFileName, neighborsPath, parseArtifactName, rerankedFileName, rerankedPath, type ArtifactSpec,
} from "@mrl-retrieval/lib/internal";
import { tempDir } from "./helpers";

const spec: ArtifactSpec = { root: "/r", model: "mrl", dataset: "1K", indexType: "exactl2" };
const cascade = { retrievalDim: 8, dims: [16, 32, 64, 128, 2048], shortlists: [200, 100, 50, 25, 10] };

test("produces the original notebooks' names and folders", () => {
  assert.equal(modelConfig("mrl"), "mrl1_e0_ff2048");
  assert.equal(modelConfig("mrl_e"), "mrl0_e1_ff2048");
  assert.equal(modelConfig("ff", 16), "mrl0_e0_ff16");
  assert.equal(modelConfig("mrl1_e0_ff768"), "mrl1_e0_ff768");
  assert.equal(arrayFileName("1K", "train", "mrl", "X"), "1K_train_mrl1_e0_ff2048-X.npy");
  assert.equal(arrayFileName("FMNIST", "val", "mrl0_e0_ff2048", "y"), "FMNIST_val_mrl0_e0_ff2048-y.npy");
  assert.equal(arrayFileName("1K", "val", "ff", "X", 64), "1K_val_mrl0_e0_ff64-X.npy");
  assert.deepEqual(arrayFiles("/r", "V2", "mrl_e"), {
    databaseX: "/r/1K_train_mrl0_e1_ff2048-X.npy", databaseY: "/r/1K_train_mrl0_e1_ff2048-y.npy",
    queriesX: "/r/V2_val_mrl0_e1_ff2048-X.npy", queriesY: "/r/V2_val_mrl0_e1_ff2048-y.npy",
  }, "V2's queries search 1K's database");
  assert.equal(indexPath({ ...spec, dataset: "V2" }, 16), "/r/index_files/mrl/1K_16dim_exactl2.index", "V2 shares 1K's index");
  assert.equal(neighborsPath({ ...spec, dataset: "V2", model: "ff" }, 16, 2048), "/r/neighbors/ff/exactl2_16dim_2048shortlist_V2.csv");
  assert.equal(arrayPath("/r", "FMNIST", "train", "mrl", "X"), "/r/FMNIST_train_mrl1_e0_ff2048-X.npy");
  assert.equal(indexFileName("1K", 16, "hnsw32"), "1K_16dim_hnsw32.index");
  assert.equal(indexPath(spec, 16), "/r/index_files/mrl/1K_16dim_exactl2.index");
  assert.equal(neighborsFileName("1K", 16, 2048, "exactl2"), "exactl2_16dim_2048shortlist_1K.csv");
  assert.equal(neighborsPath({ ...spec, dataset: "FMNIST" }, 16, 2048), "/r/neighbors/mrl/exactl2_16dim_2048shortlist_FMNIST.csv");
  assert.equal(rerankedFileName("V2", { retrievalDim: 8, rerankDim: 16, shortlist: 200 }, "exactl2"),
    "8dim-reranked16_200shortlist_V2_exactl2.csv");
  assert.equal(rerankedPath({ ...spec, model: "ff" }, { retrievalDim: 8, rerankDim: 16, shortlist: 200 }),
    "/r/neighbors/reranked/ff/8dim-reranked16_200shortlist_1K_exactl2.csv");
  assert.equal(funnelFileName("1K", cascade, "exactl2"), "8dim-cascade[16,32,64,128,2048]_shortlist[200,100,50,25,10]_1K_exactl2.csv");
  assert.equal(funnelFileName("1K", cascade, "exactl2", true),
    "8dim-cascade[16, 32, 64, 128, 2048]_shortlist[200, 100, 50, 25, 10]_1K_exactl2.csv");
  assert.equal(funnelPath(spec, cascade),
    "/r/neighbors/funnel_retrieval/mrl/8dim-cascade[16,32,64,128,2048]_shortlist[200,100,50,25,10]_1K_exactl2.csv");
  assert.throws(() => modelConfig("ff"), /model ff has one array per size; name the size/);
  for (const name of ["../mrl", "a/b", "..", "", "x\\y"]) {
    assert.throws(() => modelConfig(name), /is not a plain name; expected .*no path separators/, name);
    assert.throws(() => arrayFileName(name, "train", "mrl", "X"), /dataset .* is not a plain name/, name);
  }
});

test("parses every artifact name back, including the Python spelling with spaces", () => {
  assert.deepEqual(parseArtifactName("/x/1K_train_mrl1_e0_ff2048-X.npy"),
    { kind: "array", dataset: "1K", split: "train", config: "mrl1_e0_ff2048", part: "X" });
  assert.deepEqual(parseArtifactName("FMNIST_16dim_hnsw8.index"), { kind: "index", dataset: "FMNIST", dim: 16, indexType: "hnsw8" });
  assert.deepEqual(parseArtifactName("exactl2_16dim_2048shortlist_1K.csv"),
    { kind: "neighbors", indexType: "exactl2", dim: 16, k: 2048, dataset: "1K" });
  assert.deepEqual(parseArtifactName("8dim-reranked16_200shortlist_V2_exactl2.csv"),
    { kind: "reranked", rerank: { retrievalDim: 8, rerankDim: 16, shortlist: 200 }, dataset: "V2", indexType: "exactl2" });
  for (const name of [funnelFileName("1K", cascade, "exactl2"), funnelFileName("1K", cascade, "exactl2", true)]) {
    assert.deepEqual(parseArtifactName(name), { kind: "funnel", funnel: cascade, dataset: "1K", indexType: "exactl2" });
  }
  assert.throws(() => parseArtifactName("notes.txt"), /notes\.txt: not an mrl-retrieval artifact name/);
});

test("finds a funnel file written with the original's spaced spelling", () => {
  const root = tempDir();
  const local = { ...spec, root };
  assert.equal(findFunnelFile(local, cascade), undefined);
  const spaced = funnelPath(local, cascade, true);
  fs.mkdirSync(path.dirname(spaced), { recursive: true });
  fs.writeFileSync(spaced, "1\n");
  assert.equal(findFunnelFile(local, cascade), spaced);
  fs.writeFileSync(funnelPath(local, cascade), "1\n");
  assert.equal(findFunnelFile(local, cascade), funnelPath(local, cascade));
});
