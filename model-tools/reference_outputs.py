"""PyTorch reference features of the shipped Fashion-MNIST models, for the TypeScript/ONNX equivalence test.

    /usr/bin/python3 model-tools/reference_outputs.py data/models/fmnist_mrl_cnn.pt mrl 16
prints JSON {"features": [[...2048 floats], ...]} for the first N test images (same preprocessing as training)."""
import json
import sys

import torch

from mrl_model import Classifier, load_split, nesting_for, preprocess


def main():
    weights, kind, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
    model = Classifier(nesting_for(kind))
    model.load_state_dict(torch.load(weights, map_location="cpu"))
    model.eval()
    images, _ = load_split("test")
    with torch.no_grad():
        features = model.backbone(preprocess(images[:n]))
    print(json.dumps({"features": features.tolist()}))


if __name__ == "__main__":
    main()
