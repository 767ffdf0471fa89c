#!/usr/bin/env python3
"""PyTorch reference fixtures for AlexNet, VGG-11-bn and GoogLeNet (issue 17 part 2).

Writes to Tests/ModelsTests/Fixtures/ (new files only):

  zoo2_alexnet.safetensors     AlexNet, input [4,3,64,64]
  (zoo2_vgg11-bn / zoo2_googlenet: written by make_zoo2_channel_fixtures.py, see PENDING_CASES)
  zoo2_counts.json             parameters and MACs (forward hooks) of every model of this part, at
                               3x224x224 with 1000 classes and at the fixtures' shapes with 10 classes

Rerun from the repo root (torch==2.13.0+cpu, safetensors, numpy):

    python3 scripts/make_zoo2_fixtures.py [--reference DIR] [--out DIR] [--only NAME]

Weights: the formula of scripts/make_fixtures.py (hashed, per state_dict entry; imported from there).
Labels y_j = (3j+1) % 10, 10 classes. Input: randn(Generator seed 0), then nudged (see below).

Each file holds both modes over one input:
    input f32, labels i64,
    <mode>.logits, <mode>.loss, <mode>.grad.<param>.head (first 64 of the flat gradient, f32),
    <mode>.grad.<param>.stats (f64 [sum g_i sin(0.013 i), sum g_i cos(0.007 i + 1), |g|]),
    <mode>.weights.<bias> (tuned biases replacing the formula's, see below),
    train.after.<bn>.running_mean / running_var (f32, after the one forward pass),
for <mode> in train, eval. Expected values are computed in float64 from the float32 weights and input.

Dropout in train mode: PyTorch's nn.Dropout modules are replaced by nntop's mask formula
(Kernels/Dropout.swift): element at flat batch position i of the dropout layer named L is kept when
the top 24 bits of splitmix64_finalise(seed*K1 + fnv1a64(L)*K2 + step*K3 + i) are >= ceil(p*2^24),
kept elements scaled by 1/(1-p). seed and step are in the metadata (dropout_seed, dropout_step): the
Swift test builds the model with that seed and sets that step, so both sides drop the same elements.

Kinks: as the ResNet-18 fixtures, every ReLU input is kept >= MARGIN from 0 and every max-pool window
whose maximum is positive has its top two values >= MARGIN apart (float64, on the final float32
weights and input), here relative to the RMS of the tensor (activations shrink layer by layer under
the formula's weights, and float32's error with them; the metadata also records PyTorch float32's
largest relative error on the ReLU inputs, at least 10x below the margin): the bias feeding each ReLU (the last conv, linear or batch norm that ran before
it) gets a per-channel shift (make_fixtures.kink_shift), stored as <mode>.weights.<name>; the input is
nudged by small gradient steps that widen the pool gaps still below the margin (both modes at once,
the shifts re-tuned between rounds). Exact ties are left alone: they are copies of one value (GoogLeNet's
overlapping max pools feeding the next pool), equal in any precision, and nntop and PyTorch both take
the first. The margins reached go in the metadata.
"""
import argparse
import json
import math
import sys
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from safetensors.torch import save_file

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "scripts"))
import make_fixtures as mf  # noqa: E402  (the weight formula, kink_shift, grad_stats, canonicalize_header)

BATCH = 4
CLASSES = 10
HEAD = 64
MARGIN = 1e-4            # ReLU inputs: |x| / RMS (the batch norm or bias shifts reach it easily)
POOL_MARGIN = 2e-5       # max-pool top-two gaps / RMS: input nudges fix the near-ties of GoogLeNet's
                         # 13 and VGG's 5 pools only this far (still >= 10x float32's error, asserted)
GAP_TARGET = 1.5 * POOL_MARGIN   # nudge pool windows until their top two are this far apart
STEP = 3e-3              # largest change of an input value per nudge
DROPOUT_SEED = 5
DROPOUT_STEP = 7
MAX_TOTAL_BYTES = 1024 * 1024
# vgg11-bn and googlenet do not pass this script's kink checks: VGG-11-bn train mode reaches a pool
# margin of 3.5e-5 but PyTorch float32's relative error on its ReLU inputs is 9.7e-6 (3.6x, 10x wanted);
# GoogLeNet's rounds of shifts and nudges leave 3-20 pool windows below 3e-5 after 8 rounds. Their
# fixtures come from make_zoo2_channel_fixtures.py (batch-norm channel signs and shifts, no nudging);
# here they are only counted (zoo2_counts.json), and --only NAME still tries this script's way.
CASES = [("alexnet", (3, 64, 64))]
PENDING_CASES = [("vgg11-bn", (3, 32, 32)), ("googlenet", (3, 32, 32))]
COUNT_MODELS = ["alexnet", "vgg11", "vgg13", "vgg16", "vgg19", "vgg11-bn", "vgg13-bn", "vgg16-bn", "vgg19-bn", "googlenet"]

M64 = (1 << 64) - 1


def fnv1a64(name):
    h = 0xCBF29CE484222325
    for b in name.encode():
        h = ((h ^ b) * 0x100000001B3) & M64
    return h


def dropout_keep(numel, name, p, seed=DROPOUT_SEED, step=DROPOUT_STEP):
    """nntop's dropout mask (Kernels/Dropout.swift) for positions 0 ..< numel, as a bool array."""
    base = (seed * 0x9E3779B97F4A7C15 + fnv1a64(name) * 0xC2B2AE3D27D4EB4F + step * 0x165667B19E3779F9) & M64
    with np.errstate(over="ignore"):
        z = np.uint64(base) + np.arange(numel, dtype=np.uint64)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        z ^= z >> np.uint64(31)
    threshold = math.ceil(float(np.float32(p)) * 2 ** 24)
    return (z >> np.uint64(40)) >= np.uint64(threshold)


class FormulaDropout(nn.Module):
    """nn.Dropout driven by nntop's mask formula (identity in eval mode)."""

    def __init__(self, name, p):
        super().__init__()
        self.name, self.p = name, p

    def forward(self, x):
        if not self.training or self.p == 0:
            return x
        keep = torch.from_numpy(dropout_keep(x.numel(), self.name, self.p)).view(x.shape)
        scale = 1.0 / (1.0 - float(np.float32(self.p)))
        return x * keep.to(x.dtype) * scale


def use_formula_dropout(model):
    for name, m in list(model.named_modules()):
        for child_name, child in list(m.named_children()):
            if isinstance(child, nn.Dropout):
                full = f"{name}.{child_name}" if name else child_name
                setattr(m, child_name, FormulaDropout(full, child.p))
    return model


def build(tm, name, in_channels, mode, dtype, overrides=None):
    torch.manual_seed(0)
    model = use_formula_dropout(tm.build(name, in_channels=in_channels, num_classes=CLASSES))
    return mf.finish_model(model, mode, dtype, overrides)


def make_input(shape):
    g = torch.Generator().manual_seed(0)
    x = torch.randn(BATCH, *shape, generator=g, dtype=torch.float32)
    y = torch.tensor([(3 * j + 1) % CLASSES for j in range(BATCH)], dtype=torch.int64)
    return x, y


class Probe:
    """During one forward pass: each ReLU's input (in call order) and the bias that feeds it (the last
    Conv2d-with-bias, Linear or BatchNorm2d that ran), optionally shifting it (x - shift(i, x)) or
    replacing it (transform(x), which may read .last); each max pool's input and geometry."""

    def __init__(self, model, shift=None, transform=None):
        self.model, self.shift, self.transform = model, shift, transform
        self.relu_inputs, self.relu_owners, self.shifts, self.pools = [], [], [], []
        self.last = None

    def __enter__(self):
        self.hooks = []
        for name, m in self.model.named_modules():
            if isinstance(m, (nn.BatchNorm2d, nn.Linear)) or (isinstance(m, nn.Conv2d) and m.bias is not None):
                self.hooks.append(m.register_forward_hook(lambda mod, i, o, n=name: setattr(self, "last", n)))
            if isinstance(m, nn.MaxPool2d):
                self.hooks.append(m.register_forward_pre_hook(lambda mod, i: self.pools.append((mod, i[0]))))
        self.orig = F.relu
        probe = self

        def relu(x, *a, **k):
            probe.relu_owners.append(probe.last)
            if probe.shift is not None:
                c = probe.shift(len(probe.relu_inputs), x.detach())
                probe.shifts.append(c)
                x = x - c.to(x.dtype).view(1, -1, *([1] * (x.dim() - 2)))
            if probe.transform is not None:
                x = probe.transform(x)
            probe.relu_inputs.append(x.detach().clone())
            return probe.orig(x, *a, **k)

        F.relu = relu
        return self

    def __exit__(self, *exc):
        F.relu = self.orig
        for h in self.hooks:
            h.remove()


def pool_windows(r, m):
    """[N, C, OH, OW, k*k] windows of max pool m over r (padding -inf, ceil mode's extra right edge)."""
    k, s, p = m.kernel_size, m.stride, m.padding
    h = r.shape[2]

    def side(n):
        if m.ceil_mode:
            o = -(-(n + 2 * p - k) // s) + 1
            if (o - 1) * s >= n + p:
                o -= 1
        else:
            o = (n + 2 * p - k) // s + 1
        return o

    oh, ow = side(r.shape[2]), side(r.shape[3])
    extra_h = max(p, (oh - 1) * s + k - h - p)
    extra_w = max(p, (ow - 1) * s + k - r.shape[3] - p)
    rp = F.pad(r, (p, extra_w, p, extra_h), value=float("-inf"))
    w = rp.unfold(2, k, s).unfold(3, k, s)[:, :, :oh, :ow]
    return w.reshape(*w.shape[:4], k * k)


def rms(t):
    return t.detach().double().pow(2).mean().sqrt().item() or 1.0


def relative_kink_shift(pre):
    """make_fixtures.kink_shift in units of the tensor's RMS: activations shrink by ~0.4 a layer under
    the formula's weights (eval mode, AlexNet), and float32's error with them, so margins are relative."""
    s = rms(pre)
    return mf.kink_shift(pre / s) * s


def tune(tm, name, in_channels, shape):
    """The shared input and, per mode, the bias overrides keeping every case MARGIN from its kinks.
    Rounds of: the ReLU shifts from the current input, then input steps (shifts held) until no pool
    window with a positive maximum has its top two within GAP_TARGET; until a round's fresh shifts
    leave both margins >= MARGIN."""
    x, _ = make_input(shape)
    models = {mode: build(tm, name, in_channels, mode, torch.float64) for mode in ("train", "eval")}
    for m in models.values():
        m.requires_grad_(False)
    originals = {mode: {k: v.clone() for k, v in m.state_dict().items()} for mode, m in models.items()}

    current = {mode: dict(originals[mode]) for mode in models}

    def shifts(mode):
        """Shift each ReLU's bias whose inputs come within MARGIN of 0; the others keep their bias (or
        last round's shift), so a round does not undo the last one's nudges."""
        model = models[mode]
        model.load_state_dict(current[mode])

        def shift(i, pre):
            if pre.abs().min().item() / rms(pre) >= MARGIN:
                return torch.zeros(pre.shape[1], dtype=torch.float64)
            return relative_kink_shift(pre)
        with torch.no_grad(), Probe(model, shift=shift) as probe:
            model(x.double())
        sd = dict(current[mode])
        for owner, c in zip(probe.relu_owners, probe.shifts):
            key = f"{owner}.bias"
            sd[key] = (sd[key] - c).float().double()   # the float32 value the fixture stores
        current[mode] = sd
        model.load_state_dict(sd)
        return {owner + ".bias": sd[owner + ".bias"].float().contiguous() for owner in probe.relu_owners
                if not torch.equal(sd[owner + ".bias"], originals[mode][owner + ".bias"])}

    steps = 0
    for round_ in range(8):
        tuned = {mode: shifts(mode) for mode in models}
        relu_ok = True
        for mode, model in models.items():
            with torch.no_grad(), Probe(model) as p:
                model(x.double())
            relu_ok &= min(a.abs().min().item() / rms(a) for a in p.relu_inputs) >= MARGIN
        for step in range(400):
            xd = x.double().requires_grad_(True)
            loss, bad_total, worst = 0.0, 0, float("inf")
            for mode, model in models.items():
                with Probe(model) as probe:
                    model(xd)
                for m, r in probe.pools:
                    w = pool_windows(r, m)
                    if w.shape[-1] < 2:
                        continue
                    top = w.topk(2, dim=-1)
                    gap = (top.values[..., 0] - top.values[..., 1]) / rms(r)
                    # Exact ties (gap 0) are copies of one value (overlapping max pools feeding another
                    # pool): equal in any precision, both sides take the first, as PyTorch does.
                    pos = (top.values[..., 0].detach() > 0) & (gap.detach() > 0)
                    if pos.any():
                        worst = min(worst, gap.detach()[pos].min().item())
                    bad = pos & (gap.detach() < GAP_TARGET)
                    if bad.any():
                        bad_total += int(bad.sum())
                        loss = loss - gap[bad].sum()
            if bad_total == 0:
                break
            loss.backward()
            g = xd.grad
            x = (x.double() - STEP * g / g.abs().max()).float()
            steps += 1
            if step % 10 == 0:
                print(f"    round {round_} step {step}: {bad_total} pool windows within {GAP_TARGET:g} (smallest gap {worst:.1e})", flush=True)
        else:
            raise AssertionError("max-pool ties: input nudging did not converge")
        if relu_ok and step == 0:
            break
    else:
        raise AssertionError("ReLU shifts and pool nudges did not settle")
    print(f"  {name}: input nudged in {steps} steps, max change {(x - make_input(shape)[0]).abs().max().item():.2e}")
    return x, tuned


def margins(tm, name, in_channels, mode, x, overrides):
    """float64 on the final float32 weights and input, each relative to its tensor's RMS: min |ReLU
    input|, min pool gap (windows with a positive maximum), and PyTorch float32's largest error on the
    ReLU inputs."""
    res = {}
    for dtype in (torch.float64, torch.float32):
        model = build(tm, name, in_channels, mode, dtype, overrides)
        with torch.no_grad(), Probe(model) as p:
            model(x.to(dtype))
        res[dtype] = p
    p64, p32 = res[torch.float64], res[torch.float32]
    relu = min(a.abs().min().item() / rms(a) for a in p64.relu_inputs)
    gaps = []
    for m, r in p64.pools:
        w = pool_windows(r, m)
        if w.shape[-1] < 2:
            continue
        top = w.topk(2, dim=-1).values
        pos = (top[..., 0] > 0) & (top[..., 0] > top[..., 1])   # exact ties: copies of one value (see tune)
        if pos.any():
            gaps.append((top[..., 0] - top[..., 1])[pos].min().item() / rms(r))
    pool = min(gaps) if gaps else float("inf")
    err = max((a - b.double()).abs().max().item() / rms(a) for a, b in zip(p64.relu_inputs, p32.relu_inputs))
    return relu, pool, err


def rel(a, b):
    a, b = a.double(), b.double()
    return ((a - b).norm() / b.norm()).item() if b.norm() > 0 else (a - b).norm().item()


def forward_backward(tm, name, in_channels, mode, dtype, x, y, overrides):
    model = build(tm, name, in_channels, mode, dtype, overrides)
    model.zero_grad(set_to_none=True)
    logits = model(x.to(dtype))
    loss = F.cross_entropy(logits, y)
    loss.backward()
    return model, logits, loss


def run_model(tm, name, shape):
    in_channels = shape[0]
    x, tuned = tune(tm, name, in_channels, shape)
    _, y = make_input(shape)
    out = {"input": x.clone().contiguous(), "labels": y.clone()}
    meta = {"model": name, "input_shape": ",".join(map(str, shape)), "classes": str(CLASSES),
            "dropout_seed": str(DROPOUT_SEED), "dropout_step": str(DROPOUT_STEP), "head": str(HEAD),
            "torch_version": torch.__version__, "formula": mf.FORMULA.replace("input[32,1,32,32]", "input (see input_shape)")}
    for mode in ("train", "eval"):
        overrides = tuned[mode]
        relu, pool, err = margins(tm, name, in_channels, mode, x, overrides)
        reached = min(relu, pool)
        assert pool >= POOL_MARGIN, f"pool margin {pool:.2e} below {POOL_MARGIN}"
        print(f"  {name} {mode}: margin {reached:.2e} (ReLU {relu:.2e}, max pool {pool:.2e}); "
              f"PyTorch float32's largest ReLU-input error {err:.2e} ({reached / err:.0f}x below the margin)")
        assert relu >= MARGIN, f"ReLU margin {relu:.2e} below {MARGIN}"
        assert reached >= 10 * err, f"margin only {reached / err:.1f}x PyTorch's float32 error"
        model, logits64, loss64 = forward_backward(tm, name, in_channels, mode, torch.float64, x, y, overrides)
        m32, logits32, _ = forward_backward(tm, name, in_channels, mode, torch.float32, x, y, overrides)
        worst = rel(logits32, logits64)
        scale = max(p.grad.norm().item() for p in model.parameters())
        for (n, p64), (_, p32) in zip(model.named_parameters(), m32.named_parameters()):
            # A bias right before a train-mode batch norm has a true gradient of 0 (rounding noise).
            if mode == "eval" or p64.grad.norm().item() > 1e-7 * scale:
                worst = max(worst, rel(p32.grad, p64.grad), rel(p32.grad.flatten()[:HEAD], p64.grad.flatten()[:HEAD]))
        print(f"  {name} {mode}: PyTorch float32 vs float64, worst relative error {worst:.2e}")
        assert worst < 3e-5, f"case too ill-conditioned for a 1e-4 test ({worst:.2e})"
        store_mode(out, meta, mode, model, logits64, loss64, overrides, relu, pool, err)
    for key, t in out.items():
        assert torch.isfinite(t.double()).all(), key
    return out, meta


def store_mode(out, meta, mode, model, logits64, loss64, overrides, relu, pool, err):
    """One mode's expected values (from the float64 model after its backward) into the file's tensors
    and metadata, in the format ZooReferenceTests.check reads."""
    out[f"{mode}.logits"] = logits64.detach().float().contiguous()
    out[f"{mode}.loss"] = loss64.detach().float().reshape(1)
    for n, p in model.named_parameters():
        g = p.grad.detach()
        out[f"{mode}.grad.{n}.head"] = g.flatten()[:HEAD].float().clone().contiguous()
        out[f"{mode}.grad.{n}.stats"] = mf.grad_stats(g)
    for k, v in overrides.items():
        out[f"{mode}.weights.{k}"] = v.clone()
    if mode == "train":
        for prefix, m in model.named_modules():
            if isinstance(m, nn.BatchNorm2d):
                out[f"train.after.{prefix}.running_mean"] = m.running_mean.detach().float().clone()
                out[f"train.after.{prefix}.running_var"] = m.running_var.detach().float().clone()
    meta[f"{mode}.overrides"] = ",".join(overrides)
    meta[f"{mode}.margin"] = f"{min(relu, pool):.3g}"
    meta[f"{mode}.margin_relu"] = f"{relu:.3g}"
    meta[f"{mode}.margin_maxpool"] = f"{pool:.3g}"
    meta[f"{mode}.float32_error_relu"] = f"{err:.3g}"
    meta["state_names"] = ",".join(model.state_dict().keys())
    meta["param_names"] = ",".join(n for n, _ in model.named_parameters())


def counts(tm, name, shape, classes):
    """Parameters, and conv + linear multiply-accumulates of one sample by forward hooks (a conv:
    output elements x Cin/groups x kh x kw; a linear layer: in x out), on the meta device."""
    with torch.device("meta"):
        model = tm.build(name, in_channels=shape[0], num_classes=classes).eval()
    macs = [0]

    def hook(m, i, o):
        if isinstance(m, nn.Conv2d):
            macs[0] += o[0].numel() * (m.in_channels // m.groups) * m.kernel_size[0] * m.kernel_size[1]
        else:
            macs[0] += m.in_features * m.out_features
    for m in model.modules():
        if isinstance(m, (nn.Conv2d, nn.Linear)):
            m.register_forward_hook(hook)
    with torch.no_grad():
        model(torch.empty(1, *shape, device="meta"))
    return {"input": list(shape), "classes": classes, "parameters": sum(p.numel() for p in model.parameters()),
            "macs": macs[0]}


def setup(description, only_help):
    """The command line of a zoo fixture script (--reference, --out, --only) and PyTorch set up to give
    the same bytes on every run (one thread, deterministic algorithms): (args, torch_models, out dir)."""
    ap = argparse.ArgumentParser(description=description)
    ap.add_argument("--reference", default=str(REPO.parent / "shared" / "reference"))
    ap.add_argument("--out", default=str(REPO / "Tests" / "ModelsTests" / "Fixtures"))
    ap.add_argument("--only", help=only_help)
    args = ap.parse_args()
    sys.path.insert(0, args.reference)
    import torch_models as tm
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    return args, tm, Path(args.out)


def main():
    args, tm, out_dir = setup(__doc__.split("\n")[0], "one model of the fixture cases")
    table = {}
    for name in COUNT_MODELS:
        table[name] = [counts(tm, name, (3, 224, 224), 1000)]
    for name, shape in CASES + PENDING_CASES:
        table[name].append(counts(tm, name, shape, CLASSES))
    (out_dir / "zoo2_counts.json").write_text(json.dumps(table, indent=1, sort_keys=True) + "\n")
    for name, rows in table.items():
        print(f"  {name:10s} " + "  ".join(f"{r['input']} {r['classes']} classes: {r['parameters']:,} params, {r['macs']:,} MACs" for r in rows))
    for name, shape in CASES + PENDING_CASES:
        if (args.only and name != args.only) or (not args.only and (name, shape) in PENDING_CASES):
            continue
        tensors, meta = run_model(tm, name, shape)
        path = out_dir / f"zoo2_{name}.safetensors"
        save_file(tensors, str(path), metadata=meta)
        mf.canonicalize_header(path)
        print(f"  wrote {path.name}: {path.stat().st_size:,} bytes")
    total = sum(p.stat().st_size for p in out_dir.glob("zoo2_*"))
    print(f"zoo2 fixtures: {total:,} bytes")
    assert total <= MAX_TOTAL_BYTES, total


if __name__ == "__main__":
    main()
