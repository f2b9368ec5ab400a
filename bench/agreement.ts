/**
 * Issue 14's agreement measure: how many top-10 ids each stage shares with the original notebooks' code run
 * on the same arrays (bench/agreement_peer.py: faiss_nn's FAISS loop, reranking's numpy loop), on Fashion-MNIST
 * as it is and with near-duplicates added (copies of queries at 1e-4 relative noise in the database, as ImageNet's
 * val images have in train).
 *
 *   node build/bench/agreement.js [--root DIR] [--dup-queries N] [--copies C] [--work DIR]
 *
 * Prints, per data set and stage, the fraction of top-10 positions with identical ids and the fraction equal up
 * to ties (float64 unit-sphere distances within 1e-6). Rerank rows are measured twice: from the same input
 * (FAISS's shortlist, so the rerank alone is compared) and end to end (each side from its own shortlist).
 */
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import {
  FaissIndex, faissNormalized, funnelRerank, loadRetrievalArrays, matrix, nestedKnn, PROJECT_ROOT, readShortlistNpy, rerank, writeMatrixNpy, writeShortlistNpy,
  intMatrix, seededUniform, type Matrix,
} from "@mrl-retrieval/lib/internal";

const K = 200;
const DIMS = [8, 16, 2048];
const ADAPTIVE = { retrievalDim: 16, rerankDim: 2048, shortlist: 200 };
const FUNNEL = { retrievalDim: 8, dims: [16, 32, 64, 128, 2048], shortlists: [200, 100, 50, 25, 10] };

interface Row { row: string; identical: number; within_ties: number }

function option(args: string[], name: string, fallback: string): string {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : fallback;
}

/** The database plus `copies` copies of each of the first `n` queries, each value times (1 + 1e-4 u), u in [-1, 1). */
function withNearDuplicates(db: Matrix, q: Matrix, n: number, copies: number): Matrix {
  const d = db.cols, extra = n * copies;
  const out = new Float32Array((db.rows + extra) * d);
  out.set(db.data);
  const u = seededUniform(extra * d, 14, -1, 1);
  for (let r = 0; r < extra; r++) {
    const src = Math.floor(r / copies) * d, dst = (db.rows + r) * d;
    for (let c = 0; c < d; c++) out[dst + c] = q.data[src + c] * (1 + 1e-4 * u[r * d + c]);
  }
  return matrix(db.rows + extra, d, out);
}

function peer(command: string, work: string): string {
  const run = spawnSync("/usr/bin/python3", [path.join(PROJECT_ROOT, "bench", "agreement_peer.py"), command, work],
    { encoding: "utf8", maxBuffer: 64 * 2 ** 20, env: { ...process.env, PYTHONPATH: path.join(PROJECT_ROOT, "bench") } });
  if (run.status !== 0) throw new Error(`agreement_peer.py ${command} failed:\n${run.stderr}`);
  return run.stdout;
}

function measure(name: string, db: Matrix, q: Matrix, work: string): Row[] {
  fs.mkdirSync(work, { recursive: true });
  writeMatrixNpy(path.join(work, "db.npy"), db);
  writeMatrixNpy(path.join(work, "q.npy"), q);
  fs.writeFileSync(path.join(work, "job.json"), JSON.stringify({ dims: DIMS, k: K, adaptive: ADAPTIVE, funnel: FUNNEL }));
  console.error(`agreement: ${name}: ${db.rows} x ${db.cols} database, ${q.rows} queries: FAISS (Python) ...`);
  peer("search", work);
  console.error(`agreement: ${name}: ours ...`);
  const ours = new Map(nestedKnn(db, q, DIMS, K).map((r) => [r.dim, r.labels]));
  for (const [dim, labels] of ours) writeShortlistNpy(path.join(work, `ours_I${dim}.npy`), labels);
  // exactEngine "faiss": what the stage does with it (FAISS-normalized prefixes, IndexFlatL2, one add)
  for (const dim of DIMS) {
    const index = FaissIndex.create("exactl2", dim);
    index.add(faissNormalized(db, dim));
    const { labels } = index.search(faissNormalized(q, dim), K);
    index.reset();
    writeShortlistNpy(path.join(work, `faiss_engine_I${dim}.npy`), intMatrix(q.rows, K, labels));
  }
  const faissIn = (dim: number) => readShortlistNpy(path.join(work, `faiss_I${dim}.npy`));
  writeShortlistNpy(path.join(work, "ours_adaptive.npy"), rerank(db, q, ours.get(ADAPTIVE.retrievalDim)!, ADAPTIVE.rerankDim, ADAPTIVE.shortlist));
  writeShortlistNpy(path.join(work, "ours_adaptive_faiss_in.npy"), rerank(db, q, faissIn(ADAPTIVE.retrievalDim), ADAPTIVE.rerankDim, ADAPTIVE.shortlist));
  writeShortlistNpy(path.join(work, "ours_funnel.npy"), funnelRerank(db, q, ours.get(FUNNEL.retrievalDim)!, FUNNEL));
  writeShortlistNpy(path.join(work, "ours_funnel_faiss_in.npy"), funnelRerank(db, q, faissIn(FUNNEL.retrievalDim), FUNNEL));
  console.error(`agreement: ${name}: the original's reranking loop (Python) and the comparison ...`);
  const lines = peer("compare", work).trim().split("\n");
  return JSON.parse(lines[lines.length - 1]) as Row[];
}

function main(): void {
  const args = process.argv.slice(2);
  const root = path.resolve(option(args, "--root", path.join(PROJECT_ROOT, "data", "retrieval")));
  const dupQueries = Number(option(args, "--dup-queries", "2000")), copies = Number(option(args, "--copies", "3"));
  const work = path.resolve(option(args, "--work", path.join(PROJECT_ROOT, "build", "bench-agreement")));
  const arrays = loadRetrievalArrays(root, "FMNIST", "mrl");
  const db = arrays.database.matrix(), q = arrays.queries;
  const sets: [string, Matrix][] = [
    ["Fashion-MNIST", db],
    [`Fashion-MNIST + ${copies} near-duplicates of ${dupQueries} queries`, withNearDuplicates(db, q, dupQueries, copies)],
  ];
  const out = [`Top-10 agreement with the original notebooks' code on the same arrays (${q.rows} queries; k = ${K})`, "",
    "| data | stage | identical ids | equal up to ties |", "|---|---|---:|---:|"];
  sets.forEach(([name, database], i) => {
    for (const r of measure(name, database, q, path.join(work, String(i)))) {
      out.push(`| ${name} | ${r.row} | ${(100 * r.identical).toFixed(3)}% | ${(100 * r.within_ties).toFixed(3)}% |`);
    }
  });
  console.log(out.join("\n"));
}

main();
