"""Reference for test/ranking-metrics.test.ts, written independently with numpy (lib/src/metrics/ranking.ts is
not consulted): the IR-standard AP@k and nDCG@k with same-class relevance, and ann-benchmarks' knn recall.

  AP@k   = sum over hit positions p <= k of precision@p, divided by min(k, R); R = database items of the query's class
  nDCG@k = sum rel_p / log2(p + 1) over p <= k, divided by the same for min(k, R) hits at the top
  R = 0  -> both 0 (the project's documented choice); a -1 id is never relevant
  recall = ann-benchmarks plotting/metrics.py knn: count of the first k candidate distances <= true k-th distance
           + 1e-3, / k, with L2 distances between unit-normalized prefixes computed here by brute force

CLI: python3 ranking_ref.py JOB.json; JOB = {"db_labels", "query_labels": npy, "shortlists": {name: csv or npy},
"ks": [k, ...], "ann": {name: {"db_x", "query_x": npy, "dim": d, "k": k, "shortlist": file}}}.
Prints one JSON line {"ranking": {name: {str(k): {"ap": [...], "ndcg": [...]}}},
"ann": {name: {"per_query": [hits of each query], "mean": recall}}}.
"""
import json
import sys

import numpy as np
import pandas as pd


def read_shortlist(file):
    return np.load(file) if file.endswith(".npy") else pd.read_csv(file, header=None).to_numpy()


def ranking(ids, query_labels, db_labels, k):
    """Per-query standard AP@k and nDCG@k."""
    counts = np.bincount(db_labels, minlength=int(max(db_labels.max(), query_labels.max())) + 1)
    first = ids[:, :k]
    labels = np.where(first >= 0, db_labels[np.maximum(first, 0)], -1)
    rel = (labels == query_labels[:, None]).astype(float)
    r = np.minimum(k, counts[query_labels])
    precision_at = np.cumsum(rel, axis=1) / np.arange(1, k + 1)
    gains = 1.0 / np.log2(np.arange(2, k + 2))
    dcg = rel @ gains
    idcg = np.array([gains[:m].sum() for m in r])
    with np.errstate(invalid="ignore", divide="ignore"):
        ap = np.where(r > 0, (precision_at * rel).sum(axis=1) / r, 0.0)
        ndcg = np.where(r > 0, dcg / idcg, 0.0)
    return ap, ndcg


def normalized(x, d):
    p = np.asarray(x[:, :d], dtype=np.float64)
    return p / np.linalg.norm(p, axis=1, keepdims=True)


def ann_recall(job):
    d, k = job["dim"], job["k"]
    xb, xq = normalized(np.load(job["db_x"]), d), normalized(np.load(job["query_x"]), d)
    ids = read_shortlist(job["shortlist"])[:, :k]
    # exact distances by brute force: |q - x|^2 = 2 - 2 q.x for unit vectors, clipped at 0, k smallest ascending
    true = np.sort(np.sqrt(np.maximum(2 - 2 * xq @ xb.T, 0)), axis=1)[:, :k]
    run = np.where(ids >= 0, np.linalg.norm(xq[:, None, :] - xb[np.maximum(ids, 0)], axis=2), np.inf)
    threshold = true[:, k - 1] + 1e-3
    per_query = (run <= threshold[:, None]).sum(axis=1)
    return {"per_query": per_query.tolist(), "mean": float(np.mean(per_query) / k)}


def main(job_file):
    job = json.load(open(job_file))
    db_labels = np.load(job["db_labels"]).ravel().astype(int)
    query_labels = np.load(job["query_labels"]).ravel().astype(int)
    out = {"ranking": {}, "ann": {name: ann_recall(case) for name, case in job.get("ann", {}).items()}}
    for name, file in job["shortlists"].items():
        ids = read_shortlist(file)
        out["ranking"][name] = {}
        for k in job["ks"]:
            if k > ids.shape[1]:
                continue
            ap, ndcg = ranking(ids, query_labels, db_labels, k)
            out["ranking"][name][str(k)] = {"ap": ap.tolist(), "ndcg": ndcg.tolist()}
    print(json.dumps(out))


if __name__ == "__main__":
    main(sys.argv[1])
