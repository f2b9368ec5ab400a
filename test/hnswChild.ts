/**
 * Runs faiss_nn's HNSW path (search/stage.ts runIndexSearch) in a child process, for test/hnsw.test.ts. HNSW
 * graph construction is multi-threaded (OpenMP) and its graph depends on the thread count, so the test starts
 * this file with OMP_NUM_THREADS=1 (libgomp reads it when faiss-node loads) and builds Python's index on one
 * thread too; then the graphs, and so the neighbours, must be the same.
 *
 * Argument: JSON { root, dataset, model, nesting, indexTypes, runs: [{ name, k, efSearch? }], out }. Every run
 * searches every dim (the first builds and writes the index files, later ones reuse them, as a rerun of the
 * stage with another k or efSearch does); its shortlists are copied to `<out>/<indexType>_<dim>_<name>.npy`.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { loadRetrievalArrays, neighborsPath, runIndexSearch, type ArtifactSpec, type IndexType } from "@mrl-retrieval/lib/internal";

interface Job {
  root: string;
  dataset: string;
  model: "mrl";
  nesting: number[];
  indexTypes: IndexType[];
  runs: { name: string; k: number; efSearch?: number }[];
  out: string;
}

const job = JSON.parse(process.argv[2]) as Job;
const arrays = loadRetrievalArrays(job.root, job.dataset, job.model);
for (const indexType of job.indexTypes) {
  const spec: ArtifactSpec = { root: job.root, model: job.model, dataset: job.dataset, indexType, shortlistFormat: "npy" };
  for (const run of job.runs) {
    runIndexSearch(spec, arrays, { k: run.k, nesting: job.nesting, efSearch: run.efSearch, quiet: true });
    for (const dim of job.nesting) fs.copyFileSync(neighborsPath(spec, dim, run.k), path.join(job.out, `${indexType}_${dim}_${run.name}.npy`));
  }
}
