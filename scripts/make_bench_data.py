#!/usr/bin/env python3
"""Benchmark data for BENCHMARKS.md (written under /tmp, never committed), made from the bundled MNIST:
  /tmp/nntop-bench/cifar:   CIFAR-10 binary, 50,000 train + 10,000 test colourised digits, 32x32
  /tmp/nntop-bench/jpeg224: an image folder, 10 classes x 1,000 RGB JPEGs of 224x224 (quality 90)
Digits are zero-padded to 32x32 and coloured: foreground and background colours from the image index.
"""
import gzip, os, sys
import numpy as np
from PIL import Image

repo = os.path.join(os.path.dirname(__file__), "..")
out = sys.argv[1] if len(sys.argv) > 1 else "/tmp/nntop-bench"

def idx(name):
    b = gzip.open(os.path.join(repo, "assets/mnist", name + ".gz")).read()
    return np.frombuffer(b, np.uint8, offset=16 if "images" in name else 8)

train = idx("train-images-idx3-ubyte").reshape(-1, 28, 28); train_y = idx("train-labels-idx1-ubyte")
test = idx("t10k-images-idx3-ubyte").reshape(-1, 28, 28); test_y = idx("t10k-labels-idx1-ubyte")

def colourise(digits, seed):
    rng = np.random.default_rng(seed)
    n = len(digits)
    fg = rng.integers(80, 256, (n, 3, 1, 1)); bg = rng.integers(0, 80, (n, 3, 1, 1))
    d = np.zeros((n, 32, 32), np.float32); d[:, 2:30, 2:30] = digits / 255.0
    return (bg + (fg - bg) * d[:, None]).astype(np.uint8)          # n x 3 x 32 x 32, planar

os.makedirs(out + "/cifar", exist_ok=True)
tr = colourise(train[:50000], 1)
for b in range(5):
    s = slice(b * 10000, (b + 1) * 10000)
    recs = np.concatenate([train_y[s, None], tr[s].reshape(10000, -1)], 1).astype(np.uint8)
    recs.tofile(f"{out}/cifar/data_batch_{b + 1}.bin")
te = colourise(test, 2)
np.concatenate([test_y[:, None], te.reshape(10000, -1)], 1).astype(np.uint8).tofile(f"{out}/cifar/test_batch.bin")

folder = out + "/jpeg224"
for c in range(10): os.makedirs(f"{folder}/{c}", exist_ok=True)
count = [0] * 10
for i in range(len(tr)):
    c = int(train_y[i])
    if count[c] >= 1000: continue
    Image.fromarray(tr[i].transpose(1, 2, 0)).resize((224, 224), Image.BILINEAR).save(f"{folder}/{c}/{count[c]:04d}.jpg", quality=90)
    count[c] += 1
    if sum(count) == 10000: break
print("wrote", out)
