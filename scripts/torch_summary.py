#!/usr/bin/env python3
"""Parameters and multiply-accumulates of every reference model, as PyTorch runs it: the numbers
`nntop summary MODEL --input C,H,W` must print (ModelZooTests holds them), and the number of state_dict
entries with a fingerprint of their names (checkpoints use PyTorch's names).

MACs are counted with forward hooks on the modules that actually run, as fvcore counts them: a conv
Cout*OH*OW*(Cin/groups)*K*K per sample, a linear in*out; batch norm, ReLU and pooling 0. With
residual off the projection shortcuts do not run, so their hooks never fire.

    python3 scripts/torch_summary.py [--reference DIR] [MODEL ...]
"""
import argparse
import os
import sys
from pathlib import Path

import torch
import torch.nn as nn

REPO = Path(__file__).resolve().parent.parent
NATURAL = {"lenet5": (1, 32, 32), "resnet18": (1, 32, 32),
           **{f"resnet{d}": (3, 224, 224) for d in (34, 50, 101, 152)},
           **{f"resnet{d}-cifar": (3, 32, 32) for d in (20, 32, 44, 56, 110)}}


def count(model, shape):
    macs = [0]

    def hook(m, inp, out):
        if isinstance(m, nn.Conv2d):
            k = m.kernel_size[0] * m.kernel_size[1]
            macs[0] += out[0].numel() * (m.in_channels // m.groups) * k
        elif isinstance(m, nn.Linear):
            macs[0] += m.in_features * m.out_features

    handles = [m.register_forward_hook(hook) for m in model.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    model.eval()
    with torch.no_grad():
        model(torch.zeros(1, *shape))
    for h in handles:
        h.remove()
    return sum(p.numel() for p in model.parameters()), macs[0]


def fnv1a64(text):
    """FNV-1a, 64 bits, of the UTF-8 bytes: a fingerprint of the state_dict names the Swift test recomputes."""
    h = 0xcbf29ce484222325
    for byte in text.encode():
        h = ((h ^ byte) * 0x100000001b3) & 0xFFFFFFFFFFFFFFFF
    return h


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--reference", default=str(REPO.parent / "shared" / "reference"))
    ap.add_argument("--classes", type=int, default=10)
    ap.add_argument("models", nargs="*")
    args = ap.parse_args()
    sys.path.insert(0, os.path.abspath(args.reference))
    import torch_models as tm
    print(f"{'model':16s} {'input':10s} {'params':>12s} {'MACs (res on)':>16s} {'MACs (res off)':>16s}"
          f" {'state':>6s} {'fnv1a64(names)':>20s}")
    for name in args.models or NATURAL:
        shape = NATURAL[name]
        model = tm.build(name, shape[0], args.classes, True)
        names = list(model.state_dict().keys())
        params, on = count(model, shape)
        off = count(tm.build(name, shape[0], args.classes, False), shape)[1] if name != "lenet5" else on
        print(f"{name:16s} {'x'.join(map(str, shape)):10s} {params:12,d} {on:16,d} {off:16,d}"
              f" {len(names):6d} {fnv1a64(','.join(names)):#20x}")


if __name__ == "__main__":
    main()
