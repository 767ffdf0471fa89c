#!/usr/bin/env python3
"""Weights between nntop and PyTorch, both ways (issue 4). Never needed by the build.

Setup (the local CPU wheel; never a bare `pip install torch`):
    pip install 'torch==2.13.0+cpu' safetensors numpy

Usage, from the repository root:
    python3 scripts/torch_interop.py make-fixture [--data DIR]
        Trains the reference LeNet5 (../shared/reference/torch_models.py) in PyTorch for one epoch
        on MNIST (batch 64, SGD lr 0.01 momentum 0.9, seed 0), then writes
          Tests/ModelsTests/Fixtures/torch_lenet5_trained.safetensors
              safetensors.torch.save_file(model.state_dict(), ...) -- exactly what a PyTorch user writes
          Tests/ModelsTests/Fixtures/torch_lenet5_predictions.safetensors
              `predictions`: U8 [10000], the argmax of the model's logits on every test image
              metadata test_acc ("98.91", percent, two decimals), correct, n, test_loss, and
              min_margin / near_ties: the smallest top-1 minus top-2 logit gap and how many images
              have a gap under 1e-4 (where float rounding order could flip the argmax)
        The InteropTests load the first into nntop and compare its predictions with the second.

    python3 scripts/torch_interop.py check CKPT [--data DIR] [--model lenet5|resnet18]
        Loads a checkpoint nntop wrote into the reference module exactly as a PyTorch user would:
        load_state_dict(load_file(CKPT) minus the "optimizer." tensors, strict=True), with
        set_residual from the file's `residual` metadata for resnet18; evaluates the 10,000 test
        images and prints `torch test_acc=98.91% test_loss=0.0345 n=10000`. Compare with
        `nntop eval MODEL --weights CKPT`.

    python3 scripts/torch_interop.py strict CKPT [CKPT ...]
        Weights-only files (best.safetensors, `nntop export`'s output) load BARE, as a PyTorch user
        loads a state_dict: model.load_state_dict(load_file(CKPT), strict=True), nothing filtered,
        into torch_models.build(model, channels, classes, residual) from the file's metadata (any model
        of the zoo, any data set); then one forward pass on zeros of the file's input shape. Prints
        `strict ok CKPT: MODEL, N tensors, logits [1, K]` per file; exits 1 at the first that fails
        (a file with optimizer tensors fails: unexpected keys).

    python3 scripts/torch_interop.py summary MODEL [--no-residual]
        The numbers Tests/ModelsTests/SummaryTests.swift expects, derived in PyTorch from the reference
        modules: forward hooks on every leaf module (Conv2d, BatchNorm2d, MaxPool2d, Linear) plus
        wrappers around the functional ops the modules call (F.relu, F.max_pool2d,
        F.adaptive_avg_pool2d) record each output shape of one zero 1x1x32x32 sample in execution
        order; MACs follow fvcore (conv Cout*OH*OW*Cin*K*K, linear in*out, the rest 0); parameters
        are numel() of each module's own parameters; activation memory is the float32 bytes of all
        recorded outputs (torch.flatten is a view and the residual add is not an op recorded here).

Data: the four gzipped idx files in --data (default /work/shared/data/mnist, else assets/mnist);
each 28x28 digit is zero-padded to 32x32, scaled by 1/255 and normalised with mean 0.1307, std 0.3081.
"""
import argparse
import gzip
import os
import struct
import sys

import numpy as np
import torch
import torch.nn.functional as F
from safetensors import safe_open
from safetensors.torch import load_file, save_file

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "..", "shared", "reference"))
sys.path.insert(0, "/work/shared/reference")
import torch_models  # noqa: E402

FIXTURES = os.path.join(ROOT, "Tests", "ModelsTests", "Fixtures")


def default_data():
    for d in ("/work/shared/data/mnist", os.path.join(ROOT, "assets", "mnist")):
        if os.path.exists(os.path.join(d, "t10k-images-idx3-ubyte.gz")):
            return d
    sys.exit("torch_interop: no MNIST folder found; pass --data DIR")


def read_idx(path):
    with gzip.open(path, "rb") as f:
        data = f.read()
    magic, = struct.unpack(">I", data[:4])
    rank = magic & 0xFF
    dims = struct.unpack(">" + "I" * rank, data[4:4 + 4 * rank])
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * rank).reshape(dims)


def load_split(data_dir, prefix):
    images = read_idx(os.path.join(data_dir, f"{prefix}-images-idx3-ubyte.gz"))
    labels = read_idx(os.path.join(data_dir, f"{prefix}-labels-idx1-ubyte.gz"))
    x = np.zeros((len(images), 1, 32, 32), dtype=np.float32)
    x[:, 0, 2:30, 2:30] = images.astype(np.float32) / 255.0   # pad with zeros, then scale
    x = (x - torch_models.MNIST_MEAN) / torch_models.MNIST_STD
    return torch.from_numpy(x), torch.from_numpy(labels.astype(np.int64))


@torch.no_grad()
def evaluate(model, x, y, batch=1000):
    model.eval()
    preds, margins, loss = [], [], 0.0
    for i in range(0, len(x), batch):
        logits = model(x[i:i + batch])
        loss += F.cross_entropy(logits, y[i:i + batch], reduction="sum").item()
        top2 = logits.topk(2, dim=1)
        preds.append(top2.indices[:, 0])
        margins.append(top2.values[:, 0] - top2.values[:, 1])
    preds, margins = torch.cat(preds), torch.cat(margins)
    correct = int((preds == y).sum())
    return preds, margins, correct, loss / len(x)


def make_fixture(args):
    torch.manual_seed(0)
    torch.use_deterministic_algorithms(True)
    xtr, ytr = load_split(args.data, "train")
    xte, yte = load_split(args.data, "t10k")
    model = torch_models.LeNet5()
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    order = torch.randperm(len(xtr), generator=torch.Generator().manual_seed(0))
    model.train()
    for step, i in enumerate(range(0, len(xtr), 64)):
        idx = order[i:i + 64]
        loss = F.cross_entropy(model(xtr[idx]), ytr[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
        if step % 200 == 0:
            print(f"step {step} loss {loss.item():.4f}")
    preds, margins, correct, test_loss = evaluate(model, xte, yte)
    acc = 100.0 * correct / len(xte)
    os.makedirs(FIXTURES, exist_ok=True)
    weights = os.path.join(FIXTURES, "torch_lenet5_trained.safetensors")
    save_file(model.state_dict(), weights)
    pred_path = os.path.join(FIXTURES, "torch_lenet5_predictions.safetensors")
    save_file({"predictions": preds.to(torch.uint8).contiguous()}, pred_path,
              metadata={"test_acc": f"{acc:.2f}", "correct": str(correct), "n": str(len(xte)),
                        "test_loss": f"{test_loss:.6f}", "torch_version": torch.__version__,
                        "min_margin": f"{margins.min().item():.3g}",
                        "near_ties": str(int((margins < 1e-4).sum()))})
    print(f"wrote {weights} ({os.path.getsize(weights)} bytes) and {pred_path} ({os.path.getsize(pred_path)} bytes)")
    print(f"torch test_acc={acc:.2f}% test_loss={test_loss:.4f} n={len(xte)}")


def check(args):
    with safe_open(args.ckpt, "pt") as f:
        meta = f.metadata() or {}
    name = args.model or meta.get("model")
    if name not in torch_models.MODELS:
        sys.exit(f"torch_interop: {args.ckpt}: model {name!r} unknown; pass --model lenet5|resnet18")
    model = torch_models.MODELS[name]()
    state = {k: v for k, v in load_file(args.ckpt).items() if not k.startswith("optimizer.")}
    model.load_state_dict(state, strict=True)
    if name == "resnet18":
        model.set_residual(meta.get("residual", "1") != "0")
    x, y = load_split(args.data, "t10k")
    _, _, correct, loss = evaluate(model, x, y)
    print(f"torch test_acc={100.0 * correct / len(x):.2f}% test_loss={loss:.4f} n={len(x)}"
          + (f" residual={meta.get('residual')}" if name == "resnet18" else ""))


def strict(args):
    import json
    for path in args.ckpt:
        with safe_open(path, "pt") as f:
            meta = f.metadata() or {}
        name = meta.get("model")
        if name not in torch_models.MODELS:
            sys.exit(f"torch_interop: {path}: model {name!r} unknown")
        spec = json.loads(meta["data"]) if "data" in meta else {"channels": 1, "height": 32, "width": 32,
                                                                "classNames": [str(i) for i in range(10)]}
        model = torch_models.build(name, spec["channels"], len(spec["classNames"]), meta.get("residual", "1") != "0")
        state = load_file(path)
        try:
            model.load_state_dict(state, strict=True)
        except RuntimeError as e:
            sys.exit(f"torch_interop: {path}: strict load failed: {e}")
        model.eval()
        with torch.no_grad():
            logits = model(torch.zeros(1, spec["channels"], spec["height"], spec["width"]))
        print(f"strict ok {path}: {name}, {len(state)} tensors, logits {list(logits.shape)}")


def summary(args):
    import torch.nn as nn
    model = torch_models.MODELS[args.model]()
    if args.model == "resnet18":
        model.set_residual(not args.no_residual)
    model.eval()
    rows = []
    inside = [0]   # > 0 while a leaf module runs (nn.MaxPool2d calls F.max_pool2d: record it once)

    def enter(module, inputs):
        inside[0] += 1

    def hook(name):
        def f(module, inputs, out):
            inside[0] -= 1
            if isinstance(module, nn.Conv2d):
                k = module.kernel_size[0] * module.kernel_size[1]
                macs = out.shape[1] * out.shape[2] * out.shape[3] * module.in_channels * k // module.groups
            elif isinstance(module, nn.Linear):
                macs = module.in_features * module.out_features
            else:
                macs = 0
            params = sum(p.numel() for p in module.parameters(recurse=False))
            rows.append((name, type(module).__name__, list(out.shape[1:]), params, macs))
        return f

    for name, m in model.named_modules():
        if len(list(m.children())) == 0:
            m.register_forward_pre_hook(enter)
            m.register_forward_hook(hook(name))
    originals = {}
    for op in ("relu", "max_pool2d", "adaptive_avg_pool2d"):
        originals[op] = getattr(F, op)

        def wrapped(*a, _op=op, **kw):
            out = originals[_op](*a, **kw)
            if inside[0] == 0:
                rows.append((f"F.{_op}", "functional", list(out.shape[1:]), 0, 0))
            return out
        setattr(F, op, wrapped)
    try:
        with torch.no_grad():
            model(torch.zeros(1, 1, 32, 32))
    finally:
        for op, f in originals.items():
            setattr(F, op, f)
    for r in rows:
        print(f"{r[0]:<28} {r[1]:<12} {str(r[2]):<16} {r[3]:>10,} {r[4]:>14,}")
    used = {r[0] for r in rows}
    unused = [n for n, m in model.named_modules() if len(list(m.children())) == 0 and n not in used]
    total_params = sum(p.numel() for p in model.parameters())
    print(f"layers recorded: {len(rows)}; modules that did not run: {unused}")
    print(f"total parameters: {total_params:,} (in modules that did not run: "
          f"{sum(p.numel() for n in unused for p in model.get_submodule(n).parameters()):,})")
    print(f"total MACs: {sum(r[4] for r in rows):,}")
    acts = sum(int(np.prod(r[2])) for r in rows)
    print(f"activation memory: {acts:,} floats = {4 * acts:,} bytes")


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    m = sub.add_parser("make-fixture")
    m.add_argument("--data", default=None)
    c = sub.add_parser("check")
    c.add_argument("ckpt")
    c.add_argument("--data", default=None)
    c.add_argument("--model", default=None)
    t = sub.add_parser("strict")
    t.add_argument("ckpt", nargs="+")
    s = sub.add_parser("summary")
    s.add_argument("model", choices=sorted(torch_models.MODELS))
    s.add_argument("--no-residual", action="store_true")
    args = p.parse_args()
    if args.cmd == "summary":
        return summary(args)
    if args.cmd == "strict":
        return strict(args)
    args.data = args.data or default_data()
    torch.set_num_threads(max(1, os.cpu_count() or 1))
    {"make-fixture": make_fixture, "check": check}[args.cmd](args)


if __name__ == "__main__":
    main()
