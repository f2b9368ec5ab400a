"""The original reranking notebook's algorithm, re-implemented for the agreement tests (numpy only), and a
tie-aware check of our reranked shortlists against it.

What the original does (reranking.ipynb, `rerank`): queries and database are L2-normalized over all their
columns once (sklearn's `normalize`, float32, a zero row left at zero); for each query and each step, the
candidates' D_s-prefixes are normalized again, and the candidates are ordered by np.linalg.norm of
(candidate - query prefix), the query prefix NOT re-normalized; np.argsort; the first L' are kept for the next
step. Here each cascade starts from the untouched shortlist (the notebook's in-place quirk is measured
separately), and a -1 candidate (FAISS: not found) is skipped, with -1 filling the row's tail: the project's
documented semantics, where the original would read the last database row.
"""
import numpy as np


def normalize_rows(x):
    """sklearn.preprocessing.normalize(x, axis=1) for float32 input: x / |x| in float32, zero rows kept."""
    x = np.asarray(x, dtype=np.float32)
    norms = np.sqrt(np.einsum("ij,ij->i", x, x))
    norms[norms == 0] = 1
    return x / norms[:, None]


def rerank_original(db, queries, neighbors, dims, shortlists):
    """The notebook's loop, one query at a time, clean: nq x shortlists[-1] ids (-1 where missing).

    db, queries: the raw float32 arrays (normalized here as the notebook does); neighbors: nq x >= L ids.
    """
    db_n, q_n = normalize_rows(db), normalize_rows(queries)
    nq, last = len(queries), shortlists[-1]
    out = np.full((nq, last), -1, dtype=np.int64)
    for j in range(nq):
        ids = neighbors[j, :shortlists[0]].astype(np.int64)
        ids = ids[ids >= 0]
        for d, keep in zip(dims, shortlists):
            ids = ids[:keep]
            cands = normalize_rows(db_n[ids, :d])
            dist = np.linalg.norm(cands - q_n[j, :d], axis=1)
            ids = ids[np.argsort(dist)]
        ids = ids[:last]
        out[j, :len(ids)] = ids
    return out


def original_distance(db, queries, j, ids, d):
    """float64 |x_d/|x_d| - q_d/|q||: the original's distance recomputed exactly (zero row: |q_d/|q||)."""
    q = queries[j].astype(np.float64)
    q = q[:d] / np.linalg.norm(q)
    x = db[ids, :d].astype(np.float64)
    n = np.linalg.norm(x, axis=1)
    n[n == 0] = 1
    return np.linalg.norm(x / n[:, None] - q, axis=1)


def check_rerank(db, queries, inputs, ours, ref, d, tol):
    """Problems (empty when they agree) comparing one rerank step, every query.

    inputs: the candidates the step started from (nq x >= L); ours / ref: its results (nq x L'). Ids may differ
    only where the two distances are equal within `tol` (float64, the original's formula): permutations among
    ties, and swaps at the cut between steps. Everything else must match exactly, -1 included.
    """
    problems = []
    for j in range(len(ours)):
        diff = np.nonzero(ours[j] != ref[j])[0]
        if len(diff) == 0:
            continue
        real = ours[j][ours[j] >= 0]
        allowed = set(int(i) for i in inputs[j] if i >= 0)
        if (len(np.unique(real)) != len(real) or not set(int(i) for i in real) <= allowed
                or ((ours[j] < 0) != (ref[j] < 0)).any()):
            problems.append(f"query {j}: not a reordering of its real candidates: {ours[j][:12]} vs {ref[j][:12]}")
            continue
        a = original_distance(db, queries, j, ours[j, diff], d)
        b = original_distance(db, queries, j, ref[j, diff], d)
        bad = np.abs(a - b) > tol
        if bad.any():
            p = int(np.nonzero(bad)[0][0])
            problems.append(f"query {j}: position {diff[p]} holds id {ours[j, diff[p]]} at {a[p]:.9f}, "
                            f"the original has id {ref[j, diff[p]]} at {b[p]:.9f}")
    return problems
