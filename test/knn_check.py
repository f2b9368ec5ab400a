"""Tie-aware comparison of two k-NN results, for the agreement tests (Python side, numpy only).

Modelled on faiss contrib's check_ref_knn_with_draws (faiss/contrib/evaluation.py): distances must agree,
and ids may differ only where distances are equal. Here the second condition is checked exactly: wherever
the ids differ, the distance of *our* id, recomputed in float64 from the searched vectors, must equal the
reference's distance at that position within `tol`. So the only accepted differences are permutations
among equal distances and swaps at the k-th distance; a wrong neighbour at any position fails.
"""
import faiss
import numpy as np


def faiss_exact(db, q, dim, k):
    """The original faiss_nn loop at one dim: copies of the dim-prefixes (normalize_L2 works in place),
    faiss.normalize_L2, IndexFlatL2 with one add, search k. Returns (xq, xb, D, I)."""
    xb = np.array(db[:, :dim], dtype=np.float32)
    faiss.normalize_L2(xb)
    xq = np.array(q[:, :dim], dtype=np.float32)
    faiss.normalize_L2(xq)
    index = faiss.IndexFlatL2(dim)
    index.add(xb)
    D, I = index.search(xq, k)
    return xq, xb, D, I


def check_knn(xq, xb, D_ref, I_ref, I_new, D_new=None, tol=1e-5):
    """Problems found (an empty list when the results agree) over every query.

    xq, xb: the vectors that were searched (already normalized); D_ref, I_ref: the reference (FAISS);
    I_new (and D_new, when given): the result under test, nq x k each.
    """
    problems = []
    nq, k = I_ref.shape
    if I_new.shape != (nq, k):
        return [f"shape {I_new.shape}, expected {(nq, k)}"]
    for i in range(nq):
        if D_new is not None and not np.allclose(D_new[i], D_ref[i], rtol=0, atol=tol):
            j = int(np.argmax(np.abs(D_new[i] - D_ref[i])))
            problems.append(f"query {i}: distance at position {j} is {D_new[i, j]}, FAISS has {D_ref[i, j]}")
            continue
        diff = np.nonzero(I_new[i] != I_ref[i])[0]
        if len(diff) == 0:
            continue
        if len(np.unique(I_new[i])) != k or (I_new[i] < 0).any() or (I_new[i] >= len(xb)).any():
            problems.append(f"query {i}: ids are not {k} distinct database rows")
            continue
        ids = I_new[i, diff]
        exact = ((xb[ids].astype(np.float64) - xq[i].astype(np.float64)) ** 2).sum(1)
        bad = np.abs(exact - D_ref[i, diff]) > tol
        if bad.any():
            j = int(np.nonzero(bad)[0][0])
            problems.append(f"query {i}: id {ids[j]} at position {diff[j]} is at distance {exact[j]:.7f}, "
                            f"FAISS has id {I_ref[i, diff[j]]} at {D_ref[i, diff[j]]:.7f}")
    return problems
