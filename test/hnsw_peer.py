"""The original faiss_nn notebook's HNSW path, for test/hnsw.test.ts: per nesting dim, the database prefix
copied and faiss.normalize_L2'd, IndexHNSWFlat(d, M) built with one add, the normalized query prefix searched.
On one thread (faiss.omp_set_num_threads(1)): HNSW construction is multi-threaded and its graph depends on the
thread count; our side runs on one thread too.

argv: JSON {"database", "queries" (.npy files), "ours" (folder of <index>_<dim>_<run>.npy shortlists), "index_files"
(folder of our .index files, named as faiss_nn names them), "dataset", "dims", "ms", "runs": [{"name", "k", "efSearch"?}]}.
Prints one JSON object: a list of results, one per (M, dim, run).
"""
import json
import sys

import faiss
import numpy as np

from knn_check import check_knn

faiss.omp_set_num_threads(1)
job = json.loads(sys.argv[1])
db, q = np.load(job["database"]), np.load(job["queries"])
results = []
for m in job["ms"]:
    for dim in job["dims"]:
        # copies: at the arrays' full width ascontiguousarray would return db itself, and normalize_L2 works in place
        xb = np.array(db[:, :dim], dtype=np.float32, order="C", copy=True)
        faiss.normalize_L2(xb)
        xq = np.array(q[:, :dim], dtype=np.float32, order="C", copy=True)
        faiss.normalize_L2(xq)
        index = faiss.IndexHNSWFlat(dim, m)
        index.add(xb)
        ours_index = faiss.read_index(f"{job['index_files']}/{job['dataset']}_{dim}dim_hnsw{m}.index")
        graph_equal = all(
            np.array_equal(faiss.vector_to_array(getattr(index.hnsw, f)), faiss.vector_to_array(getattr(ours_index.hnsw, f)))
            for f in ["levels", "offsets", "neighbors"]
        ) and index.hnsw.entry_point == ours_index.hnsw.entry_point
        codes = [faiss.vector_to_array(faiss.downcast_index(i.storage).codes) for i in (index, ours_index)]
        vectors_equal = np.array_equal(*codes)  # normalized vectors, bit for bit
        for run in job["runs"]:
            ef = run.get("efSearch", 16)  # FAISS's default
            index.hnsw.efSearch = ef
            ours_index.hnsw.efSearch = ef
            D, I = index.search(xq, run["k"])
            _, I_file = ours_index.search(xq, run["k"])
            I_new = np.load(f"{job['ours']}/hnsw{m}_{dim}_{run['name']}.npy").astype(np.int64)
            same = I_new == I
            # rows with a missing neighbour (-1) must match exactly; the others tie-aware (check_knn)
            has_missing = (I < 0).any(1) | (I_new < 0).any(1)
            problems = [f"query {i}: ids differ in a row with missing (-1) neighbours" for i in np.nonzero(has_missing & ~same.all(1))[0][:5]]
            full = np.nonzero(~has_missing)[0]
            problems += [f"(among rows without -1) {p}" for p in check_knn(xq, xb, D[full], I[full], I_new[full])[:5]]
            results.append({
                "M": m, "dim": dim, "run": run["name"], "positions": int(same.size), "identicalPositions": int(same.sum()),
                "rows": int(len(I)), "identicalRows": int(same.all(1).sum()), "missing": int((I < 0).sum()),
                "ourMissing": int((I_new < 0).sum()), "problems": problems,
                "fileIdentical": bool(np.array_equal(I_file, I_new)), "graphEqual": bool(graph_equal), "vectorsEqual": bool(vectors_equal),
            })
print(json.dumps(results))
