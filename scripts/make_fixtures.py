#!/usr/bin/env python3
"""Generate the PyTorch reference fixtures for nntop's model tests.

Writes to Tests/ModelsTests/Fixtures/ five safetensors files (plus the two of the PyTorch -> nntop
ResNet-18 state_dict test, torch_resnet18_state_dict.safetensors.gz and torch_resnet18_logits.safetensors:
see make_interop):

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

ResNet18 cases: the batch norms before each ReLU then get per-channel bias shifts, stored in the file
as weights.<name> (float32, replacing the formula's values; listed in metadata `overrides`), so that
no ReLU input or max-pool top-two gap is near its kink (see tune_case).

Input: B = 32, torch.randn([32,1,32,32]) from a Generator seeded 0; for the ResNet18 cases nudged by
up to ~2.5e-3 off max-pool ties (see tune_case). The input is stored in each file and the Swift tests
read it from there. Labels: y[j] = (3*j + 1) % 10, int64.

The expected values are computed in float64 from these float32 weights and inputs (stored as
float32), so they are the exact answer; the script asserts that PyTorch's own float32 run agrees
with them to 3e-5 (every gradient, and its first 256 elements), i.e. that each case is well-conditioned enough for the Swift tests' 1e-4.

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
    ResNet18: weights.<bn>.bias, the tuned batch-norm biases (see above).
The header __metadata__ has model, mode, residual ("1"/"0"; "0" for LeNet5), state_names
and param_names (comma-joined, in order), formula, torch_version; ResNet18 also margin (the smallest
distance from a kink, float64), margin_relu (per ReLU, in call order), margin_maxpool,
float32_error_relu (PyTorch float32's largest error per ReLU input), margin_over_float32_error and
overrides.
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
MAX_TOTAL_BYTES = 3 * 1024 * 1024

FORMULA = (
    "state_dict order k, flat index i: h=(i*2654435761+k*2246822519)%2^32; h^=h>>15; h=(h*2246822519)%2^32; "
    "h^=h>>13; b=f32(h/2^31-1); then in f32: "
    "running_mean=0.1*b, running_var=1+(0.5*b)*b, BN weight=1+0.2*b, BN bias=0.1*b, "
    "conv/linear weight=b/f32(sqrt(numel/shape[0])), conv/linear bias=0.1*b, "
    "num_batches_tracked=0; input[32,1,32,32]=randn(Generator seed 0) (resnet18: nudged off max-pool ties; "
    "the stored input is the one used); resnet18: tensors stored as weights.<name> replace the formula's; "
    "labels y_j=(3*j+1)%10 i64; "
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


def deterministic_value(name, module, k, shape, b=None):
    """The formula's float32 values for one state_dict entry, as a numpy array (from `b` instead of
    hashed_uniform(numel, k) when given)."""
    numel = int(np.prod(shape)) if len(shape) else 1
    b = hashed_uniform(numel, k) if b is None else b
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
    """Wraps F.relu for one forward pass: records every ReLU input (in call order) and, when `shift` is
    given, first calls shift(index, x) and feeds the ReLU x - shift(index, x) (a per-channel offset: the
    same as lowering the batch norm bias that produced x by that much, see tune_case)."""

    def __init__(self, shift=None):
        self.shift, self.inputs, self.shifts = shift, [], []

    def __enter__(self):
        self.orig = F.relu
        probe = self

        def relu(x, *a, **k):
            if probe.shift is not None:
                c = probe.shift(len(probe.inputs), x.detach())
                probe.shifts.append(c)
                if c is not None:
                    x = x - c.to(x.dtype).view(1, -1, *([1] * (x.dim() - 2)))
            probe.inputs.append(x.detach().clone())
            return probe.orig(x, *a, **k)

        F.relu = relu
        return self

    def __exit__(self, *exc):
        F.relu = self.orig


def build_model(tm, model_name, residual, mode, dtype, overrides=None):
    torch.manual_seed(0)
    if model_name == "lenet5":
        model = tm.LeNet5()
    else:
        model = tm.ResNet18()
        n = sum(p.numel() for p in model.parameters())
        assert n == RESNET18_PARAMS, f"ResNet18 has {n} parameters, expected {RESNET18_PARAMS}"
        model.set_residual(residual)
    return finish_model(model, mode, dtype, overrides)


def finish_model(model, mode, dtype, overrides=None):
    """The formula's weights, then the stored overrides (tuned batch-norm biases) over them, in train or
    eval mode, in `dtype`: how every fixture script prepares a reference module."""
    init_deterministic(model)
    if overrides:
        sd = model.state_dict()
        for name, v in overrides.items():
            assert sd[name].shape == v.shape and v.dtype == torch.float32, name
            sd[name] = v
        model.load_state_dict(sd, strict=True)
    model.train(mode == "train")
    return model.to(dtype)


def forward_backward(tm, model_name, residual, mode, dtype, x=None, overrides=None, backward=True):
    model = build_model(tm, model_name, residual, mode, dtype, overrides)
    x0, y = make_input()
    x = x0 if x is None else x
    model.zero_grad(set_to_none=True)
    logits = model(x.to(dtype))
    loss = F.cross_entropy(logits, y)
    if backward:
        loss.backward()
    return model, x, y, logits, loss


# ---------------------------------------------------------------------------------------------------
# Keeping away from the kinks (ResNet-18 cases)
#
# float32 rounding moves every pre-activation a little (PyTorch's float32 run: up to ~2e-5 here). An
# element that close to a ReLU kink, or a max-pool window whose two largest inputs are that close, may
# land on the other side in any float32 implementation, and then the gradients of every layer before
# it change by up to several percent: no 1e-4 test can hold. So each case is tuned until every ReLU
# input satisfies |x| >= MARGIN and every max-pool window whose maximum is positive has its two largest
# values >= MARGIN apart (both measured in float64 on the final float32 weights and input):
#   * ReLU kinks: the batch norm right before each ReLU (bn1 of the stem, bn1 and bn2 of each block; bn2's
#     output plus the shortcut feeds the block's second ReLU) gets a per-channel shift of its bias, the
#     midpoint of a gap between that channel's pre-activations (the nearest to 0 that is max(8*MARGIN, 4e-3*std)
#     wide, else the widest) within max(SHIFT_LIMIT*std, SHIFT_FLOOR) of 0, so 0 sits in the middle of the
#     gap. Done in one float64 forward pass, ReLU by ReLU in call order (a shift only changes what comes
#     after it). These biases are stored in the fixture as
#     weights.<name> and replace the formula's values (the Swift test loads them the same way).
#   * max-pool ties (the stem's 3x3/2 pool, on the stem ReLU's output): the input batch (stored in the
#     fixture) starts as randn(seed 0) and is nudged by small gradient steps that widen the gaps of the
#     windows below the margin, re-tuning the stem's bias shift after each step, until none is left.
# ---------------------------------------------------------------------------------------------------
MARGIN = 1e-4
SHIFT_LIMIT = 0.1
SHIFT_FLOOR = 0.05


def kink_shift(x):
    """Per-channel c (float64 [C]) so that x - c keeps the largest distance from 0 available with
    |c| <= max(SHIFT_LIMIT * std of the channel, SHIFT_FLOOR): the midpoint of a gap between sorted
    values near 0 (a nearly constant channel may move wholly above or below 0)."""
    v = x.transpose(0, 1).reshape(x.shape[1], -1).double()
    out = torch.zeros(v.shape[0], dtype=torch.float64)
    big = torch.tensor([1e30], dtype=torch.float64)
    for ch in range(v.shape[0]):
        lim = max(SHIFT_LIMIT * v[ch].std().item(), SHIFT_FLOOR)
        s = torch.cat([-big, torch.sort(v[ch]).values, big])   # sentinels: a channel may move wholly to one side
        lo = torch.searchsorted(s, torch.tensor([-lim], dtype=s.dtype)).item()
        hi = torch.searchsorted(s, torch.tensor([lim], dtype=s.dtype)).item()
        seg = s[lo - 1:hi + 1]
        # Candidate points: each gap's midpoint, clamped to [-lim, lim], scored by the distance to the
        # nearer end of its gap. Take the smallest shift that scores max(4*MARGIN, 2e-3*std) (float32's
        # error grows with the values' scale; the channel's values stay on both sides of 0 where they
        # can), else the best-scoring one.
        mids = ((seg[1:] + seg[:-1]) / 2).clamp(-lim, lim)
        score = torch.minimum(mids - seg[:-1], seg[1:] - mids)
        good = score >= max(4 * MARGIN, 2e-3 * v[ch].std().item())
        if good.any():
            out[ch] = mids[int(torch.argmin(torch.where(good, mids.abs(), big)))]
        else:
            out[ch] = mids[int(torch.argmax(score))]
    return out


def pool_windows(r):
    """[N,C,8,8,9] windows of F.max_pool2d(r, 3, 2, 1) (padding -inf)."""
    rp = F.pad(r, (1, 1, 1, 1), value=float("-inf"))
    return rp.unfold(2, 3, 2).unfold(3, 3, 2).reshape(*r.shape[:2], r.shape[2] // 2, r.shape[3] // 2, 9)


def pool_gaps(r):
    """Gap between the two largest values of each window whose maximum is positive."""
    top = pool_windows(r).topk(2, dim=-1).values
    pos = top[..., 0] > 0
    return (top[..., 0] - top[..., 1])[pos]


def stem_pre(model, x, mode):
    bn = model.bn1
    z = F.conv2d(x, model.conv1.weight, model.conv1.bias, 2, 3)
    return F.batch_norm(z, bn.running_mean.clone(), bn.running_var.clone(), bn.weight, bn.bias,
                        training=(mode == "train"), momentum=0.1, eps=bn.eps)


def relu_bns(model):
    """The batch norms whose bias shifts each ReLU input, in the order the ReLUs run."""
    names = ["bn1"]
    for layer in range(1, 5):
        for block in range(2):
            names += [f"layer{layer}.{block}.bn1", f"layer{layer}.{block}.bn2"]
    return names


def tune_case(tm, residual, mode):
    """The input batch and the batch-norm bias overrides that keep this case MARGIN away from every kink."""
    x, _ = make_input()
    model = build_model(tm, "resnet18", residual, mode, torch.float64)
    # Stem: nudge the input until no pool window is near a tie (with the stem bias shift re-tuned).
    for step in range(200):
        xd = x.double().requires_grad_(True)
        pre = stem_pre(model, xd, mode)
        c = kink_shift(pre.detach())
        r = F.relu(pre - c.view(1, -1, 1, 1))
        w = pool_windows(r)
        top = w.detach().topk(2, dim=-1)
        gap = top.values[..., 0] - top.values[..., 1]
        bad = (top.values[..., 1] > 0) & (gap < 4 * MARGIN)
        if not bad.any():
            break
        i1, i2 = top.indices[..., 0:1], top.indices[..., 1:2]
        g = (w.gather(-1, i1) - w.gather(-1, i2)).squeeze(-1)
        loss = -(g[bad]).sum()
        loss.backward()
        grad = xd.grad
        x = (x.double() - 2e-3 * grad / grad.abs().max()).float()
    else:
        raise AssertionError("max-pool ties: input nudging did not converge")
    print(f"    input nudged in {step} steps, max change {(x - make_input()[0]).abs().max().item():.2e}")
    sd = model.state_dict()
    bns = relu_bns(model)
    overrides = {}

    def shift(i, pre):
        return c if i == 0 else kink_shift(pre)

    with torch.no_grad(), ReluProbe(shift) as probe:
        model(x.double())
    for name, c in zip(bns, probe.shifts):
        b = sd[f"{name}.bias"].double() - c
        overrides[f"{name}.bias"] = b.float().contiguous()
    assert len(probe.shifts) == len(bns)
    return x, overrides


def margins(tm, residual, mode, x, overrides):
    """float64 on the final float32 weights and input: min |ReLU input| per ReLU, min pool gap, and
    PyTorch float32's largest error on each ReLU's inputs."""
    with torch.no_grad(), ReluProbe() as p64:
        build_model(tm, "resnet18", residual, mode, torch.float64, overrides)(x.double())
    with torch.no_grad(), ReluProbe() as p32:
        build_model(tm, "resnet18", residual, mode, torch.float32, overrides)(x)
    relu = [a.abs().min().item() for a in p64.inputs]
    pool = pool_gaps(F.relu(p64.inputs[0])).min().item()
    err = [(a - b.double()).abs().max().item() for a, b in zip(p64.inputs, p32.inputs)]
    return relu, pool, err


def rel(a, b):
    a, b = a.double(), b.double()
    return ((a - b).norm() / b.norm()).item() if b.norm() > 0 else (a - b).norm().item()


def run_case(tm, model_name, residual, mode):
    x, overrides, meta_extra = None, {}, {}
    if model_name == "resnet18":
        x, overrides = tune_case(tm, residual, mode)
        relu, pool, err = margins(tm, residual, mode, x, overrides)
        reached = min(min(relu), pool)
        # How far each kink is, in units of PyTorch float32's own error at that point (the pool reads
        # the stem ReLU's output).
        ratio = min(min(m / e for m, e in zip(relu, err)), pool / err[0])
        print(f"  resnet18 residual={residual} {mode}: margin reached {reached:.2e} (ReLU {min(relu):.2e}, "
              f"max pool {pool:.2e}); at least {ratio:.0f}x PyTorch's float32 error there (largest {max(err):.2e})")
        assert reached >= MARGIN, f"margin {reached:.2e} below {MARGIN}"
        assert ratio >= 10, f"margin only {ratio:.1f}x PyTorch's float32 error"
        meta_extra = {
            "margin": f"{reached:.3g}",
            "margin_relu": ",".join(f"{m:.3g}" for m in relu),
            "margin_maxpool": f"{pool:.3g}",
            "float32_error_relu": ",".join(f"{e:.3g}" for e in err),
            "margin_over_float32_error": f"{ratio:.3g}",
            "overrides": ",".join(overrides),
        }
    # The expected values are computed in float64, so they are the exact answer for these float32
    # inputs and weights; PyTorch's own float32 run must agree with them far inside the tests' 1e-4,
    # or the case is too ill-conditioned to test anything.
    model, x, y, logits64, loss64 = forward_backward(tm, model_name, residual, mode, torch.float64, x, overrides)
    m32, _, _, logits32, _ = forward_backward(tm, model_name, residual, mode, torch.float32, x, overrides)
    worst = rel(logits32, logits64)
    scale = max(p.grad.norm().item() for p in model.parameters() if p.grad is not None)
    for (n, p64), (_, p32) in zip(model.named_parameters(), m32.named_parameters()):
        # A bias right before a train-mode batch norm has a true gradient of 0 (rounding noise only).
        # Only in train mode; in eval mode every gradient, however small, must be well-conditioned.
        if p64.grad is not None and (mode == "eval" or p64.grad.norm().item() > 1e-7 * scale):
            r = max(rel(p32.grad, p64.grad), rel(p32.grad.flatten()[:HEAD], p64.grad.flatten()[:HEAD]))
            if r > 1e-5:
                print(f"    {n}: {r:.2e} (norm {p64.grad.norm().item():.3e})")
            worst = max(worst, r)
    print(f"  {model_name} residual={residual} {mode}: PyTorch float32 vs float64, worst relative error {worst:.2e}")
    assert worst < 3e-5, f"case too ill-conditioned for a 1e-4 test ({worst:.2e})"
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
    for name, v in overrides.items():
        out[f"weights.{name}"] = v.clone()
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
        **meta_extra,
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


# ---------------------------------------------------------------------------------------------------
# PyTorch -> nntop for ResNet-18: a state_dict written by safetensors.torch.save_file
#
# The full ResNet-18 is 44.7 MB of float32, too big to commit, and random float32 does not compress.
# So its values are periodic within each tensor: element i of state_dict entry k is the formula above
# applied to b = hashed_uniform(PERIOD, k + 1000)[i % PERIOD] (a prime period that divides no tensor
# dimension, so the weight matrices stay full rank; running stats and BN parameters are shorter than
# the period, so not repeated; num_batches_tracked = 7). Every tensor has its own values, so a loader
# that swaps, transposes or misplaces tensors still fails. PyTorch writes the file with
# save_file(model.state_dict()) (names, shapes, dtypes and header order PyTorch's), and the exact bytes
# are committed gzipped (gzip -9, mtime 0): nntop's test inflates them with the zlib reader MNIST uses
# and loads the result strictly (Checkpoint.load: no missing, extra or misshapen tensor).
# The expected logits: an 8-image batch (randn, Generator seed 1) in eval mode, residual on and off,
# computed in float64 from the same float32 weights (PyTorch float32 must agree to 2e-5).
# ---------------------------------------------------------------------------------------------------
PERIOD = 1009
INTEROP_WEIGHTS = "torch_resnet18_state_dict.safetensors.gz"
INTEROP_LOGITS = "torch_resnet18_logits.safetensors"


def interop_state(model, period=PERIOD):
    sd = model.state_dict()
    new = {}
    for k, (name, t) in enumerate(sd.items()):
        if name.endswith("num_batches_tracked"):
            new[name] = torch.full_like(t, 7)
            continue
        numel = t.numel()
        b = np.resize(hashed_uniform(min(numel, period), k + 1000), numel)
        module = model.get_submodule(name.rsplit(".", 1)[0])
        new[name] = torch.from_numpy(deterministic_value(name, module, k, tuple(t.shape), b=b).copy())
    return new


def make_interop(tm, out_dir):
    import gzip
    import tempfile
    model = tm.ResNet18()
    model.load_state_dict(interop_state(model), strict=True)
    with tempfile.TemporaryDirectory() as tmp:
        raw_path = os.path.join(tmp, "resnet18.safetensors")
        save_file(model.state_dict(), raw_path)   # exactly what a PyTorch user writes
        raw = Path(raw_path).read_bytes()
    from safetensors.torch import load
    assert all(torch.equal(v, model.state_dict()[n]) for n, v in load(raw).items())
    (out_dir / INTEROP_WEIGHTS).write_bytes(gzip.compress(raw, compresslevel=9, mtime=0))

    x = torch.randn(8, 1, 32, 32, generator=torch.Generator().manual_seed(1), dtype=torch.float32)
    out = {"input": x.clone()}
    for residual in (True, False):
        model.set_residual(residual)
        model.eval()
        with torch.no_grad():
            l64 = model.double()(x.double()).float()
            l32 = model.float()(x)
        r = rel(l32, l64)
        assert r < 2e-5, f"interop logits: PyTorch float32 vs float64 {r:.2e}"
        out["logits_residual" if residual else "logits_plain"] = l64.contiguous()
        print(f"  interop resnet18 residual={residual}: PyTorch float32 vs float64 {r:.2e}")
    meta = {"model": "resnet18", "mode": "eval", "weights": INTEROP_WEIGHTS, "weights_bytes": str(len(raw)),
            "period": str(PERIOD), "state_names": ",".join(model.state_dict().keys()),
            "torch_version": torch.__version__}
    path = out_dir / INTEROP_LOGITS
    save_file(out, str(path), metadata=meta)
    canonicalize_header(path)
    check_file(path, out, meta)
    return [INTEROP_WEIGHTS, INTEROP_LOGITS]


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
    for fname in make_interop(tm, out_dir):
        size = (out_dir / fname).stat().st_size
        total += size
        print(f"{fname:36s} {size:9d} bytes")
    print(f"{'total':36s} {total:9d} bytes (limit {MAX_TOTAL_BYTES})")
    assert total < MAX_TOTAL_BYTES, f"fixtures total {total} bytes, over {MAX_TOTAL_BYTES}"


if __name__ == "__main__":
    main()
