"""What the original's reading of -1 ids does to the metrics on HNSW shortlists (issue 14: -1 ids).

FAISS HNSW returns -1 where it found fewer than k neighbours. The original compute_metrics notebook then
reads db_labels[-1], the last database item's label, so a -1 counts as a hit for queries of that class; its
reranking notebook likewise reranks a -1 as the last database row. This project counts a -1 as a miss. On the
full Fashion-MNIST arrays this script makes the original's HNSW shortlists (faiss_nn.ipynb: IndexHNSWFlat(d, M)
on normalize_L2'd prefixes, one add, default efSearch, k = 2048) and prints, for each, how many queries have a
-1 within the first 10 / 100 / 200, and the metrics both ways: the shortlist itself, and adaptive retrieval
16 -> 2048 @200 on it (the original's rerank, -1 read as the last row, against a rerank of the real candidates
only with the -1s left at the end as misses).

    /usr/bin/python3 bench/missing_ids.py [--root data/retrieval]
"""
import argparse
import os
import sys
import time

import faiss
import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(REPO, "test"))
from original_metrics_ref import evaluate  # noqa: E402  the agreement tests' reference, both readings of -1
sys.path.insert(0, HERE)
from funnel_quirk import sk_normalize  # noqa: E402

KS = [10, 25, 50, 100]


def hnsw_shortlist(db, queries, dim, m, k):
    """faiss_nn.ipynb's HNSW search: prefixes, normalize_L2, IndexHNSWFlat(dim, m), one add, default efSearch."""
    xb = np.array(db[:, :dim], dtype=np.float32)  # a copy: normalize_L2 works in place
    faiss.normalize_L2(xb)
    xq = np.array(queries[:, :dim], dtype=np.float32)  # a copy: normalize_L2 works in place
    faiss.normalize_L2(xq)
    index = faiss.IndexHNSWFlat(dim, m)
    index.add(xb)
    return index.search(xq, k)[1]


def rerank(db_n, q_n, neighbors, dim, length, missing, chunk=500):
    """Reranks the first `length` candidates at `dim` with the original's arithmetic. missing="last-row": a -1
    is the last database row, as numpy indexing makes it in the original; "miss": -1s are not scored and stay
    at the end."""
    out = neighbors[:, :length].copy()
    for s in range(0, len(out), chunk):
        ids = out[s:s + chunk]
        rows = sk_normalize(db_n[:, :dim][ids.ravel()]).reshape(len(ids), length, dim)
        distances = np.linalg.norm(rows - q_n[s:s + chunk, np.newaxis, :dim], axis=2)
        if missing == "miss":
            distances[ids < 0] = np.inf
        out[s:s + chunk] = np.take_along_axis(ids, np.argsort(distances, axis=1), axis=1)
    return out


def first_missing(neighbors, n):
    return int(np.sum(np.any(neighbors[:, :n] < 0, axis=1)))


def report(name, neighbors_last_row, neighbors_miss, yq, yb):
    """One line per metric: the original's reading, misses, and the difference."""
    a = evaluate(yq, yb, neighbors_last_row, KS, 1300, "last-row")["mean"]
    b = evaluate(yq, yb, neighbors_miss, KS, 1300, "miss")["mean"]
    changed = {c: a[c] - b[c] for c in a if a[c] != b[c]}
    text = ", ".join(f"{c} {a[c]:.5f} vs {b[c]:.5f} ({changed[c]:+.5f})" for c in changed) or "no metric changes"
    print(f"  {name}: {text}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--root", default=os.path.join(REPO, "data", "retrieval"), help="folder of the FMNIST_*.npy arrays")
    parser.add_argument("--config", default="mrl1_e0_ff2048")
    args = parser.parse_args()
    name = lambda split, part: os.path.join(args.root, f"FMNIST_{split}_{args.config}-{part}.npy")
    db, queries = np.load(name("train", "X")), np.load(name("val", "X"))
    yb, yq = np.load(name("train", "y")), np.load(name("val", "y"))
    db_n, q_n = sk_normalize(db), sk_normalize(queries)
    print(f"{len(yq)} queries, {len(yb)} database items; the last item's class is {yb[-1]} "
          f"({int(np.sum(yq == yb[-1]))} queries of that class); recall over 1300")
    for m in [8, 32]:
        for dim in [8, 16]:
            t0 = time.perf_counter()
            I = hnsw_shortlist(db, queries, dim, m, 2048)
            print(f"hnsw{m} {dim}d: queries with a -1 in the first 10 / 100 / 200 / 2048: {first_missing(I, 10)} / "
                  f"{first_missing(I, 100)} / {first_missing(I, 200)} / {first_missing(I, 2048)} ({time.perf_counter() - t0:.1f} s)")
            report("shortlist", I, I, yq, yb)
            if dim == 16:
                report("16->2048 @200", rerank(db_n, q_n, I, 2048, 200, "last-row"), rerank(db_n, q_n, I, 2048, 200, "miss"), yq, yb)


if __name__ == "__main__":
    main()
