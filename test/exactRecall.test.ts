/**
 * recall@10 of HNSW shortlists against exact search (metrics/recall.ts, sharedIdRecall) and its column in the metrics
 * table: hand-made cases, then the shortlists of a real run (the shipped MRL model on the test experiment's
 * 4000 / 400 Fashion-MNIST images), recomputed by numpy from the saved files.
 */
import assert from "node:assert/strict";
import * as fs from "node:fs";
import { before, test } from "node:test";
import {
  experimentSpec, intMatrix, loadExperiment, metricsPath, neighborsPath, RECALL_VS_EXACT_COLUMN, sharedIdRecall, runInference, runMetrics,
  runSearch, type Experiment,
} from "@mrl-retrieval/lib/internal";
import { python, tempDir, TEST_EXPERIMENT } from "./helpers";

test("sharedIdRecall: the share of exact top-at ids found in the approximate top-at, -1 never found", () => {
  const exact = intMatrix(2, 4, Int32Array.from([1, 2, 3, 7, 4, 5, 6, 8]));
  const approximate = intMatrix(2, 3, Int32Array.from([3, 2, 9, -1, 4, 6]));
  assert.equal(sharedIdRecall(exact, approximate, 3), (2 / 3 + 2 / 3) / 2);
  assert.equal(sharedIdRecall(exact, approximate, 2), (1 / 2 + 1 / 2) / 2, "only the first `at` of each count");
  assert.equal(sharedIdRecall(exact, exact, 4), 1);
  assert.equal(sharedIdRecall(intMatrix(1, 2, Int32Array.from([5, 6])), intMatrix(1, 2, Int32Array.from([-1, -1])), 2), 0);
  assert.ok(Number.isNaN(sharedIdRecall(intMatrix(0, 10), intMatrix(0, 10))), "no queries: no recall");
  assert.throws(() => sharedIdRecall(exact, intMatrix(3, 3), 3, "hnsw.csv"), /hnsw\.csv: the exact shortlist has 2 queries, the approximate one 3/);
  assert.throws(() => sharedIdRecall(exact, approximate, 4), /recall@4 needs 4 neighbours per query, the exact shortlist has 4, the approximate one 3/);
  assert.throws(() => sharedIdRecall(exact, approximate, 0), /recall depth must be a positive integer, got 0/);
  assert.throws(() => sharedIdRecall(approximate, exact, 3), /the exact shortlist has a missing neighbour \(-1\) at query 1, position 1/);
});

let experiment: Experiment;

before(async () => {
  // exactl2 listed last: the run still searches it first, so the HNSW tables have their exact counterpart
  experiment = loadExperiment({ root: tempDir(), indexTypes: ["hnsw8", "hnsw32", "exactl2"], nesting: [8, 16, 64], adaptive: [], funnels: [] }, TEST_EXPERIMENT);
  await runInference(experiment, { quiet: true });
  runSearch(experiment, { quiet: true });
});

test("the metrics table has recall@10 vs exact for every HNSW row, equal to numpy's from the saved shortlists, blank elsewhere", (ctx) => {
  const tables = runMetrics(experiment);
  const rows = tables.flatMap((t) => t.result.rows);
  for (const r of rows) if (r[RECALL_VS_EXACT_COLUMN] !== undefined) ctx.diagnostic(`${r.index} ${r.config}: ${RECALL_VS_EXACT_COLUMN} ${r[RECALL_VS_EXACT_COLUMN]}`);
  const expected = python<Record<string, number>>(`
import json, numpy as np, pandas as pd, sys
out = {}
for arg in sys.argv[1:]:
    key, hnsw, exact = arg.split("|")
    H = pd.read_csv(hnsw, header=None).to_numpy()[:, :10]
    E = pd.read_csv(exact, header=None).to_numpy()[:, :10]
    out[key] = float(np.mean([len(np.intersect1d(E[q], H[q][H[q] >= 0])) / 10 for q in range(len(E))]))
print(json.dumps(out))`, ["hnsw8", "hnsw32"].flatMap((index) => experiment.nesting.map((dim) => `${index} ${dim}|` +
    `${neighborsPath(experimentSpec(experiment, "mrl", index as "hnsw8"), dim, experiment.k)}|${neighborsPath(experimentSpec(experiment, "mrl", "exactl2"), dim, experiment.k)}`)));
  for (const r of rows) {
    const value = r[RECALL_VS_EXACT_COLUMN];
    if (r.index === "exactl2") {
      assert.equal(value, undefined, `${r.index} ${r.config}: no recall against itself`);
      continue;
    }
    assert.equal(r.method, "exact");
    assert.equal(typeof value, "number", `${r.index} ${r.config}`);
    assert.ok(Math.abs((value as number) - expected[`${r.index} ${r.retrievalDim}`]) < 1e-12, `${r.index} ${r.config}: ${value} vs numpy ${expected[`${r.index} ${r.retrievalDim}`]}`);
    assert.ok((value as number) > 0.5 && (value as number) <= 1, `${r.index} ${r.config}: recall ${value}`);
  }
  assert.equal(rows.filter((r) => typeof r[RECALL_VS_EXACT_COLUMN] === "number").length, 2 * experiment.nesting.length);
  // the CSV: a column with the HNSW values, empty cells for exactl2
  const csv = (index: "hnsw32" | "exactl2"): string[][] => fs.readFileSync(metricsPath(experimentSpec(experiment, "mrl", index), "csv"), "utf8")
    .trim().split("\n").map((line) => line.split(","));
  const hnswCsv = csv("hnsw32");
  const column = hnswCsv[0].indexOf(RECALL_VS_EXACT_COLUMN);
  assert.ok(column > 0, "hnsw32's CSV has the column");
  hnswCsv.slice(1).forEach((cells, i) => assert.ok(Math.abs(Number(cells[column]) - expected[`hnsw32 ${experiment.nesting[i]}`]) < 1e-12));
  assert.equal(csv("exactl2")[0].includes(RECALL_VS_EXACT_COLUMN), false);
  // a rerun reads the saved tables; the HNSW tables are computed from the exact shortlists too, so a changed one makes them stale
  assert.ok(runMetrics(experiment).every((t) => t.result.skipped));
  const exactFile = neighborsPath(experimentSpec(experiment, "mrl", "exactl2"), 8, experiment.k);
  fs.utimesSync(exactFile, new Date(), new Date(Date.now() + 5000));
  assert.deepEqual(runMetrics(experiment).map((t) => `${t.indexType} ${t.result.skipped}`), ["hnsw8 false", "hnsw32 false", "exactl2 false"]);
});
