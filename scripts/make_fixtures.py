#!/usr/bin/env python3
"""Generate the PyTorch reference fixtures for nntop's model tests.

Writes five safetensors files to Tests/ModelsTests/Fixtures/:

  lenet5.safetensors               LeNet5, train mode, full gradients
  resnet18_res_train.safetensors   ResNet18, residual on,  train mode
  resnet18_nores_train.safetensors ResNet18, residual off, train mode
  resnet18_res_eval.safetensors    ResNet18, residual on,  eval mode
  resnet18_nores_eval.safetensors  ResNet18, residual off, eval mode

Rerun (from the repo root; needs scripts/requirements-fixtures.txt installed, torch
being the CPU wheel torch==2.13.0+cpu):

    python3 scripts/make_fixtures.py [--reference DIR] [--out DIR]

The models come from torch_models.py in <repo>/../shared/reference (or --reference).
The output is deterministic and byte-identical on rerun (one CPU thread, deterministic
algorithms, header metadata keys sorted).

Deterministic weights (nntop's Swift tests compute the same formula)
--------------------------------------------------------------------
Iterate model.state_dict().items() in order; k is the 0-based index in that order
(num_batches_tracked entries count towards k but are left at 0). For a tensor with
flat row-major element index i:

    h = (i*2654435761 + k*2246822519) mod 2^32;  h ^= h >> 15
    h = (h*2246822519) mod 2^32;                  h ^= h >> 13
    b = float32( h / 2^31 - 1 )                 # in [-1, 1), exact integer hash: full-rank weights

then, with all further arithmetic in float32 (constants rounded to float32 first):

    *.running_mean                         0.1 * b
    *.running_var                          1 + (0.5 * b) * b
    BatchNorm2d .weight                    1 + 0.2 * b
    BatchNorm2d .bias                      0.1 * b
    Conv2d / Linear .weight                b / float32(sqrt(fan_in)),  fan_in = numel / shape[0]
    Conv2d / Linear .bias                  0.1 * b

BN vs conv/linear is decided by the type of model.get_submodule(<name without last part>).

Input: B = 32, torch.randn([32,1,32,32]) from a Generator seeded 0 (stored in each file);
labels: y[j] = (3*j + 1) % 10, int64.

The expected values are computed in float64 from these float32 weights and inputs (stored as
float32), so they are the exact answer; the script asserts that PyTorch's own float32 run agrees
with them to 2e-5, i.e. that each case is well-conditioned enough for the Swift tests' 1e-4.

Each file holds
    input [32,1,32,32] f32, labels [32] i64, logits [32,10] f32,
    loss [1] f32 (F.cross_entropy, mean reduction),
    LeNet5:   grad.<param> full gradient, f32, for every named parameter
    ResNet18: grad.<param>.head  = first min(256, numel) elements of the flat gradient, f32
              grad.<param>.stats = float64 [3] with g the gradient cast to float64:
                  [ sum_i g_i*sin(0.013*i), sum_i g_i*cos(0.007*i + 1.0), sqrt(sum_i g_i^2) ]
              With residual off the downsample.* parameters are unused: PyTorch leaves their
              grad None, and they are stored as zero gradients (head zeros, stats [0,0,0]).
              train mode only: after.<bn>.running_mean / after.<bn>.running_var (f32), each
              BatchNorm2d's running stats after the one forward pass (momentum 0.1,
              unbiased batch variance).
The header __metadata__ has model, mode, residual ("1"/"0"; "0" for LeNet5), state_names
and param_names (comma-joined, in order), formula, torch_version.
"""
import argparse
import json
import math
import os
import sys
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from safetensors.torch import save_file

REPO = Path(__file__).resolve().parent.parent
BATCH = 32
HEAD = 256
RESNET18_PARAMS = 11_175_434
MAX_TOTAL_BYTES = 2 * 1024 * 1024

FORMULA = (
    "state_dict order k, flat index i: h=(i*2654435761+k*2246822519)%2^32; h^=h>>15; h=(h*2246822519)%2^32; "
    "h^=h>>13; b=f32(h/2^31-1); then in f32: "
    "running_mean=0.1*b, running_var=1+(0.5*b)*b, BN weight=1+0.2*b, BN bias=0.1*b, "
    "conv/linear weight=b/f32(sqrt(numel/shape[0])), conv/linear bias=0.1*b, "
    "num_batches_tracked=0; input[32,1,32,32]=randn(Generator seed 0); labels y_j=(3*j+1)%10 i64; "
    "expected values computed in float64; "
    "loss=cross_entropy mean; grad.<n>.stats=f64[sum g_i*sin(0.013*i), sum g_i*cos(0.007*i+1.0), sqrt(sum g_i^2)]; "
    "grad.<n>.head=first min(256,numel) of flat grad"
)


def hashed_uniform(numel, k):
    """b in [-1, 1) from an integer hash of (i, k): exact in any language, and full-rank (a smooth
    formula such as sin(a*i + c) makes every weight matrix rank 2 and the network ill-conditioned)."""
    i = np.arange(numel, dtype=np.uint64)
    m = np.uint64(0xFFFFFFFF)
    h = (i * np.uint64(2654435761) + np.uint64(k) * np.uint64(2246822519)) & m
    h ^= h >> np.uint64(15)
    h = (h * np.uint64(2246822519)) & m
    h ^= h >> np.uint64(13)
    return (h.astype(np.float64) / 2.0**31 - 1.0).astype(np.float32)


def deterministic_value(name, module, k, shape):
    """The formula's float32 values for one state_dict entry, as a numpy array."""
    numel = int(np.prod(shape)) if len(shape) else 1
    b = hashed_uniform(numel, k)
    f = np.float32
    if name.endswith("running_mean"):
        v = f(0.1) * b
    elif name.endswith("running_var"):
        v = f(1.0) + (f(0.5) * b) * b
    elif isinstance(module, nn.BatchNorm2d):
        if name.endswith(".weight"):
            v = f(1.0) + f(0.2) * b
        elif name.endswith(".bias"):
            v = f(0.1) * b
        else:
            raise ValueError(f"unexpected BatchNorm2d entry {name}")
    elif isinstance(module, (nn.Conv2d, nn.Linear)):
        if name.endswith(".weight"):
            fan_in = numel // shape[0]
            v = b / f(math.sqrt(fan_in))
        elif name.endswith(".bias"):
            v = f(0.1) * b
        else:
            raise ValueError(f"unexpected {type(module).__name__} entry {name}")
    else:
        raise ValueError(f"{name}: owning module {type(module).__name__} not handled")
    assert v.dtype == np.float32, (name, v.dtype)
    return v.reshape(shape)


def init_deterministic(model):
    sd = model.state_dict()
    new = {}
    for k, (name, t) in enumerate(sd.items()):
        if name.endswith("num_batches_tracked"):
            new[name] = torch.zeros_like(t)
            continue
        prefix = name.rsplit(".", 1)[0] if "." in name else ""
        module = model.get_submodule(prefix)
        new[name] = torch.from_numpy(deterministic_value(name, module, k, tuple(t.shape)).copy())
    model.load_state_dict(new, strict=True)
    # Check the copy was exact.
    for name, t in model.state_dict().items():
        assert torch.equal(t, new[name]), name


def make_input():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(BATCH, 1, 32, 32, generator=g, dtype=torch.float32).numpy()
    y = np.array([(3 * j + 1) % 10 for j in range(BATCH)], dtype=np.int64)
    return torch.from_numpy(x), torch.from_numpy(y)


def grad_stats(g):
    g = g.detach().to(torch.float64).flatten()
    i = torch.arange(g.numel(), dtype=torch.float64)
    return torch.stack([
        (g * torch.sin(0.013 * i)).sum(),
        (g * torch.cos(0.007 * i + 1.0)).sum(),
        torch.sqrt((g * g).sum()),
    ])


class ReluProbe:
    """Wraps F.relu for one forward/backward: records every ReLU input and, when `tau` is set,
    flips the derivative of every element with |x| < tau in the backward pass."""

    def __init__(self, tau=None):
        self.tau, self.inputs, self.flipped = tau, [], 0

    def __enter__(self):
        self.orig = F.relu
        probe = self

        class Flip(torch.autograd.Function):
            @staticmethod
            def forward(ctx, x):
                ctx.save_for_backward(x)
                return x.clamp(min=0)

            @staticmethod
            def backward(ctx, g):
                x, = ctx.saved_tensors
                mask = (x > 0).to(g.dtype)
                near = x.abs() < probe.tau
                probe.flipped += int(near.sum())
                return g * torch.where(near, 1 - mask, mask)

        def relu(x, *a, **k):
            probe.inputs.append(x.detach().clone())
            return Flip.apply(x) if probe.tau is not None else probe.orig(x, *a, **k)

        F.relu = relu
        return self

    def __exit__(self, *exc):
        F.relu = self.orig


def forward_backward(tm, model_name, residual, mode, dtype):
    torch.manual_seed(0)
    if model_name == "lenet5":
        model = tm.LeNet5()
    else:
        model = tm.ResNet18()
        n = sum(p.numel() for p in model.parameters())
        assert n == RESNET18_PARAMS, f"ResNet18 has {n} parameters, expected {RESNET18_PARAMS}"
        model.set_residual(residual)
    init_deterministic(model)
    model.train(mode == "train")
    model.to(dtype)
    x, y = make_input()
    model.zero_grad(set_to_none=True)
    logits = model(x.to(dtype))
    loss = F.cross_entropy(logits, y)
    loss.backward()
    return model, x, y, logits, loss


def rel(a, b):
    a, b = a.double(), b.double()
    return ((a - b).norm() / b.norm()).item() if b.norm() > 0 else (a - b).norm().item()


def run_case(tm, model_name, residual, mode):
    # The expected values are computed in float64, so they are the exact answer for these float32
    # inputs and weights; PyTorch's own float32 run must agree with them far inside the tests' 1e-4,
    # or the case is too ill-conditioned to test anything.
    model, x, y, logits64, loss64 = forward_backward(tm, model_name, residual, mode, torch.float64)
    m32, _, _, logits32, _ = forward_backward(tm, model_name, residual, mode, torch.float32)
    worst = rel(logits32, logits64)
    scale = max(p.grad.norm().item() for p in model.parameters() if p.grad is not None)
    for (n, p64), (_, p32) in zip(model.named_parameters(), m32.named_parameters()):
        # A bias right before a train-mode batch norm has a true gradient of 0 (rounding noise only).
        if p64.grad is not None and p64.grad.norm().item() > 1e-7 * scale:
            r = rel(p32.grad, p64.grad)
            if r > 2e-5:
                print(f"    {n}: {r:.2e} (norm {p64.grad.norm().item():.3e})")
            worst = max(worst, r)
    print(f"  {model_name} residual={residual} {mode}: PyTorch float32 vs float64, worst relative error {worst:.2e}")
    assert worst < 2e-5, f"case too ill-conditioned for a 1e-4 test ({worst:.2e})"

    # ReLU kinks: float32 rounding moves each pre-activation by up to `err`; an element closer than
    # that to 0 may land on the other side of the kink in any float32 implementation (PyTorch's own
    # included), which changes the gradients of every layer before it. Measure what flipping all
    # such elements does, and let each parameter's tolerance be max(1e-4, 2x that change).
    with ReluProbe() as p64:
        forward_backward(tm, model_name, residual, mode, torch.float64)
    with ReluProbe() as p32:
        forward_backward(tm, model_name, residual, mode, torch.float32)
    err = max((a.float() - b).abs().max().item() for a, b in zip(p64.inputs, p32.inputs))
    tau = err
    with ReluProbe(tau) as flip:
        flipped_model, *_ = forward_backward(tm, model_name, residual, mode, torch.float64)
    tolerances = {}
    for (n, a), (_, b) in zip(model.named_parameters(), flipped_model.named_parameters()):
        change = rel(b.grad, a.grad) if a.grad is not None and a.grad.norm().item() > 1e-7 * scale else 0.0
        tolerances[n] = max(1e-4, 2 * change)
    loose = {n: t for n, t in tolerances.items() if t > 1e-4}
    print(f"    pre-ReLU float32 error {err:.2e}; {flip.flipped} elements within {tau:.2e} of a kink; "
          f"{len(loose)} parameters need more than 1e-4 (max {max(tolerances.values()):.2e})")
    logits = logits64.float()
    loss = loss64.float()

    out = {
        "input": x.clone(),
        "labels": y.clone(),
        "logits": logits.detach().clone().contiguous(),
        "loss": loss.detach().reshape(1).clone(),
    }
    for n, p in model.named_parameters():
        # A parameter the forward pass never used (the downsample branch when residual is
        # off) has grad None in PyTorch; its gradient is zero, and is stored as zeros.
        g = p.grad.detach().float() if p.grad is not None else torch.zeros_like(p).float()
        if p.grad is None:
            assert not residual and ".downsample." in n, f"{n} got no gradient"
        if model_name == "lenet5":
            out[f"grad.{n}"] = g.clone().contiguous()
        else:
            out[f"grad.{n}.head"] = g.flatten()[: min(HEAD, g.numel())].clone().contiguous()
            out[f"grad.{n}.stats"] = grad_stats(g)
    if mode == "train":
        for prefix, m in model.named_modules():
            if isinstance(m, nn.BatchNorm2d):
                out[f"after.{prefix}.running_mean"] = m.running_mean.detach().float().clone()
                out[f"after.{prefix}.running_var"] = m.running_var.detach().float().clone()

    for key, t in out.items():
        want = torch.float64 if key.endswith(".stats") else (torch.int64 if key == "labels" else torch.float32)
        assert t.dtype == want, (key, t.dtype)
        assert torch.isfinite(t.double()).all(), key

    meta = {
        "model": model_name,
        "mode": mode,
        "residual": "1" if residual else "0",
        "state_names": ",".join(model.state_dict().keys()),
        "param_names": ",".join(n for n, _ in model.named_parameters()),
        "formula": FORMULA,
        "torch_version": torch.__version__,
        # Per-parameter relative tolerance: 1e-4, or twice what ReLU-kink flips from float32
        # rounding can change (see run_case); name=tolerance pairs.
        "grad_tolerance": ",".join(f"{n}={t:.3g}" for n, t in tolerances.items()),
    }
    return out, meta, float(loss.item())


CASES = [
    ("lenet5.safetensors", "lenet5", False, "train"),
    ("resnet18_res_train.safetensors", "resnet18", True, "train"),
    ("resnet18_nores_train.safetensors", "resnet18", False, "train"),
    ("resnet18_res_eval.safetensors", "resnet18", True, "eval"),
    ("resnet18_nores_eval.safetensors", "resnet18", False, "eval"),
]


def canonicalize_header(path):
    """Rewrite the safetensors JSON header with __metadata__'s keys sorted.

    safetensors writes the metadata map in hash order, which changes from run to run;
    the tensor entries and data are already deterministic. Offsets are relative to the
    data section, so only the header bytes change. Padding follows safetensors: spaces
    up to a multiple of 8 bytes.
    """
    raw = Path(path).read_bytes()
    n = int.from_bytes(raw[:8], "little")
    header = json.loads(raw[8:8 + n])
    meta = header.pop("__metadata__", None)
    out = {}
    if meta is not None:
        out["__metadata__"] = dict(sorted(meta.items()))
    out.update(header)
    text = json.dumps(out, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    text += b" " * (-len(text) % 8)
    Path(path).write_bytes(len(text).to_bytes(8, "little") + text + raw[8 + n:])


def check_file(path, tensors, meta):
    from safetensors import safe_open
    with safe_open(str(path), framework="pt") as f:
        assert f.metadata() == meta, path
        assert sorted(f.keys()) == sorted(tensors), path
        for key in f.keys():
            assert torch.equal(f.get_tensor(key), tensors[key]), (path, key)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--reference", default=str(REPO.parent / "shared" / "reference"),
                    help="directory holding torch_models.py (default: <repo>/../shared/reference)")
    ap.add_argument("--out", default=str(REPO / "Tests" / "ModelsTests" / "Fixtures"),
                    help="output directory (default: <repo>/Tests/ModelsTests/Fixtures)")
    args = ap.parse_args()

    sys.path.insert(0, os.path.abspath(args.reference))
    import torch_models as tm  # noqa: E402

    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)

    out_dir = Path(args.out)
    out_dir.mkdir(parents=True, exist_ok=True)
    total = 0
    for fname, model_name, residual, mode in CASES:
        tensors, meta, loss = run_case(tm, model_name, residual, mode)
        path = out_dir / fname
        save_file(tensors, str(path), metadata=meta)
        canonicalize_header(path)
        check_file(path, tensors, meta)
        size = path.stat().st_size
        total += size
        print(f"{fname:36s} {size:9d} bytes  {len(tensors):4d} tensors  loss={loss:.9g}")
    print(f"{'total':36s} {total:9d} bytes (limit {MAX_TOTAL_BYTES})")
    assert total < MAX_TOTAL_BYTES, f"fixtures total {total} bytes, over {MAX_TOTAL_BYTES}"


if __name__ == "__main__":
    main()
