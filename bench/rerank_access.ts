/**
 * Reranking's access path at scale (issue 27, goal 1), a section of the scale benchmark (bench/scale.ts): one
 * `mrl rerank` process with the adaptive and the funnel configuration, as a user runs it, forced to load the
 * database (`--rerank-access load`), forced to read only the candidate rows (`rows`), and left to choose (`auto`),
 * with the database file's pages in the page cache (warm: read through first) and evicted (cold:
 * posix_fadvise(POSIX_FADV_DONTNEED) on that one file, never the machine's whole cache), at each query count.
 * Prints auto's time over the better of the two measured paths, the choice's one line, and whether the three
 * runs wrote byte-identical reranked files. With --access-repeat N each cell keeps its fastest of N runs, the
 * three paths taking turns at each place in the order.
 */
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { evictFromPageCache, warmPageCache } from "@mrl-retrieval/lib/internal";
import {
  ADAPTIVE, ADAPTIVE_FLAG, ARRAY_NAMES, checkInterrupted, CLI, DATASET, errorLine, FUNNEL, FUNNEL_FLAG, K, measure, PYTHON, UserError,
  type Measured,
} from "./scale";

const GIB = 2 ** 30;
const ACCESSES = ["load", "rows", "auto"] as const;
type Access = (typeof ACCESSES)[number];
type Cache = "warm" | "cold";

export interface AccessBenchInput {
  work: string;
  /** The synthetic arrays (database, queries and labels under the originals' names). */
  dataDir: string;
  /** A root whose faiss_nn shortlists (CSV, all queries) at the adaptive and funnel retrieval dims are copied. */
  shortlistRoot: string;
  experiment: string;
  /** Query counts to run (each at most the queries of dataDir): the first n queries and their shortlists. */
  queryCounts: number[];
  /** Runs per cell, the fastest kept (a shared machine's noise; the page cache is set before each run). */
  repeat: number;
}

/** The first n lines of a text file, written to `to`. */
function headLines(from: string, to: string, n: number): void {
  const text = fs.readFileSync(from, "latin1");
  let at = 0;
  for (let i = 0; i < n; i++) {
    const next = text.indexOf("\n", at);
    if (next < 0) throw new UserError(`${from} has fewer than ${n} lines`);
    at = next + 1;
  }
  fs.writeFileSync(to, text.slice(0, at), "latin1");
}

/** A root for n queries: the database through hard links, the first n queries and their shortlists at the retrieval dims. */
async function rootFor(input: AccessBenchInput, n: number): Promise<string> {
  const root = path.join(input.work, `ts-access-${n}`);
  fs.rmSync(root, { recursive: true, force: true });
  fs.mkdirSync(root, { recursive: true });
  const [databaseX, databaseY, queriesX, queriesY] = ARRAY_NAMES;
  for (const f of [databaseX, databaseY]) fs.linkSync(path.join(input.dataDir, f), path.join(root, f));
  const cut = await measure([PYTHON, "-c", "import numpy as np, sys; a = sys.argv[1:]; n = int(a[4]); " +
    "[np.save(o, np.ascontiguousarray(np.load(i, mmap_mode='r')[:n])) for i, o in ((a[0], a[1]), (a[2], a[3]))]",
  path.join(input.dataDir, queriesX), path.join(root, queriesX), path.join(input.dataDir, queriesY), path.join(root, queriesY), String(n)], { work: input.work });
  if (!cut.ok) throw new UserError(`cutting the queries to ${n} failed: ${errorLine(cut)}`);
  const folder = path.join(input.shortlistRoot, "neighbors", "mrl");
  for (const dim of [ADAPTIVE.retrievalDim, FUNNEL.retrievalDim]) {
    const name = fs.readdirSync(folder).find((f) => f.includes(`_${dim}dim_${K}shortlist_`) && f.endsWith(".csv"));
    if (!name) throw new UserError(`no ${dim}-d shortlist in ${folder}: the search stage did not write it`);
    fs.mkdirSync(path.join(root, "neighbors", "mrl"), { recursive: true });
    headLines(path.join(folder, name), path.join(root, "neighbors", "mrl", name), n);
  }
  return root;
}

/** A digest of the reranked files (everything under neighbors/ but the copied shortlists and manifests). */
function rerankedDigest(root: string): string {
  const folder = path.join(root, "neighbors", "mrl"), hash = createHash("sha256");
  for (const f of fs.readdirSync(folder).filter((f) => /reranked|cascade/.test(f)).sort()) hash.update(f).update(fs.readFileSync(path.join(folder, f)));
  return hash.digest("hex");
}

interface Run { m: Measured; choice: string; digest: string }

const fmt = (m?: Measured): string => (!m ? "–" : m.ok ? `${m.seconds.toFixed(m.seconds >= 100 ? 0 : 1)} s, ${(m.peakBytes / GIB).toFixed(2)} GiB` : "failed");

/** Runs the section; returns its table and notes (markdown). */
export async function rerankAccessBench(input: AccessBenchInput, log: (s: string) => void): Promise<{ table: string; notes: string[] }> {
  const lines = ["### Reranking: load the database or read the candidate rows (one process: adaptive + funnel)", "",
    "| queries | page cache | `--rerank-access load` | `rows` | `auto` | auto chose | auto / better of load, rows | identical outputs |",
    "|---:|---|---:|---:|---:|---|---:|---|"];
  const ratios: number[] = [];
  for (const n of input.queryCounts) {
    const root = await rootFor(input, n);
    const database = path.join(root, ARRAY_NAMES[0]);
    const env = { ...process.env };
    delete env.MRL_MEMORY_GB; // the default budget, which holds the database: both paths are open
    delete env.MRL_EXPERIMENT;
    for (const cache of ["warm", "cold"] as Cache[]) {
      const runs = new Map<Access, Run>();
      for (let attempt = 0; attempt < input.repeat; attempt++) {
        // each run in a new place of the order, so none is always the one after a load (which leaves memory to reclaim)
        for (const access of ACCESSES.map((_, i) => ACCESSES[(i + attempt) % ACCESSES.length])) {
          checkInterrupted();
          if (cache === "warm") warmPageCache(database);
          else evictFromPageCache(database);
          log(`rerank access: ${n} queries, ${cache} page cache, --rerank-access ${access}${input.repeat > 1 ? `, run ${attempt + 1} of ${input.repeat}` : ""}`);
          const m = await measure([process.execPath, CLI, "rerank", "--experiment", input.experiment, "--root", root, "--dataset", DATASET, "--model", "mrl",
            "--index", "exactl2", "--k", String(K), "--adaptive", ADAPTIVE_FLAG, "--funnel", FUNNEL_FLAG, "--rerank-access", access, "--force"], { work: input.work, env });
          const choice = /rerank: (.+)/.exec(m.stderrTail)?.[1]?.trim() ?? "?";
          const kept = runs.get(access);
          if (!kept || !kept.m.ok || (m.ok && m.seconds < kept.m.seconds)) runs.set(access, { m, choice, digest: m.ok ? rerankedDigest(root) : "" });
          log(`rerank access: ${access}: ${fmt(m)}${m.ok ? "" : ` (${errorLine(m)})`}`);
        }
      }
      const [load, rows, auto] = ACCESSES.map((a) => runs.get(a)!);
      const better = Math.min(load.m.ok ? load.m.seconds : Infinity, rows.m.ok ? rows.m.seconds : Infinity);
      const ratio = auto.m.ok ? auto.m.seconds / better : NaN;
      if (Number.isFinite(ratio)) ratios.push(ratio);
      const identical = [load, rows, auto].every((r) => r.digest !== "" && r.digest === load.digest);
      lines.push(`| ${n} | ${cache} | ${fmt(load.m)} | ${fmt(rows.m)} | ${fmt(auto.m)} | ${auto.choice} | ${Number.isFinite(ratio) ? `${ratio.toFixed(2)}x` : "–"} | ${identical ? "yes" : "NO"} |`);
    }
    fs.rmSync(root, { recursive: true, force: true });
  }
  const notes = [
    "- Reranking's access path: each cell is one `mrl rerank --adaptive " + ADAPTIVE_FLAG + " --funnel " + FUNNEL_FLAG + " --rerank-access A --force` " +
      `process on the first n queries (their faiss_nn shortlists cut from the full run's), ${input.repeat > 1 ? `the fastest of ${input.repeat} runs, ` : ""}` +
      "the CLI's default memory budget (the database fits, so " +
      "both paths are open). Warm: the database file read through just before; cold: its pages evicted with posix_fadvise(DONTNEED) just before " +
      `(that file only). "auto / better" is auto's time over the faster of the two forced runs in the same row (goal: at most 1.2x); worst ` +
      `${ratios.length ? Math.max(...ratios).toFixed(2) : "–"}x. "identical outputs": the three runs' reranked files hash the same.`,
  ];
  return { table: lines.join("\n"), notes };
}

