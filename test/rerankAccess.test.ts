// Reranking's two access paths (rerank/access.ts): loading the database or reading only the candidate rows give
// the same ids (against the scalar oracle), forced either way and as chosen on both sides of the threshold; the
// stage writes byte-identical files whichever path it takes, and refuses a forced load over the budget.
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { test } from "node:test";
import {
  ACCESS_RATES, arrayFiles, candidateReads, chooseRerankAccess, DatabaseVectors, evictFromPageCache, funnelRerank, intMatrix, matrix, MrlError, nativeKernels, neighborsPath, rerank, rerankedPath,
  funnelPath, runRerankStage, seededUniform, writeLabelsNpy, writeMatrixNpy, writeShortlist, type IntMatrix, type RetrievalArrays,
} from "@mrl-retrieval/lib/internal";
import { tempDir } from "./helpers";
import { referenceFunnel, referenceOf, sameIds } from "./reference";

const ROWS = 3000, COLS = 256, K = 64;
// non-negative like MRL features (they follow a ReLU), so prefixes are never all zero
const database = matrix(ROWS, COLS, seededUniform(ROWS * COLS, 7, 0.01, 1));

/** nq queries near database rows, and K candidate ids each (distinct, some -1 where a first stage found fewer). */
function inputs(nq: number, seed: number): { queries: ReturnType<typeof matrix>; candidates: IntMatrix } {
  const noise = seededUniform(nq * COLS, seed, -0.05, 0.05), pick = seededUniform(nq * K, seed + 1, 0, ROWS);
  const queries = matrix(nq, COLS, new Float32Array(nq * COLS));
  const ids = new Int32Array(nq * K);
  for (let q = 0; q < nq; q++) {
    const base = Math.floor(pick[q * K]);
    for (let c = 0; c < COLS; c++) queries.data[q * COLS + c] = database.data[base * COLS + c] + noise[q * COLS + c];
    const seen = new Set<number>();
    for (let j = 0; j < K; j++) {
      let id = j === 0 ? base : Math.floor(pick[q * K + j]);
      while (seen.has(id)) id = (id + 1) % ROWS;
      seen.add(id);
      ids[q * K + j] = q % 7 === 3 && j >= K - 5 ? -1 : id;
    }
  }
  return { queries, candidates: intMatrix(nq, K, ids) };
}

const dir = tempDir("mrl-access-");
const file = path.join(dir, "db.npy");
writeMatrixNpy(file, database);
const fresh = (inMemory = true): DatabaseVectors => new DatabaseVectors(file, ROWS, COLS, inMemory);
const FUNNEL = { dims: [32, 128, 256], shortlists: [48, 20, 8] };

test("loading the database and reading the candidate rows give the oracle's ids, adaptive and funnel, both precisions", () => {
  const { queries, candidates } = inputs(60, 11);
  for (const precision of ["float32", "float64"] as const) {
    const adaptive = referenceOf(precision)(database, queries, candidates, 128, 48);
    const cascade = referenceFunnel(precision, database, queries, candidates, FUNNEL.dims, FUNNEL.shortlists);
    for (const access of ["load", "rows"] as const) {
      const db = fresh();
      assert.ok(sameIds(rerank(db, queries, candidates, 128, 48, { precision, access }), adaptive), `adaptive, ${precision}, ${access}`);
      assert.ok(sameIds(funnelRerank(db, queries, candidates, FUNNEL, { precision, access }), cascade), `funnel, ${precision}, ${access}`);
      assert.equal(db.loaded, access === "load", `${access}: the database ${access === "load" ? "was" : "was not"} loaded`);
    }
  }
});

test("auto: rows when they cost less than loading, by bytes from the page cache and requests to the disk; the same ids either way", () => {
  const few = inputs(4, 104), many = inputs(400, 500);
  const readsOf = (c: IntMatrix) => candidateReads([{ candidates: c, dims: [256], shortlists: [K] }], ROWS, COLS);
  // 4 queries' 256 candidates among 3000 rows of 1 KiB: reads of nearby rows (64 KiB apart at most) span the rows between
  const { rows, reads, bytes } = readsOf(few.candidates);
  assert.ok(rows > 200 && reads < rows / 10 && bytes >= reads * 4096 && bytes <= ROWS * COLS * 4, `${rows} rows in ${reads} reads, ${bytes} bytes`);
  // a cold file costs each row once: 400 queries' batches re-read shared rows, the first reads span each row once
  const twice = candidateReads([{ candidates: many.candidates, dims: [256], shortlists: [K] }, { candidates: many.candidates, dims: [32, 128], shortlists: [K, 20] }], ROWS, COLS);
  const once = readsOf(many.candidates);
  assert.ok(twice.bytes > 1.9 * once.bytes && twice.reads > 1.9 * once.reads, "each rerank's batches read their rows");
  assert.deepEqual([twice.firstReads, twice.firstBytes], [once.firstReads, once.firstBytes], "first reads are of the distinct rows of all reranks");
  assert.ok(once.firstBytes <= ROWS * COLS * 4 && once.firstBytes <= once.bytes, `${once.firstBytes} first bytes`);
  // the choice on both sides, cached and not, for ImageNet-like rows (8 KiB) scattered over a 300,000-row database
  const wide = new DatabaseVectors(file, 300_000, 2048, true);
  const scattered = (nq: number): IntMatrix => {
    const pick = seededUniform(nq * 200, nq, 0, 300_000);
    return intMatrix(nq, 200, Int32Array.from(pick, (v, i) => (Math.floor(v) + i) % 300_000));
  };
  const pathFor = (nq: number, cached: number) => chooseRerankAccess(wide, candidateReads([{ candidates: scattered(nq), dims: [2048], shortlists: [200] }], 300_000, 2048), cached);
  assert.deepEqual([pathFor(50, 1).path, pathFor(5000, 1).path], ["rows", "memory"], "cached: bytes decide");
  assert.deepEqual([pathFor(10, 0).path, pathFor(2000, 0).path], ["rows", "memory"], "not cached: a row's first read costs a request");
  // the line gives both estimates: loading is the database's bytes at the rate for where they are
  const loadEstimate = (rate: number) => (wide.bytes / rate).toFixed(1).replace(".", "\\.");
  assert.match(pathFor(50, 1).reason, new RegExp("^reading the candidate rows \\(0\\.\\d\\d GB of candidate rows in \\d+ reads \\(0\\.\\d\\d GB in \\d+ reads the first time\\), " +
    `est\\. 0\\.\\d s, against 2\\.46 GB to load the database, est\\. ${loadEstimate(ACCESS_RATES.loadBytesPerSecond)} s; 100% of it in the page cache\\)$`));
  assert.match(pathFor(2000, 0).reason, new RegExp(`^loading the database \\(.* est\\. ${loadEstimate(ACCESS_RATES.coldLoadBytesPerSecond)} s; 0% of it in the page cache\\)$`));
  // what auto does is what the estimate says, on the file as cached now; the ids are the oracle's either way
  for (const { queries, candidates } of [few, many]) {
    const fromFile = fresh();
    const expect = chooseRerankAccess(fromFile, readsOf(candidates), fromFile.cachedShare()).path;
    const got = rerank(fromFile, queries, candidates, 256, K, { threads: 1 });
    assert.equal(fromFile.loaded, expect === "memory", `${queries.rows} queries: the path taken is the one chosen (${expect})`);
    assert.ok(sameIds(got, referenceOf("float32")(database, queries, candidates, 256, K)), `${queries.rows} queries, auto (${expect})`);
  }
  // whatever the estimate: a loaded database is used in place, one over the budget is read by rows
  const loaded = fresh();
  loaded.matrix();
  assert.deepEqual(chooseRerankAccess(loaded, readsOf(many.candidates), 0), { path: "memory", reason: "the database is in memory already" });
  assert.match(chooseRerankAccess(fresh(false), readsOf(many.candidates), 1).reason, /^reading the candidate rows: the database \(.*\) is over the memory budget$/);
});

test("the cached share of the database file: none after its pages are evicted, all after it is read", (t) => {
  const db = fresh();
  evictFromPageCache(file);
  const evicted = db.cachedShare();
  if (evicted > 0.5) {
    t.skip(`this file system keeps the file's pages after POSIX_FADV_DONTNEED (${(evicted * 100).toFixed(0)}% cached): tmpfs?`);
    return;
  }
  fs.readFileSync(file);
  assert.ok(db.cachedShare() > 0.99, `${db.cachedShare()} cached after reading it`);
});

test("the stage writes byte-identical files whichever path it takes, and refuses --rerank-access load over the budget before writing", () => {
  const root = tempDir("mrl-access-stage-");
  const files = arrayFiles(root, "FMNIST", "mrl");
  fs.mkdirSync(path.dirname(files.databaseX), { recursive: true });
  const { queries, candidates } = inputs(30, 5);
  writeMatrixNpy(files.databaseX, database);
  writeMatrixNpy(files.queriesX, queries);
  writeLabelsNpy(files.databaseY, new Int32Array(ROWS));
  writeLabelsNpy(files.queriesY, new Int32Array(queries.rows));
  const spec = { root, model: "mrl" as const, dataset: "FMNIST", indexType: "exactl2" as const };
  for (const dim of [16, 32]) {
    fs.mkdirSync(path.dirname(neighborsPath(spec, dim, K)), { recursive: true });
    writeShortlist(neighborsPath(spec, dim, K), candidates);
  }
  const adaptive = [{ retrievalDim: 16, rerankDim: 256, shortlist: 48 }];
  const funnels = [{ retrievalDim: 32, ...FUNNEL }];
  const outputs = [rerankedPath(spec, adaptive[0]), funnelPath(spec, funnels[0])];
  const arraysWith = (inMemory: boolean): RetrievalArrays => ({
    database: new DatabaseVectors(files.databaseX, ROWS, COLS, inMemory), queries, databaseLabels: new Int32Array(ROWS),
    queryLabels: new Int32Array(queries.rows), files, budgetBytes: inMemory ? 2 ** 30 : 64 * 2 ** 20,
  });
  const written: string[][] = [];
  for (const access of ["load", "rows", "auto"] as const) {
    const results = runRerankStage(spec, arraysWith(true), { k: K, adaptive, funnels, access, force: true, quiet: true });
    assert.deepEqual(results.map((r) => r.skipped), [false, false], access);
    written.push(outputs.map((f) => fs.readFileSync(f, "latin1")));
  }
  assert.deepEqual(written[1], written[0], "rows vs load");
  assert.deepEqual(written[2], written[0], "auto vs load");
  for (const f of outputs) fs.rmSync(f);
  assert.throws(() => runRerankStage(spec, arraysWith(false), { k: K, adaptive, funnels, access: "load", force: true, quiet: true }),
    (e: unknown) => e instanceof MrlError && /db\.npy|X\.npy/.test(e.message) && /--rerank-access load: the database \(.*\) does not fit the memory budget/.test(e.message));
  assert.ok(outputs.every((f) => !fs.existsSync(f)), "nothing written");
});
