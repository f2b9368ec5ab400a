"""compute_metrics.ipynb's per-query metric loop, transcribed once for both Python peers of the benchmarks
(bench/retrieval_peer.py, bench/scale_peer.py). The notebook divides recall by the constant 1300; here the
denominator is a parameter: a number (the notebook's 1300), or an array indexed by class (each query class's
database count, as this project's default "class-count")."""
import numpy as np


def compute_mAP_recall_at_k(val_classes, db_classes, neighbors, k, recall_denominator):
    per_class = np.ndim(recall_denominator) > 0
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
        recall.append(np.sum(matches) / (recall_denominator[target] if per_class else recall_denominator))
        precision.append(np.sum(matches) / k)
        precs = tps.astype(float) / np.arange(1, k + 1, 1)
        APs.append(np.sum(precs[matches.squeeze()]) / k)
    return np.mean(APs), np.mean(precision), np.mean(recall), np.mean(topk)
