"""The original reranking notebook's funnel quirk, measured on the full Fashion-MNIST arrays (issue 14, item 5).

The notebook reranks its three shortlist cascades one after the other on one `neighbors` array, and each step
writes into a numpy view of that array (`neighbors_new = neighbors[:, :shortlist[i]]`, then
`neighbors_new[j] = reranked`). So the 2nd cascade starts from the 1st's reordering, and the 3rd from the
2nd's: its first 400 candidates are the 1st cascade's 16-d best of 800, not the 8-d shortlist's first 400.
This script runs the three cascades both ways, in place (the original's order) and clean (each from the
untouched 8-d shortlist, as this project does), and prints how many top-10 ids change and what that does to
mAP@10 and top-1.

Everything is the original's arithmetic, written here independently: exact 8-d shortlists by FAISS
IndexFlatL2 on faiss.normalize_L2'd prefixes (k = 2048, as faiss_nn.ipynb); queries and database normalized
at 2048 sklearn-style in float32; each step re-normalizes the candidates' D_s-prefix (not the query's),
takes np.linalg.norm of the differences and np.argsort. The per-query loop runs a chunk of queries per numpy
call (same float32 operations per row); --check N runs the notebook's per-query loop on the first N queries
and stops if any id differs. Metrics: compute_metrics.ipynb's loop (bench/original_metrics.py).

    /usr/bin/python3 bench/funnel_quirk.py [--root data/retrieval] [--check 300] [--json]
"""
import argparse
import json
import os
import sys
import time

import faiss
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from original_metrics import compute_mAP_recall_at_k  # noqa: E402  compute_metrics.ipynb's loop

CASCADES = [[800, 400, 200, 50, 10], [400, 200, 50, 25, 10], [200, 100, 50, 25, 10]]
RERANK_DIMS = [16, 32, 64, 128, 2048]
RETRIEVAL_DIM = 8
K = 2048
REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def sk_normalize(x):
    """sklearn.preprocessing.normalize(x, axis=1) in float32 (sklearn is not in Debian's Python): a copy,
    row norms by einsum as sklearn's row_norms, norms under 10 eps left at 1 (zero rows stay zero)."""
    x = np.array(x, dtype=np.float32)
    norms = np.sqrt(np.einsum("ij,ij->i", x, x))
    norms[norms < 10 * np.finfo(norms.dtype).eps] = 1
    x /= norms[:, np.newaxis]
    return x


def exact_shortlist(db, queries, dim, k):
    """faiss_nn.ipynb's exact search at `dim`: prefixes, normalize_L2, IndexFlatL2, one add."""
    xb = np.array(db[:, :dim], dtype=np.float32)  # a copy: normalize_L2 works in place
    faiss.normalize_L2(xb)
    xq = np.array(queries[:, :dim], dtype=np.float32)  # a copy: normalize_L2 works in place
    faiss.normalize_L2(xq)
    index = faiss.IndexFlatL2(dim)
    index.add(xb)
    return index.search(xq, k)[1]


def cascade_loop(db_n, q_n, neighbors, lengths):
    """One cascade exactly as the notebook's rerank(): per query, on views of `neighbors` (written through)."""
    for dim, length in zip(RERANK_DIMS, lengths):
        view = neighbors[:, :length]
        db_d = db_n[:, :dim]
        for j in range(len(view)):
            candidates = sk_normalize(db_d[view[j][:length]].squeeze())
            distances = np.linalg.norm(candidates - q_n[j][:dim], axis=1)
            view[j] = view[j, np.argsort(distances)]
        neighbors = view
    return neighbors


def cascade_chunked(db_n, q_n, neighbors, lengths, chunk=500):
    """The same cascade, `chunk` queries per numpy call: the same float32 operations on each row (the
    reductions run along each row's contiguous last axis, as in the loop), written through views as well."""
    for dim, length in zip(RERANK_DIMS, lengths):
        view = neighbors[:, :length]
        db_d = db_n[:, :dim]
        for s in range(0, len(view), chunk):
            ids = view[s:s + chunk]
            candidates = sk_normalize(db_d[ids.ravel()]).reshape(len(ids), length, dim)
            distances = np.linalg.norm(candidates - q_n[s:s + chunk, np.newaxis, :dim], axis=2)
            view[s:s + chunk] = np.take_along_axis(ids, np.argsort(distances, axis=1), axis=1)
        neighbors = view
    return neighbors


def run_cascades(cascade, db_n, q_n, shortlist):
    """The three cascades in place on one array (the original's order) and clean (each on a fresh copy)."""
    shared = shortlist.copy()
    in_place = [cascade(db_n, q_n, shared, lengths).copy() for lengths in CASCADES]
    clean = [cascade(db_n, q_n, shortlist.copy(), lengths) for lengths in CASCADES]
    return in_place, clean


def metrics(neighbors, query_labels, db_labels):
    """mAP@10 and top-1 as compute_metrics.ipynb computes them (funnels: k <= the final 10 only)."""
    mAP, _, _, _ = compute_mAP_recall_at_k(query_labels, db_labels, neighbors, 10, 1300)
    top1 = np.sum(db_labels[neighbors[:, 0]] == query_labels) / query_labels.shape[0]
    return float(mAP), float(top1)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--root", default=os.path.join(REPO, "data", "retrieval"), help="folder of the FMNIST_*.npy arrays")
    parser.add_argument("--config", default="mrl1_e0_ff2048", help="model config in the array names")
    parser.add_argument("--check", type=int, default=300, help="queries on which the notebook's per-query loop must agree")
    parser.add_argument("--json", action="store_true", help="print the results as one JSON line at the end")
    args = parser.parse_args()
    t0 = time.perf_counter()
    name = lambda split, part: os.path.join(args.root, f"FMNIST_{split}_{args.config}-{part}.npy")
    db, queries = np.load(name("train", "X")), np.load(name("val", "X"))
    db_labels, query_labels = np.load(name("train", "y")), np.load(name("val", "y"))
    shortlist = exact_shortlist(db, queries, RETRIEVAL_DIM, K)
    # reranking.ipynb normalizes both sets once at max_rerank_dim = 2048 before any step
    db_n, q_n = sk_normalize(db[:, :2048]), sk_normalize(queries[:, :2048])
    del db, queries
    print(f"{len(q_n)} queries, {len(db_n)} database items; exact {RETRIEVAL_DIM}-d shortlists (k = {K}) and "
          f"normalization: {time.perf_counter() - t0:.1f} s", flush=True)

    t1 = time.perf_counter()
    in_place, clean = run_cascades(cascade_chunked, db_n, q_n, shortlist)
    print(f"three cascades in place and clean: {time.perf_counter() - t1:.1f} s", flush=True)
    if args.check > 0:
        n = min(args.check, len(q_n))
        loop_in_place, loop_clean = run_cascades(cascade_loop, db_n, q_n[:n], shortlist[:n])
        for got, want, how in [(in_place, loop_in_place, "in place"), (clean, loop_clean, "clean")]:
            for c, (g, w) in enumerate(zip(got, want)):
                differ = int(np.sum(np.any(g[:n] != w, axis=1)))
                if differ:
                    raise SystemExit(f"cascade {c + 1} ({how}): {differ} of {n} queries differ from the notebook's loop")
        print(f"the notebook's per-query loop gives the same ids on the first {n} queries (all cascades, both orders)")
    assert np.array_equal(in_place[0], clean[0]), "the first cascade starts from the untouched shortlist either way"

    results = []
    print(f"\n{'cascade':<22} {'top-10 ids changed':>19} {'(as sets)':>10} {'mAP@10 in place':>16} {'clean':>9} "
          f"{'diff':>9} {'top-1 in place':>15} {'clean':>7} {'diff':>8}")
    for lengths, a, b in zip(CASCADES, in_place, clean):
        positions = float(np.mean(a[:, :10] != b[:, :10]))
        sets = float(np.mean([len(set(x) - set(y)) / 10 for x, y in zip(a[:, :10], b[:, :10])]))
        (map_a, top1_a), (map_b, top1_b) = metrics(a, query_labels, db_labels), metrics(b, query_labels, db_labels)
        results.append({"cascade": lengths, "top10_changed": positions, "top10_changed_as_sets": sets,
                        "mAP@10": {"in_place": map_a, "clean": map_b}, "top1": {"in_place": top1_a, "clean": top1_b}})
        print(f"{str(lengths):<22} {positions:>18.2%} {sets:>10.2%} {map_a:>16.5f} {map_b:>9.5f} {map_a - map_b:>+9.5f} "
              f"{top1_a:>15.4f} {top1_b:>7.4f} {top1_a - top1_b:>+8.4f}")
    worst = max(abs(r["mAP@10"]["in_place"] - r["mAP@10"]["clean"]) for r in results)
    print(f"\nlargest |mAP@10 difference|: {worst:.5f} (material above 0.001: {'yes' if worst > 0.001 else 'no'}); "
          f"total {time.perf_counter() - t0:.1f} s")
    if args.json:
        print(json.dumps({"queries": len(q_n), "cascades": results}))


if __name__ == "__main__":
    main()
