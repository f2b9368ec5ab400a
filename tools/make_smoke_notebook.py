import sys
sys.path.insert(0, sys.path[0])
from nb import write_notebook

write_notebook("notebooks/smoke.ipynb", [
    ("md", """
# Environment check

Runs in a few seconds and proves the pieces every other notebook relies on: the library imports by package
name, .npy files round-trip, artifact names follow the original MRL notebooks, and FAISS (faiss-node built
against Debian's FAISS) searches typed arrays.
"""),
    ("ts", """
import * as tslab from "tslab";
import * as os from "node:os";
import * as path from "node:path";
import * as fs from "node:fs";
import * as mrl from "@mrl-retrieval/lib";
"""),
    ("md", "## Arrays and .npy files"),
    ("ts", """
const scratch = fs.mkdtempSync(path.join(os.tmpdir(), "mrl-smoke-"));
const vectors = mrl.matrix(4, 3, Float32Array.from([1, 0, 0, 0, 1, 0, 0, 0, 1, 1, 1, 0]));
const file = mrl.arrayPath(scratch, "DEMO", "train", "mrl", "X");
mrl.writeMatrixNpy(file, vectors);
const back = mrl.readMatrixNpy(file);
console.log(`${path.basename(file)}: ${back.rows} x ${back.cols}, sum ${back.data.reduce((a, b) => a + b, 0)}`);
"""),
    ("md", "## Artifact names (as the original notebooks spell them)"),
    ("ts", """
const spec: mrl.ArtifactSpec = { root: "data/retrieval", model: "mrl", dataset: "FMNIST", indexType: "exactl2" };
const names = [
  mrl.indexPath(spec, 16),
  mrl.neighborsPath(spec, 16, 2048),
  mrl.rerankedPath(spec, { retrievalDim: 16, rerankDim: 2048, shortlist: 200 }),
  mrl.funnelPath(spec, { retrievalDim: 8, dims: [16, 32, 64, 128, 2048], shortlists: [200, 100, 50, 25, 10] }),
];
tslab.display.html("<ul>" + names.map((n) => `<li><code>${n}</code></li>`).join("") + "</ul>");
"""),
    ("md", "## FAISS on typed arrays"),
    ("ts", """
const index = mrl.FaissIndex.create("exactl2", 3);
index.add(vectors);
const knn = index.search(mrl.matrix(1, 3, Float32Array.from([0.9, 0.1, 0])), 2);
console.log(`nearest ids: ${Array.from(knn.labels).join(", ")}`);
fs.rmSync(scratch, { recursive: true, force: true });
"""),
])
