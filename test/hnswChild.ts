/**
 * Runs faiss_nn's HNSW code in a child process, for test/hnsw.test.ts. HNSW graph construction is
 * multi-threaded (OpenMP) and its graph depends on the thread count, so the test starts this file with
 * OMP_NUM_THREADS=1 (libgomp reads it when faiss-node loads) and builds Python's index on one thread too; then
 * the graphs, and so the neighbours, must be the same.
 *
 * Argument: JSON, one of
 * - { mode: "stage", root, dataset, model, nesting, indexTypes, runs: [{ name, k, efSearch? }], out }: the stage
 *   (runIndexSearch) for every run and dim (the first run builds and writes the index files, later ones reuse
 *   them, as a rerun with another k or efSearch does); shortlists copied to `<out>/<indexType>_<dim>_<name>.npy`.
 * - { mode: "sweep", root, dataset, model, dim, indexTypes, efSearch, at }: efSearchSweep; prints its JSON.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { efSearchSweep, loadRetrievalArrays, neighborsPath, runIndexSearch, type ArtifactSpec, type IndexType } from "@mrl-retrieval/lib/internal";

interface Common { root: string; dataset: string; model: "mrl"; indexTypes: IndexType[] }
interface StageJob extends Common { mode: "stage"; nesting: number[]; runs: { name: string; k: number; efSearch?: number }[]; out: string }
interface SweepJob extends Common { mode: "sweep"; dim: number; efSearch: number[]; at: number }

const job = JSON.parse(process.argv[2]) as StageJob | SweepJob;
const arrays = loadRetrievalArrays(job.root, job.dataset, job.model);
if (job.mode === "sweep") {
  console.log(JSON.stringify(efSearchSweep(arrays, { dim: job.dim, indexTypes: job.indexTypes, efSearch: job.efSearch, at: job.at, minSeconds: 0, quiet: true })));
} else {
  for (const indexType of job.indexTypes) {
    const spec: ArtifactSpec = { root: job.root, model: job.model, dataset: job.dataset, indexType, shortlistFormat: "npy" };
    for (const run of job.runs) {
      runIndexSearch(spec, arrays, { k: run.k, nesting: job.nesting, efSearch: run.efSearch, quiet: true });
      for (const dim of job.nesting) fs.copyFileSync(neighborsPath(spec, dim, run.k), path.join(job.out, `${indexType}_${dim}_${run.name}.npy`));
    }
  }
}
