"""Writes the pipeline notebooks (run from the project root: /usr/bin/python3 tools/make_notebooks.py).
Each notebook: one configuration cell that loads the experiment, the method in a short readable cell where the
stage has one, and calls into the library for the rest. Re-run this script after editing the cells below.
tslab rewrites a cell's top-level names to `exports.x` everywhere except in object shorthand: pass
`{ latencyQueries: n }` or a settings object, never `{ latencyQueries }` where latencyQueries is a top-level const."""
import sys
sys.path.insert(0, sys.path[0])
from nb import write_notebook

IMPORTS = """
import * as tslab from "tslab";
import * as mrl from "@mrl-retrieval/lib";
"""

CONFIG_MD = """
## Configuration
The experiment comes from `experiments/fmnist.json` (the original notebooks' settings on Fashion-MNIST), or from
the file in `MRL_EXPERIMENT`: `npm run mrl -- pipeline --experiment FILE` sets it, flags included, when it runs
this notebook. Override fields here to explore, e.g. `mrl.loadExperiment({ k: 1024, indexTypes: ["exactl2", "hnsw32"] })`,
or load another file: `mrl.loadExperiment({}, "../experiments/fmnist-quick.json")`. Every notebook and the CLI
read the same file, so a change there reaches every stage.
"""

# notebooks whose own cells have settings (checks, samples, what a figure shows) keep them in the same cell
CONFIG_MD_WITH_SETTINGS = CONFIG_MD.rstrip("\n") + """ The settings of this notebook's own cells (checks, samples,
what a figure shows) follow the experiment in the same cell: every value to edit is here or in the file.
"""


def config(settings=""):
    """The configuration cell: the experiment, then the settings of this notebook's own cells."""
    lines = ["const experiment = mrl.loadExperiment({});"]
    if settings.strip():
        lines.append("// this notebook's own settings (the stages' are the experiment's)")
        lines.append(settings.strip("\n"))
    lines.append("console.log(mrl.describeExperiment(experiment));")
    return "\n".join(lines)


CONFIG = config()

write_notebook("notebooks/inference.ipynb", [
    ("md", """
# Inference: database and query embeddings

Stage 1, like the original `pytorch_inference.py --retrieval`: an ONNX MRL model embeds the database
(train split) and the queries (val/test split) into 2048-d nested representations, saved as
`<DATASET>_train_<config>-X.npy` / `-y.npy` and `<DATASET>_val_<config>-X.npy` / `-y.npy`.
The default data is Fashion-MNIST with the shipped models (`data/models/`, trained by
`model-tools/train_fmnist.py`): `mrl` (Matryoshka heads at 8..2048) and `ff` (one 2048-d head). The experiment's
`inference` field names the models and the images.
"""),
    ("ts", IMPORTS),
    ("md", CONFIG_MD),
    ("ts", CONFIG),
    ("md", "## The models\nTest accuracy of each nesting size's linear head, from the model cards."),
    ("ts", """
const cards = await Promise.all(experiment.models.map((kind) => mrl.loadEmbeddingModel(experiment.inference!.models[kind]!)));
tslab.display.html(mrl.htmlTable(cards.map((m) => ({ model: m.card?.name ?? m.file, input: `${m.input.channels}x${m.input.height}x${m.input.width}`,
  ...Object.fromEntries(Object.entries(m.card?.test_accuracy ?? {}).map(([dim, acc]) => [`acc@${dim}`, acc])) })) as any));
"""),
    ("md", "## Embed database and queries\nA split is skipped when its arrays were made by this model from the same images (see `manifest.json` in the root)."),
    ("ts", """
for (const { model, result } of await mrl.runInference(experiment)) {
  console.log(result.skipped ? `${model}: arrays up to date` :
    `${model}: ${result.imagesPerSecond!.database.toFixed(0)} images/s (database), ${result.imagesPerSecond!.queries.toFixed(0)} images/s (queries)`);
}
"""),
    ("ts", """
for (const model of experiment.models.filter((m) => m !== "ff")) { // ff: one array per size
  const arrays = mrl.experimentArrays(experiment, model);
  console.log(`${model}: database ${arrays.database.rows} x ${arrays.database.cols}, queries ${arrays.queries.rows} x ${arrays.queries.cols}`);
}
"""),
])

write_notebook("notebooks/faiss_nn.ipynb", [
    ("md", """
# faiss_nn: index and search every nesting size

For each nesting dim d: take the first d dims of database and queries, L2-normalize rows, find each query's k
nearest rows (`exactl2` = what FAISS IndexFlatL2 finds; `hnsw8` / `hnsw32` = FAISS IndexHNSWFlat with M = 8 / 32),
write the k-NN shortlist `neighbors/<model>/<index>_<d>dim_<k>shortlist_<DATASET>.csv` and the index
`index_files/<model>/<DATASET>_<d>dim_<index>.index`, as the original does. Index files and shortlists load in
Python (`faiss.read_index`, `pd.read_csv(header=None)`).

Exact search does all dims at once. For unit prefixes, |q/|q| - x/|x||² = 2 - 2 q·x / (|q| |x|), and the dot
product at d₂ is the one at d₁ plus the columns (d₁, d₂]: so one matrix product at the largest dim (OpenBLAS,
on column slices) and the prefix norms give every dim's distances, and each dim costs only a scan for its top k.
The database is read in blocks within the experiment's memory budget (`memoryGb`); one over the budget stays in
its file, and the shortlists are the same either way. `indexFiles: false` (or `--no-index-files`) skips the
exact index files, which the search itself does not need. The neighbours are FAISS `IndexFlatL2`'s up to ties:
near-duplicates closer than float32 can resolve come out in a rounding-decided order on both sides, so
`exactEngine: "faiss"` (or `--exact-engine faiss`) searches with FAISS itself instead, one dim at a time and in
memory, for the original's ids bit for bit.

HNSW indexes are built as the original builds them: the whole normalized prefix in one FAISS `add` (FAISS
inserts by level within one add, so blocks would make another graph). Every vector handed to FAISS is normalized
by FAISS's own `normalize_L2` (float32), so the HNSW graphs, and the neighbours, are the original's.
"""),
    ("ts", IMPORTS),
    ("md", CONFIG_MD_WITH_SETTINGS),
    ("ts", config("""
const methodCheck = { model: experiment.models[0], queries: 5 }; // the method cell's search, checked against the library's shortlists
const efSweepModel = experiment.models[0];
const efSweepOptions: mrl.EfSearchSweepOptions = {
  dim: experiment.nesting.includes(16) ? 16 : experiment.nesting[0], indexTypes: ["hnsw8", "hnsw32"], efSearch: [16, 32, 64, 128, 256, 512, 2048],
  queries: 1000, // a sample: a stable recall, and quick at full size (efSearch 2048 answers ~200 queries/s at 60k rows)
};
""")),
    ("md", """
## The method
Exact nested search in plain TypeScript over typed arrays, for a handful of queries: one pass over the database,
block by block. For each row, the dot product with each query and both squared norms grow segment by segment
(the columns up to the first nesting dim, then up to the next, ...), so every dim together costs one product at
the largest; at each dim the squared L2 distance of the normalized prefixes is 2 - 2 q·x / (|q| |x|), and each
dim keeps its k nearest (equal distances: the smaller id first). Edit `prefixDistance` to try another distance.
"""),
    ("ts", """
/** Squared L2 distance of the L2-normalized `dim`-prefixes of q and x: 2 - 2 q·x / (|q| |x|). */
function prefixDistance(dot: number, qq: number, xx: number): number {
  return 2 - (2 * dot) / (Math.sqrt(qq) * Math.sqrt(xx));
}

/** Keeps `best` the k nearest (id, distance) pairs seen, nearest first; ids arrive ascending, so ties keep the smaller id. */
function keepNearest(best: { id: number; d: number }[], k: number, id: number, d: number): void {
  if (best.length === k && d >= best[k - 1].d) return;
  let at = best.length;
  while (at > 0 && best[at - 1].d > d) at--;
  best.splice(at, 0, { id, d });
  if (best.length > k) best.pop();
}

/** Sums over the columns [from, to) of q·x, q·q and x·x, added to `sums` (the running sums of the prefix before `from`). */
function addSegment(q: Float32Array, x: Float32Array, from: number, to: number, sums: { dot: number; qq: number; xx: number }): void {
  for (let c = from; c < to; c++) {
    sums.dot += q[c] * x[c];
    sums.qq += q[c] * q[c];
    sums.xx += x[c] * x[c];
  }
}

/**
 * Exact k-NN of every query at every dim of `dims` (ascending), in one pass over the database in row blocks:
 * for each (query, row) the running sums grow one segment per dim. Returns each dim's shortlist,
 * queries.rows x k ids, nearest first.
 */
function nestedSearch(database: mrl.DatabaseVectors, queries: mrl.Matrix, dims: number[], k: number): Map<number, mrl.IntMatrix> {
  const blockRows = 4096, largest = dims[dims.length - 1];
  const best = dims.map(() => Array.from({ length: queries.rows }, () => [] as { id: number; d: number }[]));
  const queryRows = Array.from({ length: queries.rows }, (_, q) => mrl.row(queries, q));
  for (let start = 0; start < database.rows; start += blockRows) {
    const block = database.readBlock(start, Math.min(start + blockRows, database.rows), largest);
    for (let r = 0; r < block.rows; r++) {
      const x = mrl.row(block, r);
      queryRows.forEach((query, q) => {
        const sums = { dot: 0, qq: 0, xx: 0 };
        dims.forEach((dim, i) => {
          addSegment(query, x, i === 0 ? 0 : dims[i - 1], dim, sums);
          keepNearest(best[i][q], k, start + r, prefixDistance(sums.dot, sums.qq, sums.xx));
        });
      });
    }
  }
  return new Map(dims.map((dim, i) => [dim, mrl.intMatrix(queries.rows, k, Int32Array.from(best[i].flatMap((b) => b.map((c) => c.id))))]));
}
"""),
    ("md", """
## Build and search
For every model and index type of the experiment. Indexes and shortlists made with the same settings from unchanged arrays are kept (see each folder's `manifest.json`).
"""),
    ("ts", """
const searchRows = mrl.runSearch(experiment).flatMap(({ model, indexType, result }) => result.map((r) => ({
  model, index: indexType, dim: r.dim, action: r.action, "build s": r.buildSeconds, "search s": r.searchSeconds,
  shortlist: r.neighborsFile.split("/").pop()! })));
tslab.display.html(mrl.htmlTable(searchRows as any, 2));
"""),
    ("md", """
## The method and the library agree
On the first `methodCheck.queries` queries: the method cell and the library's exact shortlists (`exactl2`, the
nested engine over BLAS in float32, or FAISS) must give the same ids at every dim, up to the order of rows at
equal distance (`mrl.compareRankings`, like faiss contrib's `check_ref_knn_with_draws`). An `ff` model has one
array per size: each size is its own one-segment search.
"""),
    ("ts", """
/** The method's distance of database row `id` from `query` at `dim` (the tie-aware check asks for rows either side found). */
function distanceOf(database: mrl.DatabaseVectors, query: Float32Array, id: number, dim: number): number {
  const x = new Float32Array(dim), sums = { dot: 0, qq: 0, xx: 0 };
  database.gatherRows(Int32Array.of(id), dim, x);
  addSegment(query, x, 0, dim, sums);
  return prefixDistance(sums.dot, sums.qq, sums.xx);
}

if (!experiment.indexTypes.includes("exactl2")) console.log("this experiment has no exactl2 shortlists to check the method against");
else {
  const exactSpec = mrl.experimentSpec(experiment, methodCheck.model, "exactl2");
  const nesting = [...experiment.nesting].sort((a, b) => a - b);
  const searches = methodCheck.model === "ff" ? nesting.map((d) => ({ arrays: mrl.experimentArrays(experiment, "ff", d), dims: [d] }))
    : [{ arrays: mrl.experimentArrays(experiment, methodCheck.model), dims: nesting }];
  const tolerance = 1e-5; // relative: the library's float32 sums over 2048 dims round at about 1e-6
  for (const { arrays, dims } of searches) {
    const n = Math.min(methodCheck.queries, arrays.queries.rows), cols = arrays.queries.cols;
    const someQueries = mrl.matrix(n, cols, arrays.queries.data.subarray(0, n * cols));
    const mine = nestedSearch(arrays.database, someQueries, dims, experiment.k);
    for (const dim of dims) {
      const library = mrl.loadShortlist(mrl.neighborsPath(exactSpec, dim, experiment.k), arrays, "run the cell above first");
      const theirs = mrl.intMatrix(n, library.cols, library.data.subarray(0, n * library.cols));
      const agreement = mrl.compareRankings(mine.get(dim)!, theirs, (q, id) => distanceOf(arrays.database, mrl.row(someQueries, q), id, dim), tolerance);
      console.log(`${methodCheck.model} ${dim}d, top ${experiment.k} of ${n} queries: ${agreement.identical} identical, ${agreement.tiesOnly} differ only ` +
        `in the order of rows at equal distance (within ${tolerance}), ${agreement.differing.length} differ`);
      if (agreement.differing.length > 0) throw new Error(`the method and the library disagree at ${dim}d on queries ${agreement.differing.slice(0, 10)}`);
    }
  }
}
"""),
    ("md", """
## efSearch: HNSW's speed against its recall
`efSearch` is how many candidates HNSW keeps while it walks its graph (FAISS's default: 16; a search for k
neighbours keeps at least k). Wider is slower and finds more of the true neighbours. This cell builds each HNSW
index once at one dim (as above: normalized prefix, one add), searches it with each efSearch, and compares the
top 10 with exact search at the same dim: recall@10 vs exact (the share of the exact top 10 found), against
queries per second. The dim, index types, efSearch values and query sample are `efSweepOptions` in the
configuration cell. The experiment's own HNSW runs use its `efSearch` field; their recall@10 vs exact is in
compute_metrics' table.
"""),
    ("ts", """
const sweepDim = efSweepOptions.dim;
const sweep = mrl.efSearchSweep(mrl.experimentArrays(experiment, efSweepModel, efSweepModel === "ff" ? sweepDim : undefined), efSweepOptions);
console.log(`${sweep.queries} queries at ${sweepDim}d; exact search ${Math.round(sweep.exact.queriesPerSecond)} queries/s; ` +
  `build s: ${Object.entries(sweep.buildSeconds).map(([index, s]) => `${index} ${s!.toFixed(2)}`).join(", ")}`);
tslab.display.html(mrl.htmlTable(sweep.points.map((p) => ({ index: p.index, efSearch: p.efSearch,
  [`recall@${sweep.at} vs exact`]: p.recall, "queries/s": Math.round(p.queriesPerSecond), "ms per query": 1000 * p.seconds / sweep.queries }))));
tslab.display.html(mrl.figureHtml(mrl.efSearchFigure(sweep)));
"""),
])

write_notebook("notebooks/reranking.ipynb", [
    ("md", """
# Reranking: adaptive and funnel retrieval

**Adaptive retrieval**: take the k-NN shortlist found with a small D_r, rerank its first L candidates by L2
distance at a larger D_s. **Funnel retrieval**: rerank repeatedly with growing dims and shrinking
shortlists, e.g. D_r = 8, dims [16, 32, 64, 128, 2048], shortlists [200, 100, 50, 25, 10].
"""),
    ("ts", IMPORTS),
    ("md", CONFIG_MD_WITH_SETTINGS),
    ("ts", config("""
const rerankCheck = { queries: 200, adaptive: experiment.adaptive[0] }; // the method cell's check against the fast kernel
""")),
    ("md", """
## The method
The original's rerank loop, in TypeScript over typed arrays: for each query, its first L candidates,
ordered by the L2 distance between the L2-normalized D_s-prefixes of query and candidate (the original
normalizes the candidates' prefix; normalizing the query's too gives the same order). Ties keep shortlist
order. Edit `distance` to try another (e.g. `-dot` for inner product, or cosine without the square root) and
run the next cell on a few queries.
"""),
    ("ts", """
/** v / |v|, as sklearn's normalize. */
function unit(v: Float32Array): Float64Array {
  let norm = 0;
  for (const x of v) norm += x * x;
  norm = Math.sqrt(norm);
  return Float64Array.from(v, (x) => (norm > 0 ? x / norm : 0));
}

/** The original's distance: np.linalg.norm(normalize(candidate) - query) on the D_s-prefixes. */
function distance(query: Float32Array, candidate: Float32Array): number {
  const q = unit(query), c = unit(candidate);
  let sum = 0;
  for (let i = 0; i < q.length; i++) sum += (q[i] - c[i]) ** 2;
  return Math.sqrt(sum);
}

/** The rows of the first `length` candidates of every query, by id: read once, as the database may not fit in memory. */
function candidateRows(database: mrl.DatabaseVectors, shortlist: mrl.IntMatrix, length: number, dim: number): Map<number, Float32Array> {
  const ids = new Set<number>();
  for (let q = 0; q < shortlist.rows; q++) mrl.row(shortlist, q).subarray(0, length).forEach((id) => ids.add(id));
  const sorted = Int32Array.from(ids).sort();
  const rows = new Float32Array(sorted.length * dim);
  database.gatherRows(sorted, dim, rows);
  return new Map(Array.from(sorted, (id, i) => [id, rows.subarray(i * dim, (i + 1) * dim)]));
}

/** Adaptive retrieval: each query's first `length` candidates, nearest first at `dim` dims. */
function rerankReference(rows: Map<number, Float32Array>, queries: mrl.Matrix, shortlist: mrl.IntMatrix, dim: number, length: number): mrl.IntMatrix {
  const out = mrl.intMatrix(queries.rows, length);
  for (let q = 0; q < queries.rows; q++) {
    const query = mrl.row(queries, q).subarray(0, dim);
    const scored = Array.from(mrl.row(shortlist, q).subarray(0, length), (id, position) =>
      ({ id, position, d: distance(query, rows.get(id)!) }));
    scored.sort((a, b) => a.d - b.d || a.position - b.position);
    scored.forEach((c, j) => { out.data[q * length + j] = c.id; });
  }
  return out;
}
"""),
    ("md", """
## The reference and the fast kernel agree
On the first `rerankCheck.queries` queries of `rerankCheck.adaptive` (the experiment's first adaptive configuration): the cell above and the library's
`mrl.rerank` (the native kernel on several threads, in the experiment's `rerankPrecision`) must give the same
ids, up to the order of candidates at equal distance (`mrl.compareRankings`, like faiss contrib's
`check_ref_knn_with_draws`).
"""),
    ("ts", """
const model = experiment.models.find((m) => m !== "ff"); // ff: one model per size, nothing to rerank
const adaptive = rerankCheck.adaptive;
if (model === undefined || adaptive === undefined) console.log("this experiment has no adaptive retrieval to check (ff models rerank nothing)");
else {
  const arrays = mrl.experimentArrays(experiment, model); // the database stays in its file when over the memory budget
  const spec = mrl.experimentSpec(experiment, model, experiment.indexTypes[0]);
  const shortlist = mrl.loadShortlist(mrl.neighborsPath(spec, adaptive.retrievalDim, experiment.k), arrays, "run faiss_nn.ipynb first");
  const n = Math.min(rerankCheck.queries, arrays.queries.rows), dim = adaptive.rerankDim, length = adaptive.shortlist;
  const someQueries = mrl.matrix(n, arrays.queries.cols, arrays.queries.data.subarray(0, n * arrays.queries.cols));
  const theirShortlists = mrl.intMatrix(n, shortlist.cols, shortlist.data.subarray(0, n * shortlist.cols));
  const rows = candidateRows(arrays.database, theirShortlists, length, dim);
  const reference = rerankReference(rows, someQueries, theirShortlists, dim, length);
  const fast = mrl.rerank(arrays.database, someQueries, theirShortlists, dim, length, { precision: experiment.rerankPrecision });
  const tolerance = 1e-5; // relative: float32 sums over 2048 dims round at about 1e-6
  const agreement = mrl.compareRankings(reference, fast,
    (q, id) => distance(mrl.row(someQueries, q).subarray(0, dim), rows.get(id)!), tolerance);
  console.log(`${adaptive.retrievalDim}->${dim} @${length} on ${n} queries: ${agreement.identical} identical, ${agreement.tiesOnly} differ only ` +
    `in the order of candidates at equal distance (within ${tolerance}, ${experiment.rerankPrecision} rounding), ${agreement.differing.length} differ`);
  if (agreement.differing.length > 0) throw new Error(`the kernel and the reference disagree on queries ${agreement.differing.slice(0, 10)}`);
}
"""),
    ("md", "## Rerank every configuration\nAll adaptive and funnel configurations of the experiment, for every model and index type, with the fast kernel. Outputs made with the same settings from unchanged shortlists and arrays are kept (see each folder's `manifest.json`)."),
    ("ts", """
const rerankRows = mrl.runReranking(experiment).flatMap(({ model, indexType, result }) => result.map((r) => ({
  model, index: indexType, kind: r.kind, seconds: r.skipped ? "up to date" : r.seconds, file: r.file.split("/").pop()! })));
tslab.display.html(mrl.htmlTable(rerankRows as any, 2));
"""),
    ("md", """
## The original's funnel order
The original notebook runs its three cascades one after the other on one shortlist array, and each step writes
into a numpy view of it (`neighbors[:, :L]`). So its 2nd cascade starts from the 1st's reordering and its 3rd
from the 2nd's: the 3rd's 200 candidates were already picked from 800 at 16-64 d, like a longer funnel. Its
published funnel numbers were made that way; here each cascade starts from the untouched shortlist.
Measured on the full Fashion-MNIST run with the original's numpy arithmetic (`/usr/bin/python3 bench/funnel_quirk.py`,
10,000 queries, D_r = 8, dims [16, 32, 64, 128, 2048]):

| cascade | top-10 ids changed (as sets) | mAP@10 in place / clean | top-1 in place / clean |
|---|---|---|---|
| [800, 400, 200, 50, 10] | 0 | 0.87697 / 0.87697 | 0.9170 / 0.9170 |
| [400, 200, 50, 25, 10] | 13.5% (4.3%) | 0.87682 / 0.87690 (-0.00008) | 0.9169 / 0.9168 (+0.0001) |
| [200, 100, 50, 25, 10] | 31.5% (12.3%) | 0.87678 / 0.87622 (+0.00057) | 0.9165 / 0.9155 (+0.0010) |

Many ids move, mostly within the top 10, but mAP@10 changes by at most 0.0006: below the 0.001 that would
warrant an "original order" option, so there is none. The next cell repeats the comparison with the library on
this experiment's funnels that share a shortlist (a single funnel is the same either way).
"""),
    ("ts", """
/** A copy of an id matrix: the in-place order below writes into its array. */
const copyOf = (m: mrl.IntMatrix): mrl.IntMatrix => mrl.intMatrix(m.rows, m.cols, m.data.slice());

/** The original's order: funnels one after another on one array, each step writing into its first L columns (a numpy view). */
function funnelsInPlace(arrays: mrl.RetrievalArrays, candidates: mrl.IntMatrix, funnels: mrl.FunnelSpec[]): mrl.IntMatrix[] {
  const shared = copyOf(candidates);
  return funnels.map((f) => {
    f.dims.forEach((dim, i) => {
      const step = mrl.rerank(arrays.database, arrays.queries, shared, dim, f.shortlists[i], { precision: experiment.rerankPrecision });
      for (let q = 0; q < step.rows; q++) shared.data.set(mrl.row(step, q), q * shared.cols);
    });
    return copyOf(mrl.firstColumns(shared, f.shortlists[f.shortlists.length - 1])); // the later funnels keep writing into `shared`
  });
}
"""),
    ("ts", """
const cascades = experiment.funnels.filter((f) => f.retrievalDim === experiment.funnels[0]?.retrievalDim);
if (model === undefined || cascades.length === 0) console.log("this experiment has no funnels");
else {
  const arrays = mrl.experimentArrays(experiment, model);
  const spec = mrl.experimentSpec(experiment, model, experiment.indexTypes[0]);
  const candidates = mrl.loadShortlist(mrl.neighborsPath(spec, cascades[0].retrievalDim, experiment.k), arrays, "run faiss_nn.ipynb first");
  const inPlace = funnelsInPlace(arrays, candidates, cascades);
  const orderRows = cascades.map((f, c) => {
    const clean = mrl.funnelRerank(arrays.database, arrays.queries, candidates, f, { precision: experiment.rerankPrecision });
    const k = Math.min(10, clean.cols);
    const [a, b] = [inPlace[c], clean].map((s) => mrl.computeMetrics(s, arrays.queryLabels, arrays.databaseLabels, [k]));
    const changed = clean.data.filter((id, i) => i % clean.cols < k && id !== inPlace[c].data[i]).length / (clean.rows * k);
    return { cascade: `[${f.shortlists}]`, [`top-${k} ids changed`]: changed, [`mAP@${k} in place`]: a.atK[0].mAP,
      [`mAP@${k} clean`]: b.atK[0].mAP, "top-1 in place": a.top1, "top-1 clean": b.top1 };
  });
  tslab.display.html(mrl.htmlTable(orderRows as any, 5));
}
"""),
])

write_notebook("notebooks/compute_metrics.ipynb", [
    ("md", """
# compute_metrics: mAP@k, precision@k, recall@k, top-k

For every shortlist (exact search per dim, adaptive, funnel): top-1 and, for each k of the experiment's
`metricKs` (funnels: only k up to the final shortlist), mAP@k, precision@k, recall@k (hits / database items
of the query's class; `recallDenominator: 1300` reproduces the original's ImageNet constant) and top-k
accuracy. MFLOPs per query: exact d·N, adaptive D_r·N + D_s·L, funnel D_r·N + Σ dims·shortlists.
An HNSW shortlist (`hnsw8`, `hnsw32`) also gets `recall@10 vs exact`: the share of exact search's top 10 (the
same experiment's `exactl2` shortlist at the same dim) found in the HNSW top 10, averaged over queries; blank
where the experiment has no `exactl2`.
"""),
    ("ts", IMPORTS),
    ("md", CONFIG_MD_WITH_SETTINGS),
    ("ts", config("""
const apCheck = { queries: 500, model: experiment.models[0] }; // the AP cell's comparison with the library
// the gallery: nested dims side by side (ff has one model per size); also { queries: [...] } or { dims: [...] }
const galleryOptions = { model: experiment.models.find((m) => m !== "ff"), count: 4 };
""")),
    ("md", """
## The metric
Average precision at k as the original defines it: the precision at each position where the neighbour is in
the query's class, summed, divided by k (not by the number of relevant items, as the textbook AP is). Edit it
and the next cell compares your mAP@k with the library's on a few queries.
"""),
    ("ts", """
/** AP@k of one query: `hits[p]` says whether neighbour p is in the query's class. */
function averagePrecisionAtK(hits: boolean[], k: number): number {
  let found = 0, sum = 0;
  for (let p = 0; p < k; p++) {
    if (hits[p]) {
      found++;
      sum += found / (p + 1);
    }
  }
  return sum / k;
}
"""),
    ("ts", """
const k = experiment.metricKs[0], dim = Math.max(...experiment.nesting), model = apCheck.model;
// as the metrics stage reads them: V2's database labels are 1K's, an ff model's are its size's
const { databaseLabels, queryLabels } = mrl.experimentLabels(experiment, model, dim);
const neighbours = mrl.readShortlist(mrl.neighborsPath(mrl.experimentSpec(experiment, model, experiment.indexTypes[0]), dim, experiment.k));
const n = Math.min(apCheck.queries, queryLabels.length);
let apSum = 0;
for (let q = 0; q < n; q++) {
  const hits = Array.from(mrl.row(neighbours, q).subarray(0, k), (id) => id >= 0 && databaseLabels[id] === queryLabels[q]);
  apSum += averagePrecisionAtK(hits, k);
}
const firstRows = mrl.intMatrix(n, neighbours.cols, neighbours.data.subarray(0, n * neighbours.cols));
const library = mrl.computeMetrics(firstRows, queryLabels.subarray(0, n), databaseLabels, [k]).atK[0].mAP;
console.log(`mAP@${k} at ${dim}d on the first ${n} queries: this cell ${(apSum / n).toFixed(6)}, the library ${library.toFixed(6)}`);
"""),
    ("md", """
## Evaluate
One table per model and index type, saved as `metrics/<model>/<DATASET>_<index>_metrics.csv` and `.json` under the root, and read back
when the shortlists and settings they were computed from are unchanged.
"""),
    ("ts", """
const rows: mrl.MetricsRow[] = [];
for (const { result } of mrl.runMetrics(experiment)) {
  console.log(`${result.skipped ? "up to date" : "saved"} ${result.file}`);
  rows.push(...result.rows);
}
"""),
    ("md", """
## Summary: top-1 and mAP@10 by configuration
"""),
    ("ts", """
// HNSW tables add recall@10 vs exact (blank for exact search itself)
const withRecall = rows.some((r) => r[mrl.RECALL_VS_EXACT_COLUMN] !== undefined) ? [mrl.RECALL_VS_EXACT_COLUMN] : [];
const summary = mrl.metricsDataFrame(rows, ["model", "index", "method", "config", "MFLOPs", "top1", "mAP@10", "precision@10", "recall@10", "top-10", ...withRecall]);
tslab.display.html(mrl.htmlTable(summary));
"""),
    ("md", """
## Figures
The paper's figures on this data: mAP@10 against the cost of a query (exact search at each dim, adaptive
and funnel retrieval), and metrics against representation size for MRL vs FF. plotly.js is embedded from
the package, so the figures render offline and in the exported HTML.
"""),
    ("ts", """
tslab.display.html(mrl.figureHtml(mrl.metricVsMflopsFigure(rows, "mAP@10")));
"""),
    ("ts", """
["mAP@10", "precision@10", "top-10"].forEach((metric, i) =>
  tslab.display.html(mrl.figureHtml(mrl.metricVsDimFigure(rows, metric), { includePlotly: i === 0 })));
"""),
    ("md", """
## Retrieval gallery
Queries where the smallest representation goes wrong and the full one gets it right (one per class), plus
an easy one: the top-10 neighbours at several dims and after adaptive retrieval, green = same class as the
query. Add `queries: [...]` to `galleryOptions` in the configuration cell to look at your own picks, or
`dims: [...]` for other sizes.
"""),
    ("ts", """
const gallery = galleryOptions.model === undefined ? undefined : await mrl.experimentGallery(experiment, galleryOptions);
if (gallery) tslab.display.html(gallery.html);
else console.log("no gallery: it shows the dims of one nested model, and this experiment has only ff (one model per size)");
"""),
    ("md", """
## Figure files for reports
PNG (2x) and SVG of every figure, rendered by headless Chromium from the same plotly specs, plus the gallery
as PNG, into the results folder (`MRL_RESULTS`, default `results/`). `npm run pipeline` also writes
`results/report.html`.
"""),
    ("ts", """
const figuresDir = `${mrl.resultsDir()}/figures`;
const files = await mrl.renderFigureFiles(mrl.reportFigures(rows), figuresDir);
if (gallery) files.push(await mrl.renderHtmlToPng(mrl.galleryPage(gallery.html), `${figuresDir}/retrieval_gallery.png`, ".mrl-gallery", { scale: 2 }));
console.log(files.map((f) => f.split("/").slice(-2).join("/")).join("\\n"));
"""),
    ("md", """
## All metrics (danfojs DataFrame)
"""),
    ("ts", """
const full = mrl.metricsDataFrame(rows);
console.log(`${full.shape[0]} rows x ${full.shape[1]} columns`);
tslab.display.html(mrl.htmlTable(full));
"""),
])

write_notebook("notebooks/sweep.ipynb", [
    ("md", """
# Sweep: which configuration is best for my budget?

The original picks D_r, D_s, the shortlist length L and the funnel cascades by hand. This notebook evaluates a
whole grid of them on the experiment's first MRL model: exact search per dim, adaptive retrieval for every
D_r x L x D_s with D_s > D_r, and funnels made by a rule (dims doubling from D_r, shortlists halving from the
first, ending at the largest dim and 10). Each adaptive and funnel configuration runs behind several first stages:
exact search, HNSW32, IVF with its clusters made at a smaller prefix (AdANNS), PQ, OPQ, SQ8 and median-centred
sign bits searched by Hamming distance (FAISS indexes, built once per dim). For each configuration: mAP@10, top-1,
precision@10, nDCG@10, recall@10 against exact search at the largest dim (ann-benchmarks: a neighbour within 1e-3
of the 10th true distance counts), MFLOPs per query (the paper's cost model, with FAISS's own distance counts for
HNSW and IVF), and measured time: all queries as one batch (ms per query, QPS) and one query at a time (p50, p95).
Every first-stage dim is searched once; all configurations rerank from those shortlists.
The same runs from the command line: `npm run mrl -- sweep`.
"""),
    ("ts", IMPORTS + 'import * as path from "node:path";\n'),
    ("md", CONFIG_MD_WITH_SETTINGS),
    ("ts", config("""
const sweepOptions: mrl.SweepOptions = { latencyQueries: 100 }; // queries timed one at a time (p50, p95 ms), as `mrl sweep --latency-queries`
// the planner's questions: within `mapBelowExact` mAP@10 of exact search, or within a budget per query
const plannerAsks = { mapBelowExact: 0.001, maxMflops: 1, maxMsPerQuery: 0.1 };
""")),
    ("md", """
## The grid
Each axis is a list: edit them here, or in the experiment file's `"sweep"` field (the fields it gives replace the
default grid's; the CLI reads it too). `funnels` generates cascades from rules (`dimGrowth`, `shortlistShrink`,
`finalDim`, `finalShortlist` are the rule's other knobs). `firstStages` names the first stages (`exact`,
`hnsw32`, `ivf256-p16-c8`: 256 lists probed 16 at a time, clustered at 8 dims, `pq8`, `opq8`, `sq8`, `binary`) and
`firstStageDims` gives a stage its own D_r (sign bits pay off at long prefixes). A bad grid (a shortlist longer than the search's k, no
D_s above any D_r, nothing at all) stops with one line saying what to change; the default's values that do not fit
the arrays (dims above their width, shortlists over their rows) are left out with a note.
"""),
    ("ts", """
const model = experiment.models.find((m) => m !== "ff") ?? experiment.models[0];
const arrays = mrl.experimentArrays(experiment, model);
const database = arrays.database.matrix();
// the default grid fitted to the arrays (each change printed); fields the experiment sets are checked as given
const grid: mrl.SweepGrid = mrl.sweepGridWith(experiment.sweep, { rows: database.rows, cols: database.cols, onNote: (line) => console.log(`note: ${line}`) });
// checked against the same limits as runSweep and `mrl sweep` (the longest shortlist, the dims, the rows)
console.log(`${mrl.expandGrid(grid, mrl.sweepLimits(grid, database)).length} configurations on ${model}: ` +
  `${database.rows} database rows, ${arrays.queries.rows} queries`);
"""),
    ("md", """
## Run it
"""),
    ("ts", """
const result = mrl.runSweep(database, arrays.queries, arrays.databaseLabels, arrays.queryLabels, grid, sweepOptions);
console.log(mrl.sweepSummary(result).join("\\n"));
"""),
    ("md", """
## The Pareto front and the paper's points
The non-dominated configurations: no other one is both cheaper and at least as good. The paper's hand-picked
exact 2048-d, adaptive 16 -> 2048 @200 and funnel [16, 32, 64, 128, 2048] @[200, 100, 50, 25, 10] are ringed.
"""),
    ("ts", """
tslab.display.html(mrl.figureHtml(mrl.sweepMflopsFigure(result)));
tslab.display.html(mrl.figureHtml(mrl.sweepRecallQpsFigure(result), { includePlotly: false }));
const front = mrl.sweepFronts(result.rows).byMflops.map((r) => ({ configuration: r.label, "mAP@10": r["mAP10"], "top-1": r.top1,
  "recall@10": r.recall10, MFLOPs: r.mflops, "ms/query": r.msPerQuery, QPS: Math.round(r.qps), "p50 ms": r.p50Ms, "p95 ms": r.p95Ms }));
tslab.display.html(mrl.htmlTable(front as any, 4));
"""),
    ("md", """
## The planner
`bestConfig` answers "the best mAP@10 within a budget" (`maxMflops`, `maxMsPerQuery`) or "the cheapest
configuration that reaches a target" (`minMap`, cheapest by MFLOPs or by time).
"""),
    ("ts", """
const exact = mrl.planAgainstExact(result)!;
const asks: [string, mrl.PlanRequest][] = [
  [`within ${plannerAsks.mapBelowExact} mAP@10 of exact, fewest MFLOPs`, { minMap: exact.exact.mAP10 - plannerAsks.mapBelowExact }],
  [`within ${plannerAsks.mapBelowExact} mAP@10 of exact, least time`, { minMap: exact.exact.mAP10 - plannerAsks.mapBelowExact, minimize: "time" }],
  [`best mAP@10 at ${plannerAsks.maxMflops} MFLOP per query or less`, { maxMflops: plannerAsks.maxMflops }],
  [`best mAP@10 at ${plannerAsks.maxMsPerQuery} ms per query or less`, { maxMsPerQuery: plannerAsks.maxMsPerQuery }],
];
tslab.display.html(mrl.htmlTable(asks.map(([ask, request]) => {
  const r = mrl.bestConfig(result.rows, request);
  return { ask, configuration: r?.label ?? "none fits", "mAP@10": r?.mAP10 ?? NaN, MFLOPs: r?.mflops ?? NaN,
    "x fewer MFLOPs than exact": r ? exact.exact.mflops / r.mflops : NaN, "x less time than exact": r ? exact.exact.msPerQuery / r.msPerQuery : NaN };
}) as any, 4));
"""),
    ("md", """
## Files
The table of every configuration as CSV, and both figures as PNG and SVG, in the results folder.
"""),
    ("ts", """
// named as `mrl sweep` names them, so `mrl report` finds this sweep too
const sweepCsv = mrl.sweepCsvFile(mrl.resultsDir(), experiment.dataset, model);
mrl.saveSweepCsv(result, sweepCsv);
const sweepFiles = await mrl.renderFigureFiles(mrl.sweepFigureFiles(experiment.dataset, model, result), path.dirname(sweepCsv));
console.log(`wrote ${path.basename(sweepCsv)} and ${sweepFiles.length} figure files to ${path.dirname(sweepCsv)}`);
"""),
])

write_notebook("notebooks/serving.ipynb", [
    ("md", """
# Serving: the chosen configuration from Postgres + pgvector

The sweep says which configuration to use; this notebook serves it from Postgres with pgvector, the vector
database most teams already run, and measures what that deployment returns against the in-process pipeline.
Matryoshka retrieval in pgvector is an expression index on the normalized prefix,
`l2_normalize(subvector(e, 1, D_r))`, and a rerank by the normalized D_s prefix in the same statement. Every query
runs as one SQL statement; its shortlists are written under the index type's own name (e.g. `pgvector-hnsw16`),
so the metrics table, the report and the figures take them as they take FAISS's, with QPS and p50/p95 per statement.
By default Postgres is PGlite in process (its data under `<root>/postgres`, nothing to install);
`postgres.databaseUrl` in the experiment (or `--database-url` on the CLI) points it at a server with pgvector.
The same runs from the command line: `npm run mrl -- postgres --experiment experiments/fmnist-postgres.json`.
"""),
    ("ts", IMPORTS),
    ("md", CONFIG_MD.rstrip("\n") + """ Here the default file is `experiments/fmnist-postgres.json` (HNSW m=16 at 16 dims,
rerank at 2048); an experiment without a `pgvector-*` index type gets `pgvector-hnsw16` beside its own. The
`postgres` field holds `dims` (the first-stage dims with an index), `efConstruction`, `efSearch`, `probes`,
`halfvec` and `databaseUrl`.
"""),
    ("ts", """
const experimentFile = process.env.MRL_EXPERIMENT ?? "../experiments/fmnist-postgres.json";
const loaded = mrl.loadExperiment({}, experimentFile);
const experiment = loaded.indexTypes.some((t) => t.startsWith("pgvector-")) ? loaded
  : mrl.loadExperiment({ indexTypes: [...loaded.indexTypes, "pgvector-hnsw16"] }, experimentFile);
console.log(mrl.describeExperiment(experiment));
"""),
    ("md", """
## The SQL
What Postgres runs: the index on each first-stage dim, the session settings, and one statement per query for the
first stage, each adaptive configuration and each funnel (nested subqueries, each level re-ordering what the
level inside it kept). `$1` is the query's whole vector.
"""),
    ("ts", """
for (const [label, statement] of Object.entries(mrl.postgresSql(experiment))) console.log(`-- ${label}\\n${statement};\\n`);
"""),
    ("md", """
## Serve every query
The in-process pipeline first (exact search and reranking, skipped when up to date), then Postgres: the database is
loaded once (a second run finds its fingerprint and does not reload; a killed load resumes), the indexes built,
every query run. Then the metrics tables of both.
"""),
    ("ts", """
mrl.runSearch(experiment);
mrl.runReranking(experiment);
for (const run of await mrl.runPostgres(experiment)) {
  console.log(`${run.model}/${run.indexType}: load ${run.load?.action ?? "not needed"}, ` +
    `${run.files.filter((f) => !f.skipped).length} of ${run.files.length} shortlists served`);
}
const rows = mrl.runMetrics(experiment).flatMap((run) => run.result.rows);
"""),
    ("md", """
## Postgres beside the in-process pipeline
The same configurations, side by side: quality (mAP@10, top-1, recall@10 against exact search at the first-stage
dim) and, for the served ones, queries per second over all statements and one statement's p50 / p95 in ms.
"""),
    ("ts", """
const columns = ["model", "index", "method", "config", "mAP@10", "top1", "recall@10 vs exact", "QPS", "p50 ms", "p95 ms"];
tslab.display.html(mrl.htmlTable(rows.map((r) => Object.fromEntries(columns.map((c) => [c, r[c] ?? ""]))) as any, 4));
tslab.display.html(mrl.figureHtml(mrl.metricVsMflopsFigure(rows, "mAP@10")));
"""),
])
