"""Reference metrics for the agreement tests: the original compute_metrics notebook's
`compute_mAP_recall_at_k` and its top-1 line, written independently with numpy (the project's
lib/src/metrics/metrics.ts is not consulted).

What the original computes, per query with target class t and its first k neighbour ids:
  matches[p]   = label of the p-th neighbour == t
  AP@k         = sum of (matches in the first p) / p over the hit positions p, divided by k (not by the
                 number of hits: the original's definition)
  precision@k  = hits / k;  recall@k = hits / 1300 (ImageNet's images per class, hard-coded);
  top-k        = 1 if any hit;  top-1 = label of neighbour 0 == t
and each aggregate is the mean over queries (np.mean of the per-query list; top-1: the count / nq).

Two things are parameters here because the project differs from the original on them:
  recall:  "1300" style (a number) or "class-count" (the query class's number of database items);
  missing: how a -1 id (FAISS found fewer than k) is read. "last-row" is the original: numpy reads
           db_labels[-1], the last database item's label, so a -1 is a hit for queries of that class.
           "miss" never matches (the project's rule).
The arithmetic per query is the original's (float64 cumsum / arange, a sum over the hit positions), so the
values are the original's to the last bit; only the project's summation order can differ.

CLI for tests: python3 original_metrics_ref.py JOB.json, with JOB = {"db_labels": npy, "query_labels": npy,
"shortlists": {name: csv or npy}, "ks": {name: [k, ...]}, "recall": "class-count" | number,
"missing": "miss" | "last-row"}; prints one JSON line {name: {"top1": [...], "k": {k: {"ap": [...], ...}},
"mean": {...}}}.
"""
import json
import sys

import numpy as np
import pandas as pd


def neighbour_labels(ids, db_labels, missing):
    """Labels of the neighbour ids; a -1 id gives the last item's label ("last-row") or None-like -1 ("miss")."""
    if missing == "last-row":
        return db_labels[ids]  # numpy's negative index, exactly what the original does
    if missing != "miss":
        raise ValueError(f"missing must be 'miss' or 'last-row', got {missing!r}")
    # a label no class has, so a missing neighbour never matches (labels are class indices >= 0)
    return np.where(ids >= 0, db_labels[np.maximum(ids, 0)], -1)


def recall_denominators(db_labels, recall):
    """Per-class denominators: the class's database count ("class-count") or one number for every class."""
    if recall == "class-count":
        return np.bincount(db_labels).astype(float)
    return np.full(int(db_labels.max()) + 1, float(recall))


def query_metrics(target, ids, db_labels, k, denominator, missing):
    """(AP@k, precision@k, recall@k, top-k) of one query from its first k neighbour ids."""
    matches = neighbour_labels(ids[:k], db_labels, missing) == target
    hits = int(matches.sum())
    hits_so_far = np.cumsum(matches).astype(float)
    precision_at = hits_so_far / np.arange(1, k + 1)
    ap = np.sum(precision_at[matches]) / k
    return ap, hits / k, hits / denominator, 1 if hits > 0 else 0


def evaluate(query_labels, db_labels, neighbors, ks, recall="class-count", missing="miss"):
    """Per-query values and their means for every k in ks, plus top-1."""
    query_labels = np.asarray(query_labels).ravel()
    db_labels = np.asarray(db_labels).ravel()
    denominators = recall_denominators(db_labels, recall)
    first = neighbour_labels(neighbors[:, 0], db_labels, missing)
    top1 = (first == query_labels).astype(int)
    out = {"top1": top1.tolist(), "k": {}, "mean": {"top1": float(np.sum(top1) / len(query_labels))}}
    for k in ks:
        rows = [query_metrics(t, neighbors[i], db_labels, k, denominators[t], missing) for i, t in enumerate(query_labels)]
        ap, precision, rec, topk = (list(col) for col in zip(*rows))
        out["k"][str(k)] = {"ap": [float(x) for x in ap], "precision": precision, "recall": rec, "topk": topk}
        out["mean"][f"mAP@{k}"] = float(np.mean(ap))
        out["mean"][f"precision@{k}"] = float(np.mean(precision))
        out["mean"][f"recall@{k}"] = float(np.mean(rec))
        out["mean"][f"top-{k}"] = float(np.mean(topk))
    return out


def read_shortlist(file):
    """A shortlist as the original reads it (pandas, headerless CSV), or a .npy."""
    if file.endswith(".npy"):
        return np.load(file).astype(np.int64)
    return pd.read_csv(file, header=None).to_numpy()


def main(job_file):
    with open(job_file) as f:
        job = json.load(f)
    db_labels, query_labels = np.load(job["db_labels"]), np.load(job["query_labels"])
    out = {}
    for name, file in job["shortlists"].items():
        out[name] = evaluate(query_labels, db_labels, read_shortlist(file), job["ks"][name],
                             job.get("recall", "class-count"), job.get("missing", "miss"))
    print(json.dumps(out))


if __name__ == "__main__":
    main(sys.argv[1])
