#!/usr/bin/env python3
"""A big TensorBoard log for the reading benchmark (BENCHMARKS.md, "TensorBoard logs"):
python3 scripts/make_big_tfevents.py DIR [RECORDS]  (default 1,000,000 records, ~100 MB).

Written by PyTorch's SummaryWriter, new_style scalars (a rank-0 tensor plus the scalars plugin's
metadata on every value, as PyTorch writes them), tags the length a DDP run's tend to be. Also times
TensorBoard's own EventAccumulator reading it, every value kept: the ratio's other half."""
import math, os, sys, time
from torch.utils.tensorboard import SummaryWriter

d = sys.argv[1]
args = [a for a in sys.argv[1:] if not a.startswith("--")]
n = int(args[1]) if len(args) > 1 else 1_000_000
tags = ["rank0/train/cross_entropy_loss", "rank0/train/top1_accuracy", "rank0/optim/learning_rate", "rank0/perf/samples_per_second"]
if not os.path.exists(d) or not any("tfevents" in f for f in os.listdir(d)):
    w = SummaryWriter(d, max_queue=10000, flush_secs=3600)
    t0 = time.time()
    for i in range(n):
        step = i // len(tags)
        w.add_scalar(tags[i % len(tags)], 2.3 * math.exp(-step / 50000) + 0.01 * math.sin(i), step, walltime=1.7e9 + step * 0.01, new_style=True)
    w.close()
    print(f"wrote {n} records in {time.time() - t0:.1f} s")
f = [os.path.join(d, x) for x in os.listdir(d) if "tfevents" in x][0]
print(f"{f}: {os.path.getsize(f) / 1e6:.1f} MB")
if "--accumulator" in sys.argv:
    from tensorboard.backend.event_processing import plugin_event_accumulator as pea
    t0 = time.time()
    acc = pea.EventAccumulator(d, size_guidance={"tensors": 0})
    acc.Reload()
    count = sum(len(acc.Tensors(t)) for t in acc.Tags()["tensors"])
    print(f"EventAccumulator (every value kept): {count} scalars in {time.time() - t0:.1f} s")
