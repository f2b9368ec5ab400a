/**
 * Reranking and funnels on several cores with worker_threads, behind a synchronous call: the threads take
 * chunks of PARALLEL_CHUNK queries in turn from a shared counter (in the arrays' locality order, so they work
 * on nearby queries and share cached rows, and a thread slowed by other work simply takes fewer chunks), every
 * thread runs the same kernel (rerankKernel.ts) on shared memory, and the calling thread blocks in
 * Atomics.wait until all are done. Results are bit-identical to the single-thread path because each query is
 * computed by exactly the same code.
 *
 * Arrays must live in SharedArrayBuffers to be seen by the workers; `loadRetrievalArrays` loads embeddings
 * that way, anything else is copied once (core/sharedMemory.ts: sharedFloat32, cached per array).
 */
import * as os from "node:os";
import * as path from "node:path";
import { MessageChannel, receiveMessageOnPort, Worker, type MessagePort } from "node:worker_threads";
import { check, MrlError } from "../core/errors";
import { sharedFloat32 } from "../core/sharedMemory";
import type { RerankArrays } from "./rerankKernel";
import type { WorkerJob } from "./worker";

/** Threads used when the caller does not say: MRL_THREADS, else the machine's cores. */
export function defaultThreads(): number {
  const env = Number(process.env.MRL_THREADS);
  if (Number.isInteger(env) && env > 0) return env;
  return Math.max(1, os.availableParallelism?.() ?? os.cpus().length);
}

/** Queries per chunk the worker threads take from their shared queue. */
export const PARALLEL_CHUNK = 8;

/** Below this many multiply-adds a call stays on the calling thread (workers cost ~10 ms to wake). */
export const PARALLEL_MIN_WORK = 20_000_000;

interface PoolWorker { worker: Worker; errors: MessagePort }
const pool: PoolWorker[] = [];

function poolOf(threads: number): PoolWorker[] {
  while (pool.length < threads) {
    const channel = new MessageChannel();
    const worker = new Worker(path.join(__dirname, "worker.js"), { workerData: { errors: channel.port2 }, transferList: [channel.port2] });
    worker.unref(); // idle workers must not keep the process alive
    channel.port1.unref();
    pool.push({ worker, errors: channel.port1 });
  }
  return pool.slice(0, threads);
}

/** Stops the pool's threads (tests, or a notebook that wants its memory back); the next call restarts them. */
export async function closeWorkers(): Promise<void> {
  const all = pool.splice(0);
  await Promise.all(all.map((p) => { p.errors.close(); return p.worker.terminate(); }));
}

/** The first `cols` columns of a row-major id matrix, in shared memory (only they are read). */
function sharedColumns(ids: Int32Array, rows: number, stride: number, cols: number): Int32Array {
  const out = new Int32Array(new SharedArrayBuffer(rows * cols * 4));
  for (let r = 0; r < rows; r++) out.set(ids.subarray(r * stride, r * stride + cols), r * cols);
  return out;
}

/**
 * Runs a rerank ("rerank": dims/shortlists of length 1) or funnel over all `nq` queries on `threads`
 * workers; returns nq x last-shortlist ids.
 */
export function runParallel(kind: WorkerJob["kind"], arrays: RerankArrays, nq: number, dims: number[], shortlists: number[], threads: number): Int32Array {
  check(Number.isInteger(threads) && threads > 1, `parallel runs need at least 2 threads, got ${threads}`);
  const shared: RerankArrays = {
    database: sharedFloat32(arrays.database), stride: arrays.stride, queries: sharedFloat32(arrays.queries),
    candidates: sharedColumns(arrays.candidates, nq, arrays.candidateCols, shortlists[0]), candidateCols: shortlists[0],
    precision: arrays.precision, order: arrays.order,
  };
  const final = shortlists[shortlists.length - 1];
  const out = new Int32Array(new SharedArrayBuffer(Math.max(4, nq * final * 4)), 0, nq * final);
  const workers = poolOf(Math.min(threads, nq));
  const status = new Int32Array(new SharedArrayBuffer(4 * workers.length));
  // the threads take chunks of queries in turn from one queue, in the arrays' (locality) order
  const queue = { counter: new Int32Array(new SharedArrayBuffer(4)), chunk: PARALLEL_CHUNK };
  workers.forEach((w, slot) => {
    // each thread its own scratch slot in the wasm memory (slot 0 is the calling thread's)
    const own: RerankArrays = arrays.wasm ? { ...shared, wasm: { home: arrays.wasm.home, slot: slot + 1 } } : shared;
    const job: WorkerJob = { kind, arrays: own, dims, shortlists, first: 0, last: nq, queue, out, status, slot };
    w.worker.postMessage(job);
  });
  const failures: string[] = [];
  workers.forEach((w, slot) => {
    while (Atomics.load(status, slot) === 0) Atomics.wait(status, slot, 0, 1000);
    if (Atomics.load(status, slot) === 2) {
      const msg = receiveMessageOnPort(w.errors)?.message as { message: string } | undefined;
      failures.push(msg?.message ?? "worker failed");
    }
  });
  if (failures.length > 0) throw new MrlError(failures[0]);
  return out;
}
