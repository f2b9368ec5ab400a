"""Python side of bench/agreement.ts: the original notebooks' code on the same arrays, and the comparison.

    /usr/bin/python3 bench/agreement_peer.py search WORK   FAISS shortlists (faiss_nn.ipynb's loop)
    /usr/bin/python3 bench/agreement_peer.py compare WORK  reranks (reranking.ipynb's loop) and the table

WORK holds db.npy, q.npy and job.json (dims, k, adaptive, funnel); `search` writes faiss_I{dim}.npy; the
TypeScript side then writes ours_*.npy; `compare` prints one JSON line: per row, the fraction of top-10
positions whose ids are identical (no tie allowance) and the fraction within ties (float64 distances equal
within 1e-6, the tie-aware view).
"""
import json
import sys

import faiss
import numpy as np

from retrieval_peer import naive_rerank, normalize


def search(work, job):
    db, q = np.load(work + "/db.npy"), np.load(work + "/q.npy")
    for dim in job["dims"]:
        # faiss_nn.ipynb: prefix, faiss.normalize_L2, IndexFlatL2, one add, search k
        xb = np.array(db[:, :dim], dtype=np.float32)  # a copy: normalize_L2 works in place
        faiss.normalize_L2(xb)
        index = faiss.IndexFlatL2(dim)
        index.add(xb)
        xq = np.array(q[:, :dim], dtype=np.float32)  # a copy: normalize_L2 works in place
        faiss.normalize_L2(xq)
        _, I = index.search(xq, job["k"])
        np.save(work + f"/faiss_I{dim}.npy", I)


def unit_distance(x, q, dim):
    """float64 |x_d/|x_d| - q_d/|q_d||, rows of x against one query."""
    x = x[:, :dim].astype(np.float64)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    qd = q[:dim].astype(np.float64)
    return np.linalg.norm(x - qd / np.linalg.norm(qd), axis=1)


def agreement(db, q, ours, ref, dim):
    """(identical, within ties) fractions of the top-10 positions."""
    a, b = ours[:, :10], ref[:, :10]
    same = a == b
    tied = same.copy()
    for j in np.nonzero(~same.all(1))[0]:
        p = np.nonzero(~same[j])[0]
        da, db_ = unit_distance(db[a[j, p]], q[j], dim), unit_distance(db[b[j, p]], q[j], dim)
        tied[j, p] = np.abs(da - db_) <= 1e-6
    return {"identical": float(same.mean()), "within_ties": float(tied.mean())}


def compare(work, job):
    db, q = np.load(work + "/db.npy"), np.load(work + "/q.npy")
    db_n, q_n = normalize(db), normalize(q)  # the reranking notebook normalizes at 2048 first
    rows = []
    for dim in job["dims"]:
        rows.append({"row": f"exact {dim}-d: ours vs FAISS IndexFlatL2",
                     **agreement(db, q, np.load(work + f"/ours_I{dim}.npy"), np.load(work + f"/faiss_I{dim}.npy"), dim)})
        rows.append({"row": f"exact {dim}-d, exactEngine faiss: ours vs FAISS IndexFlatL2",
                     **agreement(db, q, np.load(work + f"/faiss_engine_I{dim}.npy"), np.load(work + f"/faiss_I{dim}.npy"), dim)})
    a, f = job["adaptive"], job["funnel"]
    for what, cascade, dr, dims, lists in [("adaptive", 0, a["retrievalDim"], [a["rerankDim"]], [a["shortlist"]]),
                                           ("funnel", 1, f["retrievalDim"], f["dims"], f["shortlists"])]:
        faiss_in = np.load(work + f"/faiss_I{dr}.npy").astype(np.int64)
        original = naive_rerank(db_n, q_n, cascade, dims, lists, faiss_in)
        label = f"{what} {dr}->{dims} @{lists}"
        rows.append({"row": f"{label}: same input (FAISS's shortlist)",
                     **agreement(db, q, np.load(work + f"/ours_{what}_faiss_in.npy"), original, dims[-1])})
        rows.append({"row": f"{label}: end to end (each side's own shortlist)",
                     **agreement(db, q, np.load(work + f"/ours_{what}.npy"), original, dims[-1])})
    print(json.dumps(rows))


if __name__ == "__main__":
    command, work = sys.argv[1], sys.argv[2]
    job = json.load(open(work + "/job.json"))
    {"search": search, "compare": compare}[command](work, job)
