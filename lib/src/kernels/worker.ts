/**
 * Worker thread body for parallel.ts: runs rerankRange / funnelRange over a range of queries on shared
 * memory, then flags its slot in the shared status array and wakes the waiting main thread.
 */
import { parentPort, workerData, type MessagePort } from "node:worker_threads";
import { funnelRange, rerankRange, type RerankArrays, type WorkQueue } from "./rerankKernel";

/** One job: arrays live in SharedArrayBuffers, so posting them shares rather than copies. */
export interface WorkerJob {
  kind: "rerank" | "funnel";
  arrays: RerankArrays;
  dims: number[];
  shortlists: number[];
  first: number;
  last: number;
  /** When set, the threads take chunks of first..last from this shared queue instead of the whole range. */
  queue?: WorkQueue;
  out: Int32Array;
  /** Shared Int32Array: status[slot] goes 0 -> 1 (done) or 2 (failed, message on the error port). */
  status: Int32Array;
  slot: number;
}

// Errors go to a port the main thread can read synchronously (it is blocked in Atomics.wait meanwhile).
const errors = (workerData as { errors?: MessagePort } | undefined)?.errors;

parentPort?.on("message", (job: WorkerJob) => {
  try {
    if (job.kind === "rerank") {
      rerankRange(job.arrays, job.dims[0], job.shortlists[0], job.first, job.last, job.out, 0, undefined, job.queue);
    } else {
      funnelRange(job.arrays, job.dims, job.shortlists, job.first, job.last, job.out, 0, job.queue);
    }
    Atomics.store(job.status, job.slot, 1);
  } catch (err) {
    errors?.postMessage({ slot: job.slot, message: (err as Error).message });
    Atomics.store(job.status, job.slot, 2);
  }
  Atomics.notify(job.status, job.slot);
});
