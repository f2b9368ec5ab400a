"""Python peer for the inference benchmark: PyTorch CPU throughput of the shipped model's backbone on the
Fashion-MNIST test images (same preprocessing, same batch size as the TypeScript side).

    /usr/bin/python3 bench/inference_peer.py mrl 10000 256
prints JSON {"images": N, "seconds": s, "images_per_second": r}."""
import json
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "model-tools"))
import torch  # noqa: E402

from mrl_model import Classifier, load_split, nesting_for, preprocess  # noqa: E402


def main():
    kind, n, batch = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    torch.set_num_threads(os.cpu_count() or 2)
    root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
    model = Classifier(nesting_for(kind))
    model.load_state_dict(torch.load(os.path.join(root, "data", "models", f"fmnist_{kind}_cnn.pt"), map_location="cpu"))
    model.eval()
    images, _ = load_split("test")
    images = images[:n]
    t0 = time.time()
    with torch.no_grad():
        for i in range(0, n, batch):
            model.backbone(preprocess(images[i:i + batch]))
    seconds = time.time() - t0
    print(json.dumps({"images": n, "seconds": round(seconds, 3), "images_per_second": round(n / seconds, 1)}))


if __name__ == "__main__":
    main()
