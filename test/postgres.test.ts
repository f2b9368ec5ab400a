/**
 * Serving from Postgres + pgvector (lib/src/postgres): on real Fashion-MNIST embeddings (the shipped MRL model, the
 * first 2000 / 100 images), PGlite in process. The SQL path's ids against the project's own exact and adaptive ids
 * (tie-aware), HNSW quality against the in-process pipeline, the `pg` client against a real PGlite socket server
 * (@electric-sql/pglite-socket, the Postgres wire protocol), resumable loading and the bad-input messages.
 */
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as net from "node:net";
import * as path from "node:path";
import { before, test } from "node:test";
import {
  compareRankings, experimentSpec, parseArtifactName, funnelPath, loadExperiment, loadRetrievalArrays, MrlError, neighborsPath, openSqlClient, readShortlist,
  rerankedPath, runInference, runMetrics, runPostgres, runReranking, runSearch, loadDatabase, servedTable, pgliteDataDir,
  type Experiment, type Matrix, type MetricsRow, type RetrievalArrays,
} from "@mrl-retrieval/lib/internal";
import { tempDir, TEST_EXPERIMENT } from "./helpers";

let e: Experiment;
let arrays: RetrievalArrays;
let rows: Record<string, MetricsRow[]>;

before(async () => {
  e = loadExperiment({
    root: tempDir("mrl-pg-"), indexTypes: ["exactl2", "pgvector-exact", "pgvector-hnsw16"], k: 100, nesting: [8, 16, 2048],
    adaptive: [{ retrievalDim: 16, rerankDim: 2048, shortlist: 100 }], funnels: [{ retrievalDim: 8, dims: [16, 2048], shortlists: [100, 20] }],
    inference: { limit: { database: 2000, queries: 100 } }, postgres: { efSearch: 40 },
  }, TEST_EXPERIMENT);
  await runInference(e, { quiet: true });
  runSearch(e, { quiet: true });
  runReranking(e, { quiet: true });
  await runPostgres(e, { quiet: true });
  rows = Object.fromEntries(runMetrics(e, { quiet: true }).map((r) => [r.indexType, r.result.rows]));
  arrays = loadRetrievalArrays(e.root, e.dataset, "mrl");
});

/** L2 between unit dim-prefixes of query q and database row id, in float64: the oracle's distance. */
function distanceAt(queries: Matrix, database: Matrix, dim: number): (q: number, id: number) => number {
  const unit = (m: Matrix, r: number): Float64Array => {
    const v = Float64Array.from(m.data.subarray(r * m.cols, r * m.cols + dim));
    const n = Math.sqrt(v.reduce((s, x) => s + x * x, 0));
    return v.map((x) => x / n);
  };
  return (q, id) => {
    const a = unit(queries, q), b = unit(database, id);
    return Math.sqrt(a.reduce((s, x, i) => s + (x - b[i]) ** 2, 0));
  };
}

test("no index: the SQL first stage and SQL adaptive / funnel retrieval return the project's exact and adaptive ids (tie-aware)", () => {
  const exact = experimentSpec(e, "mrl", "exactl2"), served = experimentSpec(e, "mrl", "pgvector-exact");
  const db = arrays.database.matrix();
  const pairs: Array<[string, string, number]> = [
    ...[8, 16].map((d): [string, string, number] => [neighborsPath(exact, d, e.k), neighborsPath(served, d, e.k), d]),
    [rerankedPath(exact, e.adaptive[0]), rerankedPath(served, e.adaptive[0]), 2048],
    [funnelPath(exact, e.funnels[0]), funnelPath(served, e.funnels[0]), 2048],
  ];
  for (const [theirs, ours, dim] of pairs) {
    const agreement = compareRankings(readShortlist(theirs), readShortlist(ours), distanceAt(arrays.queries, db, dim), 1e-5);
    assert.deepEqual(agreement.differing, [], `${path.basename(ours)}: queries ${agreement.differing} differ beyond ties`);
    assert.ok(agreement.identical >= 90, `${path.basename(ours)}: only ${agreement.identical} of 100 queries identical`);
  }
});

test("HNSW (m=16): recall@10 vs exact >= 0.95 and the adaptive mAP@10 within 0.005 of the in-process one; QPS and p50/p95 in the table", () => {
  const hnsw = rows["pgvector-hnsw16"], exact = rows.exactl2;
  for (const r of hnsw.filter((x) => x.method === "exact")) assert.ok((r["recall@10 vs exact"] as number) >= 0.95, `${r.config}: ${r["recall@10 vs exact"]}`);
  const ours = hnsw.find((r) => r.method === "adaptive")!, theirs = exact.find((r) => r.method === "adaptive")!;
  assert.ok(Math.abs((ours["mAP@10"] as number) - (theirs["mAP@10"] as number)) <= 0.005, `mAP@10 ${ours["mAP@10"]} vs ${theirs["mAP@10"]}`);
  for (const r of hnsw) for (const c of ["QPS", "p50 ms", "p95 ms"]) assert.ok((r[c] as number) > 0, `${r.config} ${c}`);
  assert.equal(exact.some((r) => "QPS" in r), false, "the FAISS table keeps its columns");
});

test("a second run reloads nothing; a changed array reloads; an interrupted load resumes after its last batch", async () => {
  const again = await runPostgres(e, { quiet: true, steps: ["load", "search", "rerank"] });
  assert.deepEqual(again.map((r) => r.load?.action), ["skipped", "skipped"]);
  assert.ok(again.every((r) => r.files.every((f) => f.skipped)));
  const client = await openSqlClient({ dataDir: pgliteDataDir(e.root) });
  try {
    const t = servedTable(e.dataset, "mrl", "vector");
    await client.exec(`DELETE FROM ${t.table} WHERE id >= 1500; UPDATE mrl_sources SET loaded = 1500`);
    const resumed = await loadDatabase(client, t, arrays, { quiet: true, batchRows: 200 });
    assert.deepEqual([resumed.action, resumed.rowsWritten], ["resumed", 500]);
    assert.equal(Number((await client.query(`SELECT count(*) AS n FROM ${t.table}`))[0].n), 2000);
    const later = new Date(Date.now() + 5000);
    fs.utimesSync(arrays.files.databaseX, later, later);
    const reloaded = await loadDatabase(client, t, loadRetrievalArrays(e.root, e.dataset, "mrl"), { quiet: true });
    assert.deepEqual([reloaded.action, reloaded.rowsWritten], ["loaded", 2000]);
  } finally {
    await client.close();
  }
});

/** A PGlite served over the Postgres wire protocol on a free port; `vector` loads the extension. */
async function socketServer(vector: boolean): Promise<{ url: string; stop: () => Promise<void> }> {
  const { PGlite } = await import("@electric-sql/pglite");
  const { PGLiteSocketServer } = await import("@electric-sql/pglite-socket");
  const db = vector ? await PGlite.create({ extensions: { vector: (await import("@electric-sql/pglite-pgvector")).vector } }) : await PGlite.create();
  const port = await new Promise<number>((resolve) => {
    const s = net.createServer().listen(0, "127.0.0.1", () => { const p = (s.address() as net.AddressInfo).port; s.close(() => resolve(p)); });
  });
  const server = new PGLiteSocketServer({ db, port, host: "127.0.0.1" });
  await server.start();
  return { url: `postgres://postgres:secret@127.0.0.1:${port}/postgres`, stop: async () => { await server.stop(); await db.close(); } };
}

test("the pg client against a PGlite socket server writes the same files as PGlite in process", async () => {
  const server = await socketServer(true);
  try {
    const root = tempDir("mrl-pg-url-");
    for (const f of Object.values(arrays.files)) fs.copyFileSync(f, path.join(root, path.basename(f)));
    const viaUrl = loadExperiment({ ...e, root, indexTypes: ["pgvector-exact"], postgres: { databaseUrl: server.url } });
    await runPostgres(viaUrl, { quiet: true });
    const a = experimentSpec(e, "mrl", "pgvector-exact"), b = experimentSpec(viaUrl, "mrl", "pgvector-exact");
    const files = (s: typeof a): string[] => [neighborsPath(s, 8, e.k), neighborsPath(s, 16, e.k), rerankedPath(s, e.adaptive[0]), funnelPath(s, e.funnels[0])];
    files(a).forEach((f, i) => assert.ok(fs.readFileSync(f).equals(fs.readFileSync(files(b)[i])), `${path.basename(f)} differs`));
  } finally {
    await server.stop();
  }
});

test("bad input: an unreachable URL, a server without pgvector, a dim over the index limit: one line naming the setting", async () => {
  const oneLine = (pattern: RegExp) => (err: unknown): boolean => {
    assert.ok(err instanceof MrlError, String(err));
    assert.doesNotMatch(err.message, /\n/);
    assert.doesNotMatch(err.message, /secret/, "the password is not shown");
    assert.match(err.message, pattern);
    return true;
  };
  const root = tempDir("mrl-pg-bad-");
  for (const f of Object.values(arrays.files)) fs.copyFileSync(f, path.join(root, path.basename(f)));
  const base = { ...e, root, indexTypes: ["pgvector-hnsw16" as const] };
  await assert.rejects(runPostgres(loadExperiment({ ...base, postgres: { databaseUrl: "postgres://u:secret@127.0.0.1:1/db" } }), { quiet: true }),
    oneLine(/^postgres\.databaseUrl postgres:\/\/u:\*\*\*@127\.0\.0\.1:1\/db: cannot connect/));
  const plain = await socketServer(false);
  try {
    await assert.rejects(runPostgres(loadExperiment({ ...base, postgres: { databaseUrl: plain.url } }), { quiet: true }),
      oneLine(/^postgres\.databaseUrl .*: the server has no pgvector extension/));
  } finally {
    await plain.stop();
  }
  await assert.rejects(runPostgres(loadExperiment({ ...base, postgres: { dims: [2048] }, adaptive: [], funnels: [] }), { quiet: true }),
    oneLine(/^postgres\.dims has dim 2048: pgvector indexes at most 2000 dims of vector \(4000 with postgres\.halfvec: true\)/));
  assert.equal(fs.existsSync(pgliteDataDir(root)), false, "nothing written before the error");
  assert.throws(() => loadExperiment({ ...base, indexTypes: ["pgvector-hnsw" as never] }), /field "indexTypes\[0\]" is "pgvector-hnsw"; expected one of: exactl2, hnsw8, hnsw32, or pgvector-exact/);
});

test("pgvector index types are artifact names like FAISS's", () => {
  assert.deepEqual(parseArtifactName("pgvector-hnsw16_16dim_200shortlist_FMNIST.csv"), { kind: "neighbors", indexType: "pgvector-hnsw16", dim: 16, k: 200, dataset: "FMNIST" });
  assert.equal((parseArtifactName("16dim-reranked2048_200shortlist_FMNIST_pgvector-ivf100.csv") as { indexType: string }).indexType, "pgvector-ivf100");
  assert.equal((parseArtifactName("8dim-cascade[16,2048]_shortlist[100,20]_1K_pgvector-exact.npy") as { indexType: string }).indexType, "pgvector-exact");
  assert.throws(() => parseArtifactName("pgvector-hnsw_16dim_200shortlist_FMNIST.csv"), MrlError);
});
