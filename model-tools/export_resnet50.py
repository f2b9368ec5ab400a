"""Exports an original MRL ResNet50 checkpoint (github.com/RAIVNLab/MRL) to ONNX for the TypeScript inference stage.

    /usr/bin/python3 model-tools/export_resnet50.py CHECKPOINT.pt OUT.onnx [--nesting 8,16,...,2048]
    /usr/bin/python3 model-tools/export_resnet50.py --make-random-checkpoint PATH.pt [--seed 0] [--efficient] [--no-blurpool]

The checkpoint is the one the original code trains and releases: a torchvision resnet50 whose `fc` is an
`MRL_Linear_Layer` (`fc.nesting_classifier_0..8`, each Linear(m, 1000); MRL-E: a single
`fc.nesting_classifier_0` of 2048 -> 1000; the older release notation keeps MRL-E as a plain `fc.weight`).
It may be a raw state dict or wrapped in {"state_dict": ...} / {"model": ...}, with DDP `module.` prefixes.
The classifier heads are dropped: retrieval uses the pooled 2048-d representation, exactly what the original
pytorch_inference.py --retrieval dumps (its avgpool hook).

Writes OUT.onnx (input "images" float32 [N,3,224,224] -> output "features" float32 [N,2048], opset 13, dynamic
batch) and OUT.json, the model card that lib/src/inference/model.ts reads (kind, nesting, preprocessing).

Released MRL checkpoints are trained with FFCV, which wraps every strided convolution with >= 16 input channels
in a BlurPoolConv2d (the original inference script calls apply_blurpool before loading). Such checkpoints carry
`*.blur_filter` buffers and `*.conv.weight` keys; they are detected and the same wrapping is applied here, so
the exported graph computes what the original evaluation computed.

--make-random-checkpoint writes a randomly initialised checkpoint in that original format (no real weights can
be downloaded in this environment); the tests export it and compare against PyTorch.
"""
import argparse
import hashlib
import json
import os
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F
import torchvision

NESTING = [2 ** i for i in range(3, 12)]  # 8 .. 2048, the original NESTING_LIST
REP_DIM = 2048
NUM_CLASSES = 1000
INPUT_NAME, OUTPUT_NAME = "images", "features"
OPSET = 13
IMAGENET_MEAN = [0.485, 0.456, 0.406]
IMAGENET_STD = [0.229, 0.224, 0.225]


class ExportError(Exception):
    """A problem the user can fix (bad checkpoint, bad arguments); reported without a traceback."""


class BlurPoolConv2d(nn.Module):
    """FFCV's BlurPool wrapper, as in the original train_imagenet.py / utils.py. The attribute and buffer names
    (`conv`, `blur_filter`) must stay as they are: they are the checkpoint's state-dict keys."""

    def __init__(self, conv):
        super().__init__()
        default_filter = torch.tensor([[[[1, 2, 1], [2, 4, 2], [1, 2, 1]]]]) / 16.0
        self.conv = conv
        self.register_buffer("blur_filter", default_filter.repeat(conv.in_channels, 1, 1, 1))

    def forward(self, x):
        blurred = F.conv2d(x, self.blur_filter, stride=1, padding=(1, 1), groups=self.conv.in_channels, bias=None)
        return self.conv(blurred)


def apply_blurpool(module):
    """Wraps strided convolutions with >= 16 input channels, the original's rule (the stem conv1 stays as is)."""
    for name, child in module.named_children():
        if isinstance(child, nn.Conv2d) and max(child.stride) > 1 and child.in_channels >= 16:
            setattr(module, name, BlurPoolConv2d(child))
        else:
            apply_blurpool(child)


class MRLLinearLayer(nn.Module):
    """Same parameter names and outputs as the original MRL_Linear_Layer; only used to write random checkpoints."""

    def __init__(self, nesting, num_classes=NUM_CLASSES, efficient=False):
        super().__init__()
        self.nesting = list(nesting)
        self.efficient = efficient
        if efficient:
            self.nesting_classifier_0 = nn.Linear(self.nesting[-1], num_classes)
        else:
            for i, m in enumerate(self.nesting):
                setattr(self, f"nesting_classifier_{i}", nn.Linear(m, num_classes))

    def forward(self, x):
        if self.efficient:
            head = self.nesting_classifier_0
            return tuple(F.linear(x[:, :m], head.weight[:, :m], head.bias) for m in self.nesting)
        return tuple(getattr(self, f"nesting_classifier_{i}")(x[:, :m]) for i, m in enumerate(self.nesting))


def parse_nesting(text):
    try:
        nesting = [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, got {text!r}")
    if not nesting or nesting != sorted(set(nesting)) or nesting[0] < 1 or nesting[-1] != REP_DIM:
        raise argparse.ArgumentTypeError(f"expected increasing positive sizes ending at {REP_DIM}, got {text!r}")
    return nesting


def read_state_dict(path):
    """Loads a checkpoint and returns its state dict with DDP `module.` prefixes removed."""
    if not os.path.isfile(path):
        raise ExportError(f"{path}: checkpoint file not found")
    try:
        ckpt = torch.load(path, map_location="cpu")
    except Exception as err:  # pickle/zip errors come in many types
        raise ExportError(f"{path}: cannot read checkpoint: {err}")
    # Training scripts wrap the weights in various ways; unwrap the common ones.
    for _ in range(2):
        if isinstance(ckpt, dict) and not any(torch.is_tensor(v) for v in ckpt.values()):
            inner = next((ckpt[k] for k in ("state_dict", "model") if k in ckpt), None)
            if inner is None:
                break
            ckpt = inner
    if isinstance(ckpt, nn.Module):  # torch.save(model) instead of torch.save(model.state_dict())
        ckpt = ckpt.state_dict()
    if not isinstance(ckpt, dict) or not ckpt or not all(isinstance(k, str) and torch.is_tensor(v) for k, v in ckpt.items()):
        raise ExportError(f"{path}: not a state dict (expected tensors by name, or a dict with a 'state_dict' or 'model' entry)")
    state = {}
    for key, value in ckpt.items():
        while key.startswith("module."):  # DDP (possibly wrapped twice)
            key = key[len("module."):]
        state[key] = value
    return state


def describe_head(state, path):
    """Reads the MRL head from the fc.* weights: (nesting or None when the head does not tell, efficient)."""
    heads = {}
    for key, value in state.items():
        parts = key.split(".")
        index = parts[1][len("nesting_classifier_"):] if len(parts) == 3 and parts[1].startswith("nesting_classifier_") else ""
        if parts[0] == "fc" and index.isdigit() and parts[2] == "weight" and value.dim() == 2:
            heads[int(index)] = value.shape[1]
    if heads:
        if sorted(heads) != list(range(len(heads))):
            raise ExportError(f"{path}: fc.nesting_classifier_* indices are not 0..{len(heads) - 1}: {sorted(heads)}")
        sizes = [heads[i] for i in range(len(heads))]
        if len(sizes) == 1 and sizes[0] == REP_DIM:
            return None, True  # MRL-E: one 2048-d head sliced per nesting size; the sizes are not stored
        return sizes, False
    if "fc.weight" in state:
        return None, True  # the older release notation of MRL-E (SingleHeadNestedLinear is a Linear)
    raise ExportError(f"{path}: no MRL head found (expected fc.nesting_classifier_<i>.weight keys); is this an MRL ResNet50 checkpoint?")


def build_backbone(state, path):
    """torchvision resnet50 without its classifier (fc = Identity, so the output is the pooled 2048-d
    representation), with BlurPool when the checkpoint has it, strictly loaded and in eval mode."""
    backbone = {k: v for k, v in state.items() if not k.startswith("fc.")}
    blurpool = any(k.endswith(".blur_filter") for k in backbone)
    model = torchvision.models.resnet50(weights=None)
    model.fc = nn.Identity()
    if blurpool:
        apply_blurpool(model)
    expected = model.state_dict()
    # BatchNorm's num_batches_tracked only matters in training (and checkpoints from torch < 0.4.1 lack it).
    for key in expected:
        if key.endswith(".num_batches_tracked") and key not in backbone:
            backbone[key] = expected[key]
    missing = sorted(set(expected) - set(backbone))
    unexpected = sorted(set(backbone) - set(expected))
    if missing or unexpected:
        what = "torchvision resnet50" + (" with FFCV BlurPool" if blurpool else "")

        def few(keys):
            return ", ".join(keys[:5]) + (f", ... ({len(keys)} in all)" if len(keys) > 5 else "")

        problems = ([f"missing keys: {few(missing)}"] if missing else []) + ([f"unexpected keys: {few(unexpected)}"] if unexpected else [])
        raise ExportError(f"{path}: the backbone weights do not match {what}; " + "; ".join(problems))
    try:
        model.load_state_dict(backbone, strict=True)
    except RuntimeError as err:  # shape mismatches
        raise ExportError(f"{path}: the backbone weights do not fit torchvision resnet50: {err}")
    return model.eval(), blurpool


def load_backbone(path):
    """Checkpoint file -> (eval-mode backbone, info). The test uses this to compute the PyTorch reference."""
    state = read_state_dict(path)
    nesting, efficient = describe_head(state, path)
    model, blurpool = build_backbone(state, path)
    return model, {"nesting": nesting, "efficient": efficient, "blurpool": blurpool}


def sha256(path):
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def write_json_atomically(path, data):
    tmp = f"{path}.tmp-{os.getpid()}"
    with open(tmp, "w") as f:
        json.dump(data, f, indent=2)
        f.write("\n")
    os.replace(tmp, path)


def export(checkpoint, out, nesting_arg=None):
    if not out.endswith(".onnx"):
        raise ExportError(f"{out}: the output must end in .onnx (the model card goes next to it as .json)")
    model, info = load_backbone(checkpoint)
    nesting = info["nesting"]
    if nesting_arg is not None:
        if nesting is not None and nesting != nesting_arg:
            raise ExportError(f"{checkpoint}: the checkpoint's heads have nesting {nesting}, but --nesting says {nesting_arg}")
        nesting = nesting_arg
    nesting = nesting or NESTING
    if nesting[-1] != REP_DIM:
        raise ExportError(f"{checkpoint}: the largest head reads {nesting[-1]} dims, expected {REP_DIM}")

    os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
    tmp = f"{out}.tmp-{os.getpid()}"
    try:
        with torch.no_grad():
            torch.onnx.export(model, torch.zeros(1, 3, 224, 224), tmp, input_names=[INPUT_NAME], output_names=[OUTPUT_NAME],
                              dynamic_axes={INPUT_NAME: {0: "batch"}, OUTPUT_NAME: {0: "batch"}}, opset_version=OPSET,
                              do_constant_folding=True)
        import onnx  # only needed here; imported late so --make-random-checkpoint works without it
        onnx.checker.check_model(tmp)
        os.replace(tmp, out)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)

    stem = os.path.splitext(out)[0]
    efficient = info["efficient"]
    card = {
        "name": os.path.basename(stem),
        "kind": "mrl",
        # the original's config string (pytorch_inference.py): mrl1, e0/e1 for MRL/MRL-E, 2048-d
        "config": f"mrl1_e{int(efficient)}_ff{REP_DIM}",
        "efficient": efficient,
        "blurpool": info["blurpool"],
        "representation_dim": REP_DIM,
        "nesting": nesting,
        "input": {"name": INPUT_NAME, "shape": ["N", 3, 224, 224], "dtype": "float32", "layout": "NCHW"},
        "output": {"name": OUTPUT_NAME, "shape": ["N", REP_DIM], "dtype": "float32"},
        "preprocessing": {"resize": 256, "center_crop": 224, "scale": 1 / 255, "mean": IMAGENET_MEAN, "std": IMAGENET_STD},
        "source_checkpoint": {"file": os.path.basename(checkpoint), "sha256": sha256(checkpoint)},
        "opset": OPSET,
        "torch": torch.__version__,
        "produced_by": "/usr/bin/python3 model-tools/export_resnet50.py " + " ".join(sys.argv[1:]),
    }
    write_json_atomically(stem + ".json", card)
    return card


def calibration_images(generator):
    """16 normalized 224x224 images mixing what a random network may be shown: smooth shading (bilinear
    upsampled low-resolution noise), flat regions with hard edges (nearest upsampled) and white noise.
    Statistics from white noise alone leave photo-like inputs with features in the thousands."""
    def upsampled(size, mode):
        low = torch.randn(1, 3, size, size, generator=generator)
        return F.interpolate(low, size=(224, 224), mode=mode) + 0.1 * torch.randn(1, 3, 224, 224, generator=generator)

    smooth = [upsampled(s, "bilinear") for s in (4, 8, 16, 32, 4, 8, 16, 32)]
    blocky = [upsampled(s, "nearest") for s in (2, 4, 8, 16)]
    return torch.cat(smooth + blocky + [torch.randn(4, 3, 224, 224, generator=generator)])


def make_random_checkpoint(path, nesting=NESTING, efficient=False, blurpool=True, seed=0):
    """Writes a randomly initialised MRL ResNet50 in the original training script's format: the DDP
    `module.` prefix, FFCV BlurPool wrappers (unless blurpool=False) and fc.nesting_classifier_<i> heads."""
    torch.manual_seed(seed)
    model = torchvision.models.resnet50(weights=None)
    model.fc = MRLLinearLayer(nesting, efficient=efficient)
    if blurpool:
        apply_blurpool(model)
    # Fresh BatchNorm running statistics (mean 0, var 1) make eval-mode BN an identity, and activations then
    # grow through the 16 residual blocks to values (thousands) where float32 comparisons say little.
    # Calibrate the statistics on one batch of synthetic images instead, so features have roughly a trained
    # model's scale, and give the affine parameters non-trivial values so the exported (folded) BN is exercised.
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.momentum = None  # cumulative average: one batch sets the statistics exactly
            m.reset_running_stats()
            nn.init.uniform_(m.weight, 0.5, 1.5)
            nn.init.uniform_(m.bias, -0.2, 0.2)
    model.train()
    with torch.no_grad():
        model(calibration_images(torch.Generator().manual_seed(seed)))
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.momentum = 0.1
    state = {"module." + k: v for k, v in model.state_dict().items()}
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    tmp = f"{path}.tmp-{os.getpid()}"
    torch.save(state, tmp)
    os.replace(tmp, path)
    return path


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("checkpoint", nargs="?", help="original MRL ResNet50 checkpoint (.pt)")
    parser.add_argument("out", nargs="?", help="output .onnx (the model card is written next to it as .json)")
    parser.add_argument("--nesting", type=parse_nesting, default=None,
                        help="nesting sizes for the card, e.g. 8,16,...,2048 (default: read from the heads, else 8..2048)")
    parser.add_argument("--make-random-checkpoint", metavar="PATH",
                        help="write a randomly initialised MRL ResNet50 checkpoint in the original format and exit")
    parser.add_argument("--seed", type=int, default=0, help="seed for --make-random-checkpoint")
    parser.add_argument("--efficient", action="store_true", help="--make-random-checkpoint: MRL-E head (one 2048-d classifier)")
    parser.add_argument("--no-blurpool", action="store_true", help="--make-random-checkpoint: plain torchvision convs (no FFCV BlurPool)")
    args = parser.parse_args(argv)
    try:
        if args.make_random_checkpoint:
            if args.checkpoint or args.out:
                parser.error("--make-random-checkpoint takes no CHECKPOINT/OUT arguments")
            path = make_random_checkpoint(args.make_random_checkpoint, nesting=args.nesting or NESTING,
                                          efficient=args.efficient, blurpool=not args.no_blurpool, seed=args.seed)
            print(json.dumps({"checkpoint": path}))
            return 0
        if not args.checkpoint or not args.out:
            parser.error("CHECKPOINT and OUT are required")
        card = export(args.checkpoint, args.out, args.nesting)
        print(json.dumps({"onnx": args.out, "card": card}))
        return 0
    except ExportError as err:
        print(f"export_resnet50.py: error: {err}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
