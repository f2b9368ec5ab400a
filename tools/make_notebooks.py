"""Writes the pipeline notebooks (run from the project root: /usr/bin/python3 tools/make_notebooks.py).
The .ipynb files are the source of truth once written; this script keeps their first version reviewable."""
import sys
sys.path.insert(0, sys.path[0])
from nb import write_notebook

IMPORTS = """
import * as tslab from "tslab";
import * as mrl from "@mrl-retrieval/lib";
"""

CONFIG_MD = """
## Configuration
`loadConfig()` picks a preset: `"paper"` (the original notebooks' settings), `"quick"` or `"test"`
(`MRL_PRESET` selects it when the notebook runs headless). Override any field here, e.g.
`mrl.loadConfig("paper", { indexTypes: ["exactl2", "hnsw32"] })`.
"""

write_notebook("notebooks/inference.ipynb", [
    ("md", """
# Inference: database and query embeddings

Stage 1, like the original `pytorch_inference.py --retrieval`: the ONNX MRL model embeds the database
(train split) and the queries (val/test split) into 2048-d nested representations, saved as
`<DATASET>_train_<config>-X.npy` / `-y.npy` and `<DATASET>_val_<config>-X.npy` / `-y.npy`.
The default data is Fashion-MNIST with the shipped models (`data/models/`, trained by
`python/train_fmnist.py`): `mrl` (Matryoshka heads at 8..2048) and `ff` (one 2048-d head).
"""),
    ("ts", IMPORTS),
    ("md", CONFIG_MD),
    ("ts", """
const config = mrl.loadConfig();
console.log(`root: ${config.root}\\ndataset: ${config.dataset}, models: ${config.models.join(", ")}` +
  (config.inferenceLimit ? `, first ${config.inferenceLimit.database} / ${config.inferenceLimit.queries} images` : ""));
"""),
    ("md", "## The models\nTest accuracy of each nesting size's linear head, from the model cards."),
    ("ts", """
const cards = await Promise.all(config.models.map(async (kind) => (await mrl.loadEmbeddingModel(mrl.defaultModelFile(kind)))));
tslab.display.html(mrl.htmlTable(cards.map((m) => ({ model: m.card?.name ?? m.file, input: `${m.input.channels}x${m.input.height}x${m.input.width}`,
  ...Object.fromEntries(Object.entries(m.card?.test_accuracy ?? {}).map(([dim, acc]) => [`acc@${dim}`, acc])) })) as any));
"""),
    ("md", "## Embed database and queries\nA split is skipped when its arrays were made by this model from the same images (see `manifest.json` in the root)."),
    ("ts", """
for (const kind of config.models) {
  const result = await mrl.runInferenceStage(config, kind);
  console.log(result.skipped ? `${kind}: arrays up to date` :
    `${kind}: ${result.imagesPerSecond!.database.toFixed(0)} images/s (database), ${result.imagesPerSecond!.queries.toFixed(0)} images/s (queries)`);
}
"""),
    ("ts", """
for (const kind of config.models) {
  const arrays = mrl.loadRetrievalArrays(config.root, config.dataset, kind);
  console.log(`${kind}: database ${arrays.database.rows} x ${arrays.database.cols}, queries ${arrays.queries.rows} x ${arrays.queries.cols}`);
}
"""),
])

write_notebook("notebooks/faiss_nn.ipynb", [
    ("md", """
# faiss_nn: index and search every nesting size

For each nesting dim d: take the first d dims of database and queries, L2-normalize rows, build a FAISS
index (`exactl2` = IndexFlatL2, `hnsw8` / `hnsw32` = IndexHNSWFlat with M = 8 / 32), cache it as
`index_files/<model>/<DATASET>_<d>dim_<index>.index` and write the k-NN shortlist
`neighbors/<model>/<index>_<d>dim_<k>shortlist_<DATASET>.csv`. Index files and shortlists load in Python
(`faiss.read_index`, `pd.read_csv(header=None)`).
"""),
    ("ts", IMPORTS),
    ("md", CONFIG_MD),
    ("ts", """
const config = mrl.loadConfig();
console.log(`models ${config.models}, index types ${config.indexTypes}, k=${config.k}, nesting [${config.nesting}]`);
"""),
    ("md", "## Build and search\nIndexes and shortlists made with the same settings from unchanged arrays are kept (see each folder's `manifest.json`)."),
    ("ts", """
const searchRows: Record<string, string | number>[] = [];
for (const model of config.models) {
  const arrays = mrl.loadRetrievalArrays(config.root, config.dataset, model);
  for (const indexType of config.indexTypes) {
    const spec = mrl.experimentSpec(config, model, indexType);
    for (const r of mrl.runIndexSearch(spec, arrays, { k: config.k, nesting: config.nesting, efSearch: config.efSearch })) {
      searchRows.push({ model, index: indexType, dim: r.dim, action: r.action, "build s": r.buildSeconds, "search s": r.searchSeconds,
        shortlist: r.neighborsFile.split("/").pop()! });
    }
  }
}
tslab.display.html(mrl.htmlTable(searchRows as any, 2));
"""),
])

write_notebook("notebooks/reranking.ipynb", [
    ("md", """
# Reranking: adaptive and funnel retrieval

**Adaptive retrieval**: take the k-NN shortlist found with a small D_r, rerank its first L candidates by L2
distance at a larger D_s. **Funnel retrieval**: rerank repeatedly with growing dims and shrinking
shortlists, e.g. D_r = 8, dims [16, 32, 64, 128, 2048], shortlists [200, 100, 50, 25, 10].
As in the original, candidates' D_s-prefixes are L2-normalized before the distance; the query prefix is
normalized too, which gives the same order (see `lib/src/rerank.ts`).
"""),
    ("ts", IMPORTS),
    ("md", CONFIG_MD),
    ("ts", """
const config = mrl.loadConfig();
console.log(`adaptive: ${config.adaptive.map((a) => `${a.retrievalDim}->${a.rerankDim} @${a.shortlist}`).join(", ")}`);
console.log(`funnel: D_r=${config.funnel.retrievalDim}, dims [${config.funnel.dims}], shortlists ${config.funnel.shortlistSets.map((s) => `[${s}]`).join(" ")}`);
"""),
    ("md", "## Rerank\nOutputs made with the same settings from unchanged shortlists and arrays are kept (see each folder's `manifest.json`)."),
    ("ts", """
const rerankRows: Record<string, string | number>[] = [];
for (const model of config.models) {
  const arrays = mrl.loadRetrievalArrays(config.root, config.dataset, model);
  for (const indexType of config.indexTypes) {
    const spec = mrl.experimentSpec(config, model, indexType);
    for (const r of mrl.runRerankStage(spec, arrays, { k: config.k, adaptive: config.adaptive, funnels: mrl.funnelSpecs(config) })) {
      rerankRows.push({ model, index: indexType, kind: r.kind, seconds: r.skipped ? "up to date" : r.seconds, file: r.file.split("/").pop()! });
    }
  }
}
tslab.display.html(mrl.htmlTable(rerankRows as any, 2));
"""),
])

write_notebook("notebooks/compute_metrics.ipynb", [
    ("md", """
# compute_metrics: mAP@k, precision@k, recall@k, top-k

For every shortlist (exact search per dim, adaptive, funnel): top-1 and, for k in [10, 25, 50, 100]
(funnels: only k up to the final shortlist), mAP@k (sum of precision at each hit position / k, as the
original), precision@k, recall@k (hits / database items of the query's class; `recallDenominator: 1300`
reproduces the original's ImageNet constant) and top-k accuracy. MFLOPs per query: exact d·N,
adaptive D_r·N + D_s·L, funnel D_r·N + Σ dims·shortlists.
"""),
    ("ts", IMPORTS),
    ("md", CONFIG_MD),
    ("ts", """
const config = mrl.loadConfig();
"""),
    ("md", "## Evaluate\nTables are saved as `metrics/<model>/<DATASET>_<index>_metrics.csv` and `.json` under the root, and read back\nwhen the shortlists and settings they were computed from are unchanged."),
    ("ts", """
const rows: mrl.MetricsRow[] = [];
for (const model of config.models) {
  const arrays = mrl.loadRetrievalArrays(config.root, config.dataset, model);
  for (const indexType of config.indexTypes) {
    const spec = mrl.experimentSpec(config, model, indexType);
    const table = mrl.runMetricsStage(spec, config, arrays);
    console.log(`${table.skipped ? "up to date" : "saved"} ${table.file}`);
    rows.push(...table.rows);
  }
}
"""),
    ("md", "## Summary: top-1 and mAP@10 by configuration"),
    ("ts", """
const summary = mrl.metricsDataFrame(rows, ["model", "index", "method", "config", "MFLOPs", "top1", "mAP@10", "precision@10", "recall@10", "top-10"]);
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
query. Pass `{ queries: [...] }` to look at your own picks, or `{ dims: [...] }` for other sizes.
"""),
    ("ts", """
const gallery = await mrl.experimentGallery(config, { model: config.models[0], count: 4 });
tslab.display.html(gallery.html);
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
files.push(await mrl.renderHtmlToPng(mrl.galleryPage(gallery.html), `${figuresDir}/retrieval_gallery.png`, ".mrl-gallery", { scale: 2 }));
console.log(files.map((f) => f.split("/").slice(-2).join("/")).join("\\n"));
"""),
    ("md", "## All metrics (danfojs DataFrame)"),
    ("ts", """
const full = mrl.metricsDataFrame(rows);
console.log(`${full.shape[0]} rows x ${full.shape[1]} columns`);
tslab.display.html(mrl.htmlTable(full));
"""),
])
