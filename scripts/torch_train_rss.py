"""Peak resident memory of a PyTorch training run of one of nntop's reference models: the same model,
input shape, batch, optimizer (SGD with momentum) and step as ../shared/reference/torch_bench.py,
training only, so the figure sits beside `nntop bench`'s "after training" one.

Usage: python3 scripts/torch_train_rss.py MODEL [--batch 64] [--steps 5] [--input C,H,W] [--threads N]
Prints:  torch MODEL train-rss MB
"""
import argparse, os, resource, sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "shared", "reference"))
import torch
import torch.nn.functional as F
from torch_models import MODELS, build

ap = argparse.ArgumentParser()
ap.add_argument("model", choices=sorted(MODELS))
ap.add_argument("--batch", type=int, default=64)
ap.add_argument("--steps", type=int, default=5)
ap.add_argument("--threads", type=int, default=os.cpu_count())
ap.add_argument("--input", default="3,32,32")
ap.add_argument("--classes", type=int, default=10)
ap.add_argument("--no-residual", action="store_true")
a = ap.parse_args()
shape = tuple(int(v) for v in a.input.split(","))
torch.set_num_threads(a.threads)
torch.manual_seed(0)
net = build(a.model, in_channels=shape[0], num_classes=a.classes, residual=not a.no_residual)
opt = torch.optim.SGD(net.parameters(), lr=0.01, momentum=0.9)
x = torch.randn(a.batch, *shape)
y = torch.randint(0, a.classes, (a.batch,))
net.train()
for _ in range(a.steps):
    opt.zero_grad(set_to_none=True)
    F.cross_entropy(net(x), y).backward()
    opt.step()
print(f"torch {a.model} train-rss {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")
