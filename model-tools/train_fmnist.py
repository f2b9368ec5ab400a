"""Trains the default Fashion-MNIST model (MRL or FF) on CPU with a fixed seed and exports it to ONNX.

    /usr/bin/python3 model-tools/train_fmnist.py --kind mrl --epochs 6 --out data/models
    /usr/bin/python3 model-tools/train_fmnist.py --kind ff  --epochs 6 --out data/models

Writes <out>/fmnist_<kind>_cnn.onnx (input "images" float32 [N,1,28,28] -> output "features" float32 [N,2048]),
<out>/fmnist_<kind>_cnn.pt (state dict, for reference_outputs.py) and <out>/fmnist_<kind>_cnn.json (model card)."""
import argparse
import json
import os
import time

import numpy as np
import torch
import torch.nn.functional as F

from mrl_model import MEAN, NESTING, REP_DIM, STD, Classifier, load_split, nesting_for, preprocess


def augment(x):
    """Random shifts of up to 2 px (pad + crop) and horizontal flips, batch-wise for speed."""
    n = x.shape[0]
    padded = F.pad(x, (2, 2, 2, 2), value=float(-MEAN / STD))
    dx, dy = np.random.randint(0, 5, size=2)
    x = padded[:, :, dy:dy + 28, dx:dx + 28]
    flip = torch.rand(n) < 0.5
    x[flip] = x[flip].flip(-1)
    return x


def evaluate(model, x, y, batch=1000):
    model.eval()
    nesting = model.fc.nesting
    correct = np.zeros(len(nesting), dtype=np.int64)
    with torch.no_grad():
        for i in range(0, len(x), batch):
            logits = model(x[i:i + batch])
            for j, out in enumerate(logits):
                correct[j] += (out.argmax(1) == y[i:i + batch]).sum().item()
    return {str(m): round(float(c) / len(x), 4) for m, c in zip(nesting, correct)}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--kind", choices=["mrl", "ff"], required=True)
    ap.add_argument("--epochs", type=int, default=6)
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 2)
    ap.add_argument("--out", default="data/models")
    args = ap.parse_args()

    torch.manual_seed(args.seed)
    np.random.seed(args.seed)
    torch.set_num_threads(args.threads)

    xtr_u8, ytr = load_split("train")
    xte_u8, yte = load_split("test")
    xtr, xte = preprocess(xtr_u8), preprocess(xte_u8)
    ytr, yte = torch.from_numpy(ytr), torch.from_numpy(yte)

    nesting = nesting_for(args.kind)
    model = Classifier(nesting)
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=5e-4)
    steps_per_epoch = (len(xtr) + args.batch - 1) // args.batch
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=args.lr, total_steps=args.epochs * steps_per_epoch)

    t0 = time.time()
    for epoch in range(args.epochs):
        model.train()
        perm = torch.randperm(len(xtr))
        total = 0.0
        for step in range(steps_per_epoch):
            idx = perm[step * args.batch:(step + 1) * args.batch]
            logits = model(augment(xtr[idx]))
            # MRL loss: sum of cross-entropies over nesting sizes (all relative importances 1).
            loss = sum(F.cross_entropy(out, ytr[idx]) for out in logits)
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            total += loss.item()
        acc = evaluate(model, xte, yte)
        print(f"epoch {epoch + 1}/{args.epochs} loss {total / steps_per_epoch:.4f} "
              f"test acc {acc} elapsed {time.time() - t0:.0f}s", flush=True)
    train_seconds = time.time() - t0
    accuracy = evaluate(model, xte, yte)

    os.makedirs(args.out, exist_ok=True)
    stem = os.path.join(args.out, f"fmnist_{args.kind}_cnn")
    model.eval()
    torch.save(model.state_dict(), stem + ".pt.tmp")
    os.replace(stem + ".pt.tmp", stem + ".pt")
    torch.onnx.export(model.backbone, torch.zeros(1, 1, 28, 28), stem + ".onnx.tmp", input_names=["images"],
                      output_names=["features"], dynamic_axes={"images": {0: "batch"}, "features": {0: "batch"}},
                      opset_version=13)
    os.replace(stem + ".onnx.tmp", stem + ".onnx")
    card = {
        "name": f"fmnist_{args.kind}_cnn",
        "kind": args.kind,
        "config": "mrl1_e0_ff2048" if args.kind == "mrl" else "mrl0_e0_ff2048",
        "dataset": "FMNIST",
        "representation_dim": REP_DIM,
        "nesting": nesting,
        "input": {"name": "images", "shape": ["N", 1, 28, 28], "dtype": "float32", "layout": "NCHW"},
        "output": {"name": "features", "shape": ["N", REP_DIM], "dtype": "float32"},
        "preprocessing": {"scale": 1 / 255, "mean": [MEAN], "std": [STD]},
        "training": {"epochs": args.epochs, "batch": args.batch, "optimizer": "AdamW + OneCycle",
                     "max_lr": args.lr, "weight_decay": 5e-4, "seed": args.seed,
                     "augmentation": "random 2px shift, horizontal flip", "threads": args.threads,
                     "seconds": round(train_seconds, 1), "torch": torch.__version__},
        "test_accuracy": accuracy,
        "produced_by": f"/usr/bin/python3 model-tools/train_fmnist.py --kind {args.kind} --epochs {args.epochs} --out {args.out}",
    }
    with open(stem + ".json.tmp", "w") as f:
        json.dump(card, f, indent=2)
    os.replace(stem + ".json.tmp", stem + ".json")
    print(json.dumps(card, indent=2))


if __name__ == "__main__":
    main()
