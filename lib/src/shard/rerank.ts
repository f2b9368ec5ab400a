/**
 * Reranking in shards: shard I reranks its contiguous range of queries for every adaptive and funnel
 * configuration (each query's reranking depends on that query alone, so its rows are the unsharded run's);
 * `mrl merge rerank` concatenates the shards' rows into the original files and records them as the stage does.
 */
import { intMatrix, matrix, type IntMatrix, type Matrix } from "../core/matrix";
import type { RetrievalArrays } from "../io/arrays";
import { recordArtifact } from "../io/manifest";
import type { ArtifactSpec } from "../io/naming";
import { writeShortlist } from "../io/shortlists";
import { rerankJobs, type RerankJob, type RerankStageOptions } from "../rerank/stage";
import { mergeRefusal, readShardPayload, shardCountFound, shardFile, shardFingerprint, shardState, writeShardFile, type ShardFingerprint, type ShardProblem } from "./files";
import { shardRange, type RowRange, type ShardPlan } from "./plan";
import type { ShardRun } from "./search";

/** One output's shard file, its fingerprint and its width (ids per query). */
interface JobShard { job: RerankJob; file: string; print: ShardFingerprint; cols: number }

const rowsOf = (m: { data: Float32Array | Int32Array; cols: number }, r: RowRange) => m.data.subarray(r.start * m.cols, r.end * m.cols);
const queriesIn = (q: Matrix, r: RowRange): Matrix => matrix(r.end - r.start, q.cols, rowsOf(q, r) as Float32Array);

function jobShards(spec: ArtifactSpec, arrays: RetrievalArrays, options: RerankStageOptions, s: ShardPlan): JobShard[] {
  const range = shardRange(arrays.queries.rows, s, 1);
  return rerankJobs(spec, arrays, options).map((job) => {
    const file = shardFile(spec.root, "rerank", job.out, s);
    const [shortlist, database, queries] = job.inputs;
    const cols = Number(job.config.shortlist ?? (job.config.shortlists as number[])[(job.config.shortlists as number[]).length - 1]);
    return { job, file, cols, print: shardFingerprint(file, "rerank", job.out, job.config, { shortlist, database, queries }, s, range) };
  });
}

const problemsOf = (shards: JobShard[], s: ShardPlan): ShardProblem[] => shards.flatMap((j) => {
  const { start, end } = j.print.range, st = shardState(j.file, j.print, (end - start) * j.cols * 4);
  return st.reason ? [{ shard: s, reason: st.reason }] : [];
});

/** Reranks shard `s`'s queries for every configuration; a shard whose files are up to date is left as it is (force: redone). */
export function runRerankShard(spec: ArtifactSpec, arrays: RetrievalArrays, options: RerankStageOptions, s: ShardPlan): ShardRun {
  const shards = jobShards(spec, arrays, options, s);
  const files = shards.map((j) => j.file);
  if (!options.force && problemsOf(shards, s).length === 0) return { files, upToDate: true };
  for (const j of shards) {
    const range = j.print.range, all = j.job.candidates();
    const candidates = intMatrix(range.end - range.start, all.cols, rowsOf(all, range) as Int32Array);
    const reranked = range.end > range.start ? j.job.run(queriesIn(arrays.queries, range), candidates) : intMatrix(0, j.cols, new Int32Array(0));
    writeShardFile(j.file, j.print, [new Uint8Array(reranked.data.buffer, reranked.data.byteOffset, reranked.data.byteLength)]);
  }
  return { files, upToDate: false };
}

/**
 * Concatenates the N shards of every configuration into the original reranked files, recorded as the stage
 * records them; refuses in one line naming the missing or stale shards (see mergeRefusal). Returns the files written.
 */
export function mergeRerankShards(spec: ArtifactSpec, arrays: RetrievalArrays, options: RerankStageOptions, count: number | undefined, rerun: string[]): string[] {
  const jobs = rerankJobs(spec, arrays, options);
  if (jobs.length === 0) return [];
  const n = shardCountFound(spec.root, "rerank", jobs[0].out, count);
  const all = Array.from({ length: n }, (_, index) => jobShards(spec, arrays, options, { index, count: n }));
  const problems = all.flatMap((shards, index) => problemsOf(shards, { index, count: n }));
  if (problems.length > 0) throw mergeRefusal("rerank", problems, rerun);
  return jobs.map((job, i) => {
    const cols = all[0][i].cols, out: IntMatrix = intMatrix(arrays.queries.rows, cols, new Int32Array(arrays.queries.rows * cols));
    for (const shards of all) {
      const j = shards[i], st = shardState(j.file, j.print) as { payloadOffset: number };
      const part = rowsOf(out, j.print.range);
      readShardPayload(j.file, st, new Uint8Array(part.buffer, part.byteOffset, part.byteLength));
    }
    writeShortlist(job.out, out);
    recordArtifact(job.out, job.kind, job.config, job.inputs);
    return job.out;
  });
}
