"""Python peer of `npm run bench`: the original MRL retrieval notebooks' logic (faiss_nn.ipynb,
reranking.ipynb, compute_metrics.py) with Debian's python3-faiss, numpy and pandas, timed stage by stage on
the same arrays and shortlists as the TypeScript side.

    /usr/bin/python3 bench/retrieval_peer.py JOB.json

JOB.json (written by bench/retrieval.ts) names the arrays, row counts, the shortlists our side saved (so both
rerank the same candidates) and the stages to run. Prints one JSON object per stage on stdout:
{"stage": ..., "seconds": ..., "peak_mib": ..., ...extra values}.
"""
import json
import re
import sys
import time

import faiss
import numpy as np
import pandas as pd


def normalize(x):
    """sklearn.preprocessing.normalize(x, axis=1) (not in Debian's Python): rows to unit L2 norm, zeros stay."""
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    norms[norms == 0] = 1
    return x / norms


def reset_peak():
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        pass


def peak_mib():
    with open("/proc/self/status") as f:
        return int(re.search(r"VmHWM:\s+(\d+) kB", f.read()).group(1)) / 1024


def timed(name, fn, repeat_below=0.0, **extra):
    """Runs fn, repeating (best of up to 3) when a run is shorter than repeat_below seconds; prints the stage."""
    best, peak, result = None, 0.0, None
    for _ in range(3):
        reset_peak()
        t0 = time.perf_counter()
        result = fn()
        seconds = time.perf_counter() - t0
        peak = max(peak, peak_mib())
        best = seconds if best is None else min(best, seconds)
        if seconds >= repeat_below:
            break
    out = {"stage": name, "seconds": best, "peak_mib": peak}
    if isinstance(result, dict):
        out.update({key: v for key, v in result.items() if isinstance(v, (int, float, str))})
    out.update(extra)
    print(json.dumps(out), flush=True)
    return result


# ---- the original notebooks' logic ------------------------------------------------------------------------

def faiss_nn(xb_full, xq_full, d, k, index_type="exactl2"):
    """faiss_nn.ipynb: prefix, normalize_L2, IndexFlatL2 / IndexHNSWFlat(d, 32), add, search."""
    # a copy, as the notebook's fresh np.load per dim is: normalize_L2 works in place
    xb = np.array(xb_full[:, :d], dtype=np.float32, order="C")
    faiss.normalize_L2(xb)
    index = faiss.IndexFlatL2(d) if index_type == "exactl2" else faiss.IndexHNSWFlat(d, 32)
    index.add(xb)
    if index_type != "exactl2":
        index.hnsw.efSearch = k  # FAISS 1.7.3 returns -1 past efSearch results
    xq = np.array(xq_full[:, :d], dtype=np.float32, order="C")
    faiss.normalize_L2(xq)
    D, I = index.search(xq, k)
    return index, I


def naive_rerank(db_rerank, queries, use_cascade, rerank_dim, shortlist, neighbors):
    """reranking.ipynb's naive_rerank, as written (queries and database normalized at 2048 beforehand)."""
    if use_cascade:
        assert len(rerank_dim) == len(shortlist)
    for i in range(len(rerank_dim)):
        db_rerank_new = db_rerank[:, :rerank_dim[i]]
        neighbors_new = neighbors[:, :shortlist[i]].copy()
        for j in range(len(neighbors)):
            query_vector = queries[j][:rerank_dim[i]]
            nn_indices = neighbors_new[j][:shortlist[i]]
            NN_vectors_higher_dim = normalize(db_rerank_new[nn_indices].squeeze())
            L2_distances_reranked = np.linalg.norm(NN_vectors_higher_dim - query_vector[:rerank_dim[i]], axis=1)
            reranked_neighbor_indices = np.argsort(L2_distances_reranked)
            reranked_neighbors = neighbors_new[j, reranked_neighbor_indices]
            neighbors_new[j] = reranked_neighbors
        neighbors = neighbors_new
    return neighbors


def compute_mAP_recall_at_k(val_classes, db_classes, neighbors, k, class_counts):
    """compute_metrics.py's per-query loop; recall over the query class's database count, like ours."""
    APs = list()
    precision, recall, topk = [], [], []
    for i in range(val_classes.shape[0]):
        target = val_classes[i]
        indices = neighbors[i, :][:k]
        labels = db_classes[indices]
        matches = (labels == target)
        hits = np.sum(matches)
        topk.append(1 if hits > 0 else 0)
        tps = np.cumsum(matches)
        recall.append(np.sum(matches) / class_counts[target])
        precision.append(np.sum(matches) / k)
        precs = tps.astype(float) / np.arange(1, k + 1, 1)
        APs.append(np.sum(precs[matches.squeeze()]) / k)
    return np.mean(APs), np.mean(precision), np.mean(recall), np.mean(topk)


def metrics(neighbors, query_labels, db_labels, ks):
    class_counts = np.bincount(db_labels)
    top1 = np.sum(db_labels[neighbors[:, 0]] == query_labels) / query_labels.shape[0]
    out = {"top1": float(top1)}
    for k in ks:
        mAP, precision, recall, topk = compute_mAP_recall_at_k(query_labels, db_labels, neighbors, k, class_counts)
        out["mAP@%d" % k] = float(mAP)
    return out


def main():
    job = json.load(open(sys.argv[1]))
    stages = set(job["stages"])
    work = job["work"]
    n_db, n_q, k = job["n_db"], job["n_q"], job["k"]
    print(json.dumps({"stage": "versions", "faiss": faiss.__version__, "numpy": np.__version__, "pandas": pd.__version__,
                      "python": sys.version.split()[0], "omp_threads": faiss.omp_get_max_threads()}), flush=True)
    if stages - {"scale"}:
        arrays = {}

        def load():
            arrays["xb"] = np.array(np.load(job["database"], mmap_mode="r")[:n_db])
            arrays["xq"] = np.array(np.load(job["queries"], mmap_mode="r")[:n_q])
            arrays["yb"] = np.load(job["database_labels"])[:n_db]
            arrays["yq"] = np.load(job["query_labels"])[:n_q]
        timed("load arrays", load)
        xb_full, xq_full, db_labels, query_labels = arrays["xb"], arrays["xq"], arrays["yb"], arrays["yq"]

    indexes = {}
    for d in job.get("exact_dims", []):
        def run(d=d):
            index, I = faiss_nn(xb_full, xq_full, d, k)
            if d == 2048:
                indexes[d] = index
            return {}
        timed("exact %d" % d, run)

    if "hnsw" in stages:
        def run_hnsw():
            index, I = faiss_nn(xb_full, xq_full, 16, job["hnsw_k"], "hnsw32")
            indexes["hnsw"] = index
            return {}
        timed("hnsw32 16", run_hnsw)

    # reranking.ipynb: queries and database normalized at the full dim once
    if stages & {"rerank", "funnel", "adaptive"}:
        t0 = time.perf_counter()
        queries_n = normalize(xq_full)
        db_n = normalize(xb_full)
        print(json.dumps({"stage": "normalize for rerank", "seconds": time.perf_counter() - t0, "peak_mib": peak_mib()}), flush=True)

    if "rerank" in stages:
        nn16 = np.load(work + "/nn16.npy").astype(np.int64)
        out = timed("rerank", lambda: naive_rerank(db_n, queries_n, 0, [2048], [200], nn16), repeat_below=2.0)
        np.save(work + "/peer_rerank.npy", out)

    if "funnel" in stages:
        nn8 = np.load(work + "/nn8.npy").astype(np.int64)
        out = timed("funnel", lambda: naive_rerank(db_n, queries_n, 1, [16, 32, 64, 128, 2048], [200, 100, 50, 25, 10], nn8), repeat_below=2.0)
        np.save(work + "/peer_funnel.npy", out)

    if "metrics" in stages:
        nn2048 = np.load(work + "/nn2048.npy").astype(np.int64)
        timed("metrics", lambda: metrics(nn2048, query_labels, db_labels, [10, 25, 50, 100]), repeat_below=2.0)

    if "csv" in stages:
        nn2048 = np.load(work + "/nn2048.npy").astype(np.int64)
        timed("csv write", lambda: pd.DataFrame(nn2048).to_csv(work + "/peer.csv", header=None, index=None), repeat_below=2.0)
        timed("csv read", lambda: {"rows": int(pd.read_csv(work + "/peer.csv", header=None).to_numpy().shape[0])}, repeat_below=2.0)

    if "adaptive" in stages:
        def exact_search():
            xq = np.array(xq_full[:, :2048], dtype=np.float32, order="C")
            faiss.normalize_L2(xq)
            D, I = indexes[2048].search(xq, 10)
            return {"I": I}
        r = timed("adaptive: exact 2048", exact_search)
        m_exact = metrics(r["I"], query_labels, db_labels, [10])["mAP@10"]
        print(json.dumps({"stage": "adaptive: exact 2048 mAP@10", "value": m_exact}), flush=True)

        def adaptive():
            xq = np.array(xq_full[:, :16], dtype=np.float32, order="C")
            faiss.normalize_L2(xq)
            D, I = indexes["hnsw"].search(xq, 200)
            return {"I": naive_rerank(db_n, queries_n, 0, [2048], [200], I)[:, :10]}
        r = timed("adaptive: hnsw32 16 + rerank 2048", adaptive)
        m_adaptive = metrics(r["I"], query_labels, db_labels, [10])["mAP@10"]
        print(json.dumps({"stage": "adaptive: hnsw32 16 + rerank 2048 mAP@10", "value": m_adaptive}), flush=True)

    if "scale" in stages:
        s = job["scale"]
        def scale():
            # np.load as the notebook would, but memory-mapped: the 2048-wide file may not fit in memory.
            xb = np.load(s["database"], mmap_mode="r")
            xq = np.load(s["queries"], mmap_mode="r")
            index, I = faiss_nn(xb, xq, s["dim"], s["k"])
            return {"rows": int(index.ntotal)}
        timed("scale", scale)


if __name__ == "__main__":
    main()
