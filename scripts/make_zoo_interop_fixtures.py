#!/usr/bin/env python3
"""PyTorch-saved resnet20-cifar and googlenet state_dicts, and PyTorch's predictions with them on a
colourised MNIST test set (issue 17: "evaluated by nntop give PyTorch's accuracy to 0.01 %").

Writes to Tests/ModelsTests/Fixtures/:

  torch_<model>_state_dict.safetensors.gz   what safetensors.torch.save_file(model.state_dict(), path)
                                            wrote, gzipped (-9, mtime 0)
  torch_<model>_predictions.safetensors     predictions U8 [n] (PyTorch's argmax per test image),
                                            logits F32 [16, 10] (the first 16 images, float64 run),
                                            metadata: first (N_TEST), excluded (the images among the
                                            first N_TEST whose top-two gap is under 10x PyTorch
                                            float32's error on their logits: the test set is the
                                            others), n, correct, test_acc (percent, 2 decimals),
                                            test_loss, min_margin (smallest top-1 minus top-2 logit
                                            gap; gap_over_float32_error_min: the smallest ratio),
                                            float32_flips (images whose argmax PyTorch's float32 run
                                            changes: 0), data and weights formulas

Rerun from the repo root (torch==2.13.0+cpu, safetensors, numpy; one thread, so bit for bit):

    python3 scripts/make_zoo_interop_fixtures.py [--reference DIR] [--out DIR] [--data DIR]

Weights: make_fixtures.interop_state (the ResNet-18 interop fixture's: the hashed formula repeating
with a prime period inside each tensor, 1009 or 509 (see MODELS), so the file gzips small), except
the batch norms' running statistics (and num_batches_tracked), measured on the training images below
(see calibrate), and the classifier fc, fitted on them (multinomial logistic regression with an L2
penalty RIDGE, float64 L-BFGS, 100 iterations, on the standardised pooled features of the first
TRAIN_IMAGES training images): a trained head on a fixed random backbone, so the accuracy means
something (resnet20-cifar 43.00 %, googlenet 18.02 %, chance 10 %).

Data: MNIST (assets/mnist), colourised: image n, channel c holds (p * M[(n + c) % 3]) // 8 of the grey
pixel p, M = (8, 5, 2); 28x28 centred in 32x32 with background pixels 0, normalised with CIFAR-10's
per-channel mean and std exactly as nntop's Dataset.fill does in float32:
x = f32(q) * f32(1 / f32(255 * std)) + f32(-mean / std). The test set is the first N_TEST of t10k
but the excluded (see above).
"""
import argparse
import gzip
import os
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from safetensors.torch import load, save_file

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "scripts"))
import make_fixtures as mf  # noqa: E402
import torch_interop as ti  # noqa: E402  (read_idx)

# model: the period of its weights (prime, dividing no tensor dimension, above every weight matrix's
# smaller side so the matrices stay full rank; googlenet's is shorter than make_fixtures' 1009 to halve
# its file: 5.6 M parameters in 231 tensors)
MODELS = {"resnet20-cifar": mf.PERIOD, "googlenet": 509}
N_TEST = 2000
TRAIN_IMAGES = 4000
LOGIT_ROWS = 16
RIDGE = 1e-2            # the head's L2 penalty (on standardised features): 1e-4 overfitted GoogLeNet's (test loss 10.7)
COLOUR = (8, 5, 2)
MEAN = np.array([0.4914, 0.4822, 0.4465], dtype=np.float32)
STD = np.array([0.2023, 0.1994, 0.2010], dtype=np.float32)
MAX_TOTAL_BYTES = 600_000


def colourised(data_dir, prefix, first, count):
    images = ti.read_idx(os.path.join(data_dir, f"{prefix}-images-idx3-ubyte.gz"))[first:first + count]
    labels = ti.read_idx(os.path.join(data_dir, f"{prefix}-labels-idx1-ubyte.gz"))[first:first + count]
    n = np.arange(first, first + count)
    q = np.zeros((count, 3, 32, 32), dtype=np.int64)
    for c in range(3):
        m = np.array(COLOUR)[(n + c) % 3].reshape(-1, 1, 1)
        q[:, c, 2:30, 2:30] = (images.astype(np.int64) * m) // 8
    scale = np.float32(1) / (np.float32(255) * STD)
    background = (-MEAN) / STD
    x = q.astype(np.float32) * scale.reshape(1, 3, 1, 1) + background.reshape(1, 3, 1, 1)
    assert x.dtype == np.float32
    return torch.from_numpy(x), torch.from_numpy(labels.astype(np.int64))


def features(model, x, batch=250):
    """The fc layer's input for each image (eval mode, float32)."""
    got = []
    h = model.fc.register_forward_hook(lambda m, i, o: got.append(i[0].detach().clone()))
    with torch.no_grad():
        for i in range(0, len(x), batch):
            model(x[i:i + batch])
    h.remove()
    return torch.cat(got)


def calibrate(model, x, batch=250):
    """Batch-norm running statistics measured on x (train-mode passes, cumulative average over the
    batches), as BN recalibration does: with the formula's running statistics GoogLeNet's pooled
    features were the same for every image to 1e-7 (each layer shrank the input's part, each bias
    added a constant one), leaving the head nothing to tell images apart by."""
    bns = [m for m in model.modules() if isinstance(m, nn.BatchNorm2d)]
    for m in bns:
        m.reset_running_stats()
        m.momentum = None
    model.train()
    with torch.no_grad():
        for i in range(0, len(x), batch):
            model(x[i:i + batch])
    for m in bns:
        m.momentum = 0.1
    model.eval()


def fit_head(f, y, classes=10):
    """Multinomial logistic regression on standardised features (unstandardised, L-BFGS reaches 30 %
    instead of 56 % for resnet20-cifar: the pooled features share a large common part), folded back
    into fc's weight and bias."""
    f = f.double()
    # A nearly constant feature keeps a floor on its scale: 1 / its tiny std would multiply float32's
    # error on it into the logits.
    mu, sd = f.mean(0), f.std(0)
    sd = sd.clamp_min(0.1 * sd.mean().item())
    z = (f - mu) / sd
    w = torch.zeros(classes, z.shape[1], dtype=torch.float64, requires_grad=True)
    b = torch.zeros(classes, dtype=torch.float64, requires_grad=True)
    opt = torch.optim.LBFGS([w, b], lr=1, max_iter=100, history_size=20, line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        loss = F.cross_entropy(z @ w.T + b, y) + RIDGE * (w * w).sum()
        loss.backward()
        return loss
    opt.step(closure)
    weight = (w / sd).detach()
    bias = (b - (w * mu / sd).sum(1)).detach()
    return weight.float().contiguous(), bias.float().contiguous()


def make(tm, name, data_dir, out_dir):
    """Writes the model's two files; returns their names."""
    model = tm.build(name, in_channels=3, num_classes=10)
    model.load_state_dict(mf.interop_state(model, MODELS[name]), strict=True)
    xtr, ytr = colourised(data_dir, "train", 0, TRAIN_IMAGES)
    calibrate(model, xtr)
    weight, bias = fit_head(features(model, xtr), ytr)
    sd = model.state_dict()
    sd["fc.weight"], sd["fc.bias"] = weight, bias
    model.load_state_dict(sd, strict=True)

    with tempfile.TemporaryDirectory() as tmp:
        raw_path = os.path.join(tmp, f"{name}.safetensors")
        save_file(model.state_dict(), raw_path)   # exactly what a PyTorch user writes
        raw = Path(raw_path).read_bytes()
    assert all(torch.equal(v, model.state_dict()[n]) for n, v in load(raw).items())
    weights_name = f"torch_{name}_state_dict.safetensors.gz"
    (out_dir / weights_name).write_bytes(gzip.compress(raw, compresslevel=9, mtime=0))

    x, y = colourised(data_dir, "t10k", 0, N_TEST)
    with torch.no_grad():
        l64 = torch.cat([model.double()(x[i:i + 250].double()) for i in range(0, N_TEST, 250)])
        l32 = torch.cat([model.float()(x[i:i + 250]) for i in range(0, N_TEST, 250)])
    # Each image's top-two gap against PyTorch float32's largest error on that image's logits: the test
    # set is the images where the gap is at least 10x that (float32 rounding cannot flip their argmax).
    top = l64.topk(2, dim=1).values
    gap_all = top[:, 0] - top[:, 1]
    f32_err = (l32.double() - l64).abs().max(dim=1).values
    keep = gap_all >= 10 * f32_err
    excluded = torch.nonzero(~keep).flatten().tolist()
    l64, l32, y, gap, f32_err = l64[keep], l32[keep], y[keep], gap_all[keep], f32_err[keep]
    n = len(y)
    preds = l64.argmax(1)
    flips = int((l32.argmax(1) != preds).sum())
    ratio = (gap / f32_err.clamp_min(1e-30)).min().item()
    correct = int((preds == y).sum())
    loss = F.cross_entropy(l64, y).item()
    counts = torch.bincount(preds, minlength=10).tolist()
    print(f"  {name}: {correct}/{n} = {100 * correct / n:.2f}%, loss {loss:.4f}; {len(excluded)} of {N_TEST} images left "
          f"out {excluded} (top-two gap under 10x PyTorch float32's error); smallest gap left {gap.min().item():.3g} "
          f"(logit RMS {l64.pow(2).mean().sqrt().item():.3g}, >= {ratio:.0f}x float32's error on the image), float32 "
          f"argmax flips {flips}, float32 vs float64 logits {mf.rel(l32, l64):.2e}, predicted classes {counts}")
    assert flips == 0 and len(excluded) <= N_TEST // 100
    out = {"predictions": preds.to(torch.uint8).contiguous(), "logits": l64[:LOGIT_ROWS].float().contiguous()}
    meta = {"model": name, "n": str(n), "first": str(N_TEST), "excluded": ",".join(map(str, excluded)),
            "correct": str(correct), "test_acc": f"{100 * correct / n:.2f}",
            "test_loss": f"{loss:.6f}", "min_margin": f"{gap.min().item():.3g}", "float32_flips": str(flips),
            "float32_logit_error_max": f"{f32_err.max().item():.3g}", "gap_over_float32_error_min": f"{ratio:.3g}",
            "predicted_counts": ",".join(map(str, counts)), "weights": weights_name, "weights_bytes": str(len(raw)),
            "period": str(MODELS[name]), "state_names": ",".join(model.state_dict().keys()),
            "data": f"MNIST t10k[0..<{N_TEST}] but the excluded, channel c of image i = (p*{list(COLOUR)}[(i+c)%3])//8, "
                    "28x28 centred in 32x32 (background 0), CIFAR-10 mean/std",
            "bn_stats": f"running statistics measured on MNIST train[0..<{TRAIN_IMAGES}] (same colouring), "
                        "cumulative average over batches of 250",
            "fc": f"logistic regression (L2 {RIDGE:g}) on standardised pooled features of MNIST train[0..<{TRAIN_IMAGES}]",
            "torch_version": torch.__version__}
    path = out_dir / f"torch_{name}_predictions.safetensors"
    save_file(out, str(path), metadata=meta)
    mf.canonicalize_header(path)
    mf.check_file(path, out, meta)
    return [weights_name, path.name]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--reference", default=str(REPO.parent / "shared" / "reference"))
    ap.add_argument("--out", default=str(REPO / "Tests" / "ModelsTests" / "Fixtures"))
    ap.add_argument("--data", default=str(REPO / "assets" / "mnist"))
    args = ap.parse_args()
    sys.path.insert(0, args.reference)
    import torch_models as tm
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    out_dir = Path(args.out)
    total = 0
    for name in MODELS:
        for f in make(tm, name, args.data, out_dir):
            size = (out_dir / f).stat().st_size
            total += size
            print(f"  {f:48s} {size:9,d} bytes")
    print(f"  total {total:,} bytes")
    assert total <= MAX_TOTAL_BYTES, total


if __name__ == "__main__":
    main()
