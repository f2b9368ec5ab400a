"""Python peer of `npm run bench`: the original MRL retrieval notebooks' logic (faiss_nn.ipynb,
reranking.ipynb, compute_metrics.py) with Debian's python3-faiss, numpy and pandas, timed stage by stage on
the same arrays and shortlists as the TypeScript side.

    /usr/bin/python3 bench/retrieval_peer.py JOB.json   (then stage commands on stdin, one per line)

JOB.json (written by bench/retrieval.ts) names the arrays, row counts, the nesting dims of the faiss_nn loop
and the queries of the cold/warm rerank rows; the shortlists our side saved in the work folder are the rerank
inputs, so both sides rerank the same candidates. The bench sends one stage at a time, alternating with its
own, so both see the same machine load; each answer is one JSON line:
{"command": ..., "seconds": ..., "peak_mib": ..., ...extra values}.
"""
import gc
import json
import re
import sys
import time

import faiss
import numpy as np
import pandas as pd

from original_metrics import compute_mAP_recall_at_k  # compute_metrics.ipynb's loop, shared by both peers


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


def timed(fn, repeat_below=0.0):
    """Runs fn, repeating (best of up to 3) while a run is shorter than repeat_below seconds.
    Returns {"seconds", "peak_mib"} plus fn's dict result (the last run's)."""
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
    out = {"seconds": best, "peak_mib": peak}
    if isinstance(result, dict):
        out.update(result)
    return out


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


def metrics(neighbors, query_labels, db_labels, ks):
    class_counts = np.bincount(db_labels)
    top1 = np.sum(db_labels[neighbors[:, 0]] == query_labels) / query_labels.shape[0]
    out = {"top1": float(top1)}
    for k in ks:
        mAP, precision, recall, topk = compute_mAP_recall_at_k(query_labels, db_labels, neighbors, k, class_counts)
        out["mAP@%d" % k] = float(mAP)
    return out


class Peer:
    """The stages, run on command so the bench can alternate them with its own: state lives between them."""

    def __init__(self, job):
        self.job = job
        self.work = job["work"]
        self.indexes = {}

    def versions(self):
        return {"faiss": faiss.__version__, "numpy": np.__version__, "pandas": pd.__version__,
                "python": sys.version.split()[0], "omp_threads": faiss.omp_get_max_threads()}

    def load(self):
        job = self.job

        def load():
            self.xb = np.array(np.load(job["database"], mmap_mode="r")[:job["n_db"]])
            self.xq = np.array(np.load(job["queries"], mmap_mode="r")[:job["n_q"]])
            self.yb = np.load(job["database_labels"])[:job["n_db"]]
            self.yq = np.load(job["query_labels"])[:job["n_q"]]
        return timed(load)

    def warmup(self):
        # a process's first FAISS search starts OpenMP's threads and BLAS: kept out of the stages' times
        def run():
            faiss_nn(self.xb[:4096], self.xq[:256], 64, 16)
        return timed(run)

    def faiss_nn_loop(self):
        """faiss_nn.ipynb's loop over the nesting dims on the arrays in memory, with no index files and no CSVs
        (our side writes none either). Also returns each dim's seconds; each dim's top-10 ids are saved after
        the timing, for the agreement check."""
        per_dim, top10 = [], []

        def run():
            per_dim.clear()
            top10.clear()
            for d in self.job["dims"]:
                t0 = time.perf_counter()
                index, I = faiss_nn(self.xb, self.xq, d, self.job["k"])
                per_dim.append(time.perf_counter() - t0)
                top10.append(I[:, :10].copy())
                if d in (16, 2048):
                    self.indexes[d] = index  # the query-time rows search these
                del index, I
        r = timed(run)
        np.save(self.work + "/peer_top10.npy", np.concatenate(top10))
        r["dim_seconds"] = list(per_dim)
        return r

    def hnsw(self):
        def run():
            index, I = faiss_nn(self.xb, self.xq, 16, self.job["hnsw_k"], "hnsw32")
            self.indexes["hnsw"] = index
        return timed(run)

    def normalize_db(self):
        # reranking.ipynb normalizes database and queries at the full dim once, in its own cell; the database's
        # is timed (copy + L2-normalize rows, as faissNormalized on our side), the queries' is not
        r = timed(lambda: setattr(self, "db_n", normalize(self.xb)), repeat_below=2.0)
        self.queries_n = normalize(self.xq)
        return r

    def rerank(self):
        nn16 = np.load(self.work + "/nn16.npy").astype(np.int64)
        out = {}
        r = timed(lambda: out.setdefault("I", naive_rerank(self.db_n, self.queries_n, 0, [2048], [200], nn16)), repeat_below=2.0)
        np.save(self.work + "/peer_rerank.npy", out["I"])
        return r

    def rerank_subset(self):
        """Adaptive retrieval's rerank on the first rerank_queries queries (the bench's cold/warm rows)."""
        n = self.job["rerank_queries"]
        nn16 = np.load(self.work + "/nn16.npy")[:n].astype(np.int64)
        out = {}
        r = timed(lambda: out.setdefault("I", naive_rerank(self.db_n, self.queries_n[:n], 0, [2048], [200], nn16)), repeat_below=2.0)
        np.save(self.work + "/peer_rerank_subset.npy", out["I"])
        return r

    def funnel(self):
        nn8 = np.load(self.work + "/nn8.npy").astype(np.int64)
        out = {}
        r = timed(lambda: out.setdefault("I", naive_rerank(self.db_n, self.queries_n, 1, [16, 32, 64, 128, 2048], [200, 100, 50, 25, 10], nn8)),
                  repeat_below=2.0)
        np.save(self.work + "/peer_funnel.npy", out["I"])
        return r

    def metrics(self):
        nn2048 = np.load(self.work + "/nn2048.npy").astype(np.int64)
        return timed(lambda: metrics(nn2048, self.yq, self.yb, [10, 25, 50, 100]), repeat_below=2.0)

    def csv_write(self):
        nn2048 = np.load(self.work + "/nn2048.npy").astype(np.int64)
        return timed(lambda: pd.DataFrame(nn2048).to_csv(self.work + "/peer.csv", header=None, index=None), repeat_below=2.0)

    def csv_read(self):
        return timed(lambda: {"rows": int(pd.read_csv(self.work + "/peer.csv", header=None).to_numpy().shape[0])}, repeat_below=2.0)

    def adaptive_exact(self):
        def run():
            xq = np.array(self.xq[:, :2048], dtype=np.float32, order="C")
            faiss.normalize_L2(xq)
            D, I = self.indexes[2048].search(xq, 10)
            return {"I": I}
        r = timed(run)
        r["mAP@10"] = metrics(r.pop("I"), self.yq, self.yb, [10])["mAP@10"]
        return r

    def adaptive(self, which):
        def run():
            xq = np.array(self.xq[:, :16], dtype=np.float32, order="C")
            faiss.normalize_L2(xq)
            D, I = self.indexes[which].search(xq, 200)
            return {"I": naive_rerank(self.db_n, self.queries_n, 0, [2048], [200], I)[:, :10]}
        r = timed(run)
        r["mAP@10"] = metrics(r.pop("I"), self.yq, self.yb, [10])["mAP@10"]
        return r

    def free(self):
        for name in ["xb", "xq", "db_n", "queries_n"]:
            self.__dict__.pop(name, None)
        self.indexes.clear()
        gc.collect()
        return {}

    def scale(self):
        s = self.job["scale"]

        def run():
            # np.load as the notebook would, but memory-mapped: the 2048-wide file may not fit in memory.
            xb = np.load(s["database"], mmap_mode="r")
            xq = np.load(s["queries"], mmap_mode="r")
            index, I = faiss_nn(xb, xq, s["dim"], s["k"])
            return {"rows": int(index.ntotal)}
        return timed(run)


def main():
    """Reads stage commands from stdin (one per line), answers each with one JSON line on stdout."""
    peer = Peer(json.load(open(sys.argv[1])))
    commands = {
        "versions": peer.versions, "load": peer.load, "warmup": peer.warmup, "faiss_nn": peer.faiss_nn_loop,
        "hnsw": peer.hnsw, "normalize_db": peer.normalize_db, "rerank": peer.rerank, "rerank_subset": peer.rerank_subset,
        "funnel": peer.funnel, "metrics": peer.metrics, "csv_write": peer.csv_write, "csv_read": peer.csv_read,
        "adaptive_exact": peer.adaptive_exact, "adaptive_hnsw": lambda: peer.adaptive("hnsw"),
        "adaptive_exact16": lambda: peer.adaptive(16), "free": peer.free, "scale": peer.scale,
    }
    for line in sys.stdin:
        command = line.strip()
        if not command:
            continue
        result = commands[command]()
        print(json.dumps({"command": command, **(result or {})}), flush=True)


if __name__ == "__main__":
    main()
