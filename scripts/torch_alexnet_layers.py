"""PyTorch's time for each of AlexNet's heavy layers at 3x64x64, batch 64, on their own: the five convs
(forward; backward with the input gradient, except conv1's) and the two wide linear layers (forward and
backward together) with their momentum step: the PyTorch side of the per-layer table in BENCHMARKS.md, to
set beside `nntop bench alexnet --input 3,64,64`'s layer table.

Usage: python3 scripts/torch_alexnet_layers.py [--threads N] [--steps 20]
Prints one line per layer: torch LAYER ... ms
"""
import argparse, os, time

import torch

ap = argparse.ArgumentParser()
ap.add_argument("--threads", type=int, default=os.cpu_count())
ap.add_argument("--steps", type=int, default=20)
a = ap.parse_args()
torch.set_num_threads(a.threads)
torch.manual_seed(0)


def timed(f, n):
    for _ in range(3):
        f()
    t = time.perf_counter()
    for _ in range(n):
        f()
    return (time.perf_counter() - t) / n * 1e3


# name, in channels, input side, out channels, kernel, stride, padding (torchvision's AlexNet at 64x64)
for name, c, side, co, k, s, p in [("features.0", 3, 64, 64, 11, 4, 2), ("features.3", 64, 7, 192, 5, 1, 2),
                                   ("features.6", 192, 3, 384, 3, 1, 1), ("features.8", 384, 3, 256, 3, 1, 1),
                                   ("features.10", 256, 3, 256, 3, 1, 1)]:
    conv = torch.nn.Conv2d(c, co, k, s, p)
    x = torch.randn(64, c, side, side, requires_grad=name != "features.0")
    fwd = timed(lambda: conv(x), a.steps)
    both = timed(lambda: conv(x).sum().backward(), a.steps)
    print(f"torch {name} fwd {fwd:.2f} ms, bwd {both - fwd:.2f} ms")

x = torch.randn(64, 9216, requires_grad=True)
l1, l2 = torch.nn.Linear(9216, 4096), torch.nn.Linear(4096, 4096)
opt = torch.optim.SGD(list(l1.parameters()) + list(l2.parameters()), lr=0.01, momentum=0.9)


def fc():
    opt.zero_grad(set_to_none=True)
    l2(torch.relu(l1(x))).sum().backward()


print(f"torch classifier.1+4 fwd+bwd {timed(fc, max(1, a.steps // 2)):.1f} ms, "
      f"momentum step {timed(opt.step, max(1, a.steps // 2)):.1f} ms")
