"""Python side of `npm run bench -- --scale` (bench/scale.ts): the synthetic ImageNet-1K-shape arrays, and the
original MRL retrieval notebooks' approach (faiss_nn.ipynb, reranking.ipynb, compute_metrics.ipynb) run on
them with Debian's python3-faiss, numpy and pandas. One stage per process, so the bench can time each and cap
its memory (prlimit --as) without one stage's failure losing the others:

    /usr/bin/python3 bench/scale_peer.py generate --out DIR --rows N --queries NQ [--dim 2048] [--classes 1000] [--seed S]
    /usr/bin/python3 bench/scale_peer.py versions
    /usr/bin/python3 bench/scale_peer.py search  --data DIR --root OUT --dim D [--k 2048]
    /usr/bin/python3 bench/scale_peer.py rerank  --data DIR --root OUT --retrieval-dim 16 --dims 2048 --shortlists 200 [--funnel]
    /usr/bin/python3 bench/scale_peer.py metrics --data DIR --root OUT --dims 8,16,32,64,2048 --adaptive 16:2048:200
                                                 --funnel 8:16,32,64,128,2048:200,100,50,25,10 [--ks 10,25,50,100] [--recall-denominator 1300]
    /usr/bin/python3 bench/scale_peer.py compare --a ROOT --b ROOT --dims ... --adaptive ... --funnel ... [--top 10]

--data holds the four arrays (read only); --root is this side's own output folder (index_files/, neighbors/,
metrics/ under the original notebooks' names), never the TypeScript side's. Every command prints one JSON line
on stdout with its results and its own phase timings; progress goes to stderr.
"""
import argparse
import json
import os
import sys
import time

import numpy as np

from original_metrics import compute_mAP_recall_at_k  # compute_metrics.ipynb's loop, shared by both peers

DATASET = "1K"
CONFIG = "mrl1_e0_ff2048"
MODEL = "mrl/"
INDEX_TYPE = "exactl2"


def log(msg):
    print("scale_peer: " + msg, file=sys.stderr, flush=True)


def array_file(data, split, part):
    return os.path.join(data, "%s_%s_%s-%s.npy" % (DATASET, split, CONFIG, part))


def ints(text):
    return [int(x) for x in text.split(",") if x]


# ---- synthetic data --------------------------------------------------------------------------------------

# Per-dim scale s_j = (j+1)^-0.5 (energy decaying with the dim, like an MRL representation), class centres with
# a per-dim gain g_j = SIGNAL * (j+1)^-DECAY over unit noise: the signal-to-noise ratio falls with the dim, so
# the first dims carry the coarse class information and later dims add finer, noisier evidence. Tuned on
# 1000 classes x 128 rows (the --quick shape): mAP@10 about 0.06 at 8 dims, 0.28 at 16, 0.73 at 64, 0.90 at 2048.
SIGNAL = 1.8
DECAY = 0.2


def class_counts(rows, classes):
    """Class sizes summing to `rows`. Near ImageNet-1K's size (1,281,167 train images), like ImageNet: 1300 for
    most classes, the shortfall spread over the last classes (each keeps at least 60%); otherwise equal sizes
    (the first classes one larger when `rows` does not divide)."""
    if rows > classes * 1200:
        counts = np.full(classes, 1300, dtype=np.int64)
        deficit = int(counts.sum()) - rows
        if deficit > 0:
            short = min(classes, -(-deficit // 520))
            counts[classes - short:] -= deficit // short
            counts[classes - short:classes - short + deficit % short] -= 1
    else:
        counts = np.full(classes, rows // classes, dtype=np.int64)
        counts[: rows % classes] += 1
    assert counts.sum() == rows and counts.min() > 0, counts
    return counts


def write_npy(path, shape, dtype, blocks, total_rows, what):
    """Writes a .npy (format 1.0 header) from row blocks without holding the array; prints progress."""
    tmp = path + ".tmp"
    done, t0, last = 0, time.perf_counter(), 0.0
    with open(tmp, "wb") as f:
        np.lib.format.write_array_header_1_0(f, {"descr": np.dtype(dtype).str, "fortran_order": False, "shape": shape})
        for block in blocks:
            block = np.ascontiguousarray(block, dtype=dtype)
            f.write(memoryview(block).cast("B"))
            done += block.shape[0]
            now = time.perf_counter()
            if now - last >= 5 or done == total_rows:
                last = now
                gb = done * block.nbytes / max(1, block.shape[0]) / 1e9
                log("%s: %d/%d rows (%.0f%%), %.1f GB, %.0f MB/s" % (what, done, total_rows, 100.0 * done / total_rows, gb,
                                                                    gb * 1e3 / max(1e-9, now - t0)))
    assert done == total_rows, (done, total_rows)
    os.replace(tmp, path)


def generate(a):
    os.makedirs(a.out, exist_ok=True)
    dim, classes = a.dim, a.classes
    j = np.arange(dim, dtype=np.float64) + 1
    scale = (j ** -0.5).astype(np.float32)
    gain = (SIGNAL * j ** -DECAY).astype(np.float32)
    centres = np.random.default_rng([a.seed, 0]).standard_normal((classes, dim), dtype=np.float32) * gain
    t0 = time.perf_counter()
    out = {}
    for split, rows, tag in (("train", a.rows, 1), ("val", a.queries, 2)):
        counts = class_counts(rows, classes)
        labels = np.repeat(np.arange(classes, dtype=np.int64), counts)  # class-sorted, like ImageFolder order

        def blocks():
            # one generator per (seed, split, class): the same arrays whatever the block size
            for c in range(classes):
                noise = np.random.default_rng([a.seed, tag, c]).standard_normal((int(counts[c]), dim), dtype=np.float32)
                noise += centres[c]
                noise *= scale
                yield noise

        write_npy(array_file(a.out, split, "X"), (rows, dim), np.float32, blocks(), rows, "%s X" % split)
        np.save(array_file(a.out, split, "y") + ".tmp.npy", labels)
        os.replace(array_file(a.out, split, "y") + ".tmp.npy", array_file(a.out, split, "y"))
        out[split] = {"rows": rows, "min_class": int(counts.min()), "max_class": int(counts.max())}
    out["seconds"] = time.perf_counter() - t0
    out["model"] = "x = s * (c_y + e), s_j = (j+1)^-0.5, c ~ N(0, diag(g^2)), g_j = %g (j+1)^-%g, e ~ N(0, I)" % (SIGNAL, DECAY)
    return out


def versions(_a):
    import faiss
    import pandas as pd
    return {"python": sys.version.split()[0], "numpy": np.__version__, "pandas": pd.__version__, "faiss": faiss.__version__,
            "omp_threads": faiss.omp_get_max_threads()}


# ---- faiss_nn.ipynb --------------------------------------------------------------------------------------

def search(a):
    """One retrieval_dim of faiss_nn.ipynb's loop, as written (exact L2, CPU). The notebook's top-level
    `database = np.load(root+db_csv)` is skipped: nothing in the loop uses it, and it would hold a second copy of
    the database for the whole run. The loop's load-if-the-index-exists branch is not taken: indexes are always
    built (any stale file is removed first)."""
    import faiss
    import pandas as pd
    root = a.root + "/"
    model, dataset, index_type, k, retrieval_dim = MODEL, DATASET, INDEX_TYPE, a.k, a.dim
    db_csv = array_file(a.data, "train", "X")
    query_csv = array_file(a.data, "val", "X")
    times = {}
    if not os.path.isdir(root + "index_files/" + model):
        os.makedirs(root + "index_files/" + model)
    index_file = root + "index_files/" + model + dataset + "_" + str(retrieval_dim) + "dim_" + index_type + ".index"
    if os.path.exists(index_file):
        os.remove(index_file)

    start = time.time()
    xb = np.ascontiguousarray(np.load(db_csv)[:, :retrieval_dim], dtype=np.float32)
    faiss.normalize_L2(xb)
    d = xb.shape[1]
    times["load_normalize"] = time.time() - start
    log("database %s" % (xb.shape,))

    start = time.time()
    cpu_index = faiss.IndexFlatL2(d)
    cpu_index.add(xb)
    faiss.write_index(cpu_index, index_file)
    times["build_write"] = time.time() - start
    index = cpu_index

    start = time.time()
    xq = np.ascontiguousarray(np.load(query_csv)[:, :retrieval_dim], dtype=np.float32)
    faiss.normalize_L2(xq)
    D, I = index.search(xq, k)
    times["search"] = time.time() - start
    log("%d-NN search of %d queries at %d dims: %.1f s" % (k, xq.shape[0], d, times["search"]))

    start = time.time()
    if not os.path.isdir(root + "neighbors/" + model):
        os.makedirs(root + "neighbors/" + model)
    nn_dir = root + "neighbors/" + model + index_type + "_" + str(retrieval_dim) + "dim_" + str(k) + "shortlist_" + dataset + ".csv"
    pd.DataFrame(I).to_csv(nn_dir, header=None, index=None)
    times["csv_write"] = time.time() - start
    return {"dim": d, "rows": int(cpu_index.ntotal), "index_bytes": os.path.getsize(index_file), "file": nn_dir, "times": times}


# ---- reranking.ipynb -------------------------------------------------------------------------------------

def normalize(x, axis=1):
    """sklearn.preprocessing.normalize(x, axis=1) (sklearn is not installed here), with its memory behaviour:
    one float32 copy (check_array(copy=True)), row norms by einsum (row_norms), divided in place; zero rows
    stay zero."""
    assert axis == 1
    x = np.array(x, dtype=np.float32 if x.dtype == np.float32 else np.float64, copy=True)
    if x.ndim == 1:
        x = x[None, :]
    norms = np.sqrt(np.einsum("ij,ij->i", x, x))
    norms[norms == 0.0] = 1.0
    x /= norms[:, np.newaxis]
    return x


def funnel_name(retrieval_dim, dims, shortlists, dataset, index_type):
    # str() of Python lists, as the notebook spells the file name
    return str(retrieval_dim) + "dim-cascade" + str(dims) + "_" + "shortlist" + str(shortlists) + "_" + dataset + "_" + index_type + ".csv"


def reranked_name(retrieval_dim, dim, shortlist, dataset, index_type):
    return str(retrieval_dim) + "dim-reranked" + str(dim) + "_" + str(shortlist) + "shortlist_" + dataset + "_" + index_type + ".csv"


def rerank_stage(a):
    """reranking.ipynb for one configuration: adaptive (use_funnel False: one rerank at dims[0] of the first
    shortlists[0] candidates) or funnel (the cascade), from this side's own faiss_nn shortlist at retrieval_dim."""
    import pandas as pd
    root = a.root + "/"
    model, dataset, index_type = MODEL, DATASET, INDEX_TYPE
    use_funnel = a.funnel
    rerank_dim, shortlist = ints(a.dims), ints(a.shortlists)
    retrieval_dim = a.retrieval_dim
    max_rerank_dim = max(rerank_dim)
    nn_dir = root + ("neighbors/funnel_retrieval/" if use_funnel else "neighbors/reranked/") + model
    if not os.path.isdir(nn_dir):
        os.makedirs(nn_dir)
    times = {}

    start = time.time()
    db_rerank = np.load(array_file(a.data, "train", "X"))[:, :max_rerank_dim]
    queries = np.load(array_file(a.data, "val", "X"))[:, :max_rerank_dim]
    times["load"] = time.time() - start
    log("loaded database %s and queries %s in %.1f s" % (db_rerank.shape, queries.shape, times["load"]))

    start = time.time()
    queries = normalize(queries, axis=1)
    db_rerank = normalize(db_rerank, axis=1)
    times["normalize"] = time.time() - start

    start = time.time()
    NN_file = root + "neighbors/" + model + index_type + "_" + str(retrieval_dim) + "dim_2048shortlist_" + dataset + ".csv"
    neighbors = pd.read_csv(NN_file, header=None).to_numpy()
    times["csv_read"] = time.time() - start

    def rerank(use_funnel, rerank_dim, shortlist, neighbors):
        # the notebook's function, unchanged apart from progress
        if use_funnel:
            assert len(rerank_dim) == len(shortlist)
        for i in range(len(rerank_dim)):
            db_rerank_new = db_rerank[:, :rerank_dim[i]]
            neighbors_new = neighbors[:, :shortlist[i]]
            t_step = time.time()
            for j in range(len(neighbors)):
                query_vector = queries[j][:rerank_dim[i]]
                nn_indices = neighbors_new[j][:shortlist[i]]
                NN_vectors_higher_dim = normalize(db_rerank_new[nn_indices].squeeze(), axis=1)
                L2_distances_reranked = np.linalg.norm(NN_vectors_higher_dim - query_vector[:rerank_dim[i]], axis=1)
                reranked_neighbor_indices = np.argsort(L2_distances_reranked)
                reranked_neighbors = neighbors_new[j, reranked_neighbor_indices]
                neighbors_new[j] = reranked_neighbors
            log("rerank at %d dims, shortlist %d: %.1f s" % (rerank_dim[i], shortlist[i], time.time() - t_step))
            neighbors = neighbors_new
        return neighbors

    start = time.time()
    if not use_funnel:
        out = rerank(use_funnel, rerank_dim, shortlist, neighbors)
        filename = reranked_name(retrieval_dim, rerank_dim[0], shortlist[0], dataset, index_type)
    else:
        out = rerank(1, rerank_dim, shortlist, neighbors)
        filename = funnel_name(retrieval_dim, rerank_dim, shortlist, dataset, index_type)
    times["rerank"] = time.time() - start
    start = time.time()
    pd.DataFrame(out).to_csv(nn_dir + filename, header=None, index=None)
    times["csv_write"] = time.time() - start
    return {"file": nn_dir + filename, "shape": list(out.shape), "times": times}


# ---- compute_metrics.ipynb -------------------------------------------------------------------------------

def parse_adaptive(text):
    r, d, s = ints(text.replace(":", ","))
    return {"retrieval_dim": r, "rerank_dim": d, "shortlist": s}


def parse_funnel(text):
    r, dims, shortlists = text.split(":")
    return {"retrieval_dim": int(r), "dims": ints(dims), "shortlists": ints(shortlists)}


def shortlist_files(root, dims, adaptive, funnel, k=2048):
    """(config label, file) of every shortlist the stages write, in the TypeScript metrics table's labels."""
    root = root + "/"
    files = [("%dd" % d, root + "neighbors/" + MODEL + INDEX_TYPE + "_" + str(d) + "dim_" + str(k) + "shortlist_" + DATASET + ".csv")
             for d in dims]
    for a in adaptive:
        files.append(("%d->%d @%d" % (a["retrieval_dim"], a["rerank_dim"], a["shortlist"]), root + "neighbors/reranked/" + MODEL +
                      reranked_name(a["retrieval_dim"], a["rerank_dim"], a["shortlist"], DATASET, INDEX_TYPE)))
    for f in funnel:
        files.append(("%d->[%s] @[%s]" % (f["retrieval_dim"], ",".join(map(str, f["dims"])), ",".join(map(str, f["shortlists"]))),
                      root + "neighbors/funnel_retrieval/" + MODEL + funnel_name(f["retrieval_dim"], f["dims"], f["shortlists"], DATASET, INDEX_TYPE)))
    return files


def metrics(a):
    """compute_metrics.ipynb's loop over every shortlist this side wrote (missing ones are reported, like the
    notebook's "not found"); the table is also saved as JSON under metrics/."""
    import pandas as pd
    ks = ints(a.ks)
    db_labels = np.load(array_file(a.data, "train", "y"))
    query_labels = np.load(array_file(a.data, "val", "y"))
    rows, missing = [], []
    for config, neighbors_path in shortlist_files(a.root, ints(a.dims), [parse_adaptive(x) for x in a.adaptive], [parse_funnel(x) for x in a.funnel]):
        if not os.path.exists(neighbors_path):
            missing.append(config)
            log(neighbors_path.split("/")[-1] + " not found")
            continue
        start = time.time()
        neighbors = pd.read_csv(neighbors_path, header=None).to_numpy()
        shortlist = [k for k in ks if k <= neighbors.shape[1]]
        top1 = db_labels[neighbors[:, 0]]
        row = {"config": config, "top1": float(np.sum(top1 == query_labels) / query_labels.shape[0])}
        for k in shortlist:
            mAP, precision, recall, topk = compute_mAP_recall_at_k(query_labels, db_labels, neighbors, k, a.recall_denominator)
            row.update({"mAP@%d" % k: float(mAP), "precision@%d" % k: float(precision), "recall@%d" % k: float(recall), "top-%d" % k: float(topk)})
        row["seconds"] = time.time() - start
        rows.append(row)
        log("%s: top1 %.4f, mAP@10 %.4f (%.1f s)" % (config, row["top1"], row.get("mAP@10", float("nan")), row["seconds"]))
    os.makedirs(os.path.join(a.root, "metrics"), exist_ok=True)
    with open(os.path.join(a.root, "metrics", "%s_%s_metrics.json" % (DATASET, INDEX_TYPE)), "w") as f:
        json.dump(rows, f, indent=1)
    return {"rows": rows, "missing": missing}


# ---- agreement (not timed) -------------------------------------------------------------------------------

def compare(a):
    """Per configuration: the share of queries whose first `top` ids are identical (same order) and the same
    set in two output folders' shortlists (e.g. TypeScript vs Python). Exact distance ties and float rounding
    can reorder close neighbours."""
    import pandas as pd
    configs = ints(a.dims), [parse_adaptive(x) for x in a.adaptive], [parse_funnel(x) for x in a.funnel]
    other = dict(shortlist_files(a.b, *configs))
    out = {}

    def existing(file):
        # funnel files: the original's spelling "[16, 32, ...]" or the TypeScript side's "[16,32,...]"
        return next((f for f in (file, file.replace(", ", ",")) if os.path.exists(f)), None)

    for config, file_a in shortlist_files(a.a, *configs):
        file_a, file_b = existing(file_a), existing(other[config])
        if not (file_a and file_b):
            continue
        top = a.top
        x = pd.read_csv(file_a, header=None, usecols=range(top)).to_numpy()
        y = pd.read_csv(file_b, header=None, usecols=range(top)).to_numpy()
        if x.shape != y.shape:
            out[config] = {"error": "shapes %s vs %s" % (x.shape, y.shape)}
            continue
        out[config] = {"identical": float((x == y).all(axis=1).mean()), "same_set": float((np.sort(x, 1) == np.sort(y, 1)).all(axis=1).mean())}
    return out


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="command", required=True)
    g = sub.add_parser("generate")
    g.add_argument("--out", required=True)
    g.add_argument("--rows", type=int, required=True)
    g.add_argument("--queries", type=int, required=True)
    g.add_argument("--dim", type=int, default=2048)
    g.add_argument("--classes", type=int, default=1000)
    g.add_argument("--seed", type=int, default=2022)
    sub.add_parser("versions")
    s = sub.add_parser("search")
    s.add_argument("--data", required=True)
    s.add_argument("--root", required=True)
    s.add_argument("--dim", type=int, required=True)
    s.add_argument("--k", type=int, default=2048)
    r = sub.add_parser("rerank")
    r.add_argument("--data", required=True)
    r.add_argument("--root", required=True)
    r.add_argument("--retrieval-dim", type=int, required=True)
    r.add_argument("--dims", required=True)
    r.add_argument("--shortlists", required=True)
    r.add_argument("--funnel", action="store_true")
    for name in ("metrics", "compare"):
        m = sub.add_parser(name)
        if name == "metrics":
            m.add_argument("--data", required=True)
            m.add_argument("--root", required=True)
            m.add_argument("--ks", default="10,25,50,100")
            m.add_argument("--recall-denominator", type=float, default=1300)
        else:
            m.add_argument("--a", required=True)
            m.add_argument("--b", required=True)
            m.add_argument("--top", type=int, default=10)
        m.add_argument("--dims", required=True)
        m.add_argument("--adaptive", action="append", default=[])
        m.add_argument("--funnel", action="append", default=[])
    a = p.parse_args()
    run = {"generate": generate, "versions": versions, "search": search, "rerank": rerank_stage, "metrics": metrics, "compare": compare}[a.command]
    print(json.dumps(run(a)), flush=True)


if __name__ == "__main__":
    main()
