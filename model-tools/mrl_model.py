"""The default MRL model for Fashion-MNIST: a small CNN whose 2048-d representation is trained with
Matryoshka heads (one linear classifier per nesting size on the first m dims, summed cross-entropy), as in
Kusupati et al., "Matryoshka Representation Learning" (NeurIPS 2022). The fixed-feature (FF) baseline has
the same backbone and a single 2048-d head.

Shared by train_fmnist.py (training + ONNX export) and reference_outputs.py (PyTorch reference outputs that
the TypeScript tests compare the ONNX inference against)."""
import gzip
import numpy as np
import torch
import torch.nn as nn

NESTING = [8, 16, 32, 64, 128, 256, 512, 1024, 2048]
REP_DIM = 2048
# Fashion-MNIST training-set pixel statistics (after /255).
MEAN, STD = 0.2860, 0.3530
FMNIST_DIR = "/usr/share/datasets/fashion-mnist"


class Backbone(nn.Module):
    """28x28x1 -> 2048-d non-negative representation (ReLU then global average pool, like ResNet50's)."""

    def __init__(self):
        super().__init__()

        def block(cin, cout, k=3):
            return [nn.Conv2d(cin, cout, k, padding=k // 2, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True)]

        self.features = nn.Sequential(
            *block(1, 32), nn.MaxPool2d(2),  # 14x14
            *block(32, 64), nn.MaxPool2d(2),  # 7x7
            *block(64, 128), nn.MaxPool2d(2),  # 3x3
            *block(128, REP_DIM, k=1),
            nn.AdaptiveAvgPool2d(1), nn.Flatten())

    def forward(self, x):
        return self.features(x)


class MRLHeads(nn.Module):
    """One linear classifier per nesting size m, each reading the first m dims (MRL_Linear_Layer, efficient=False)."""

    def __init__(self, nesting, num_classes=10):
        super().__init__()
        self.nesting = list(nesting)
        self.heads = nn.ModuleList([nn.Linear(m, num_classes) for m in self.nesting])

    def forward(self, z):
        return [head(z[:, :m]) for m, head in zip(self.nesting, self.heads)]


class Classifier(nn.Module):
    def __init__(self, nesting):
        super().__init__()
        self.backbone = Backbone()
        self.fc = MRLHeads(nesting)

    def forward(self, x):
        return self.fc(self.backbone(x))


def nesting_for(kind):
    return NESTING if kind == "mrl" else [REP_DIM]


def read_idx(path):
    """Reads a gzipped IDX file (the Debian dataset-fashion-mnist format)."""
    with gzip.open(path, "rb") as f:
        data = f.read()
    ndim = data[3]
    dims = [int.from_bytes(data[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim)]
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


def load_split(split):
    prefix = "train" if split == "train" else "t10k"
    x = read_idx(f"{FMNIST_DIR}/{prefix}-images-idx3-ubyte.gz")
    y = read_idx(f"{FMNIST_DIR}/{prefix}-labels-idx1-ubyte.gz")
    return x, y.astype(np.int64)


def preprocess(images_u8):
    """uint8 (N, 28, 28) -> float32 (N, 1, 28, 28), scaled to [0, 1] then normalized."""
    x = torch.from_numpy(images_u8.astype(np.float32) / 255.0).unsqueeze(1)
    return (x - MEAN) / STD
