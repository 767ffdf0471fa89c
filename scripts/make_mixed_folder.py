#!/usr/bin/env python3
"""A mixed image folder made from the bundled MNIST, for trying `nntop MODEL --data DIR` on PNG and
JPEG files (written under /tmp by default, never committed):
  DIR/<digit>/NNNNN.png|jpg   10 classes x N images (default 600), colourised, of varied sizes
  (28 to 64 px a side), every other file a JPEG (quality 90), one in five PNGs grey, one in five
  PNGs with an alpha channel. No train/ or test/ split: nntop holds out a test fraction by seed.
Usage: python3 scripts/make_mixed_folder.py [DIR] [N]
"""
import gzip, os, sys
import numpy as np
from PIL import Image

repo = os.path.join(os.path.dirname(__file__), "..")
out = sys.argv[1] if len(sys.argv) > 1 else "/tmp/nntop-mixed"
per_class = int(sys.argv[2]) if len(sys.argv) > 2 else 600

def idx(name):
    b = gzip.open(os.path.join(repo, "assets/mnist", name + ".gz")).read()
    return np.frombuffer(b, np.uint8, offset=16 if "images" in name else 8)

images = idx("train-images-idx3-ubyte").reshape(-1, 28, 28); labels = idx("train-labels-idx1-ubyte")
rng = np.random.default_rng(7)
count = [0] * 10
for i in range(len(labels)):
    c = int(labels[i])
    if count[c] >= per_class: continue
    k = count[c]; count[c] += 1
    d = images[i] / 255.0
    fg = rng.integers(90, 256, 3); bg = rng.integers(0, 70, 3)
    rgb = (bg[None, None, :] + (fg - bg)[None, None, :] * d[:, :, None]).astype(np.uint8)
    side = int(rng.integers(28, 65))
    img = Image.fromarray(rgb, "RGB").resize((side, side), Image.BILINEAR)
    os.makedirs(f"{out}/{c}", exist_ok=True)
    if k % 2 == 1:
        img.save(f"{out}/{c}/{k:05d}.jpg", quality=90)
    elif k % 10 == 0:
        img.convert("L").save(f"{out}/{c}/{k:05d}.png")
    elif k % 10 == 2:
        rgba = img.convert("RGBA"); rgba.putalpha(230); rgba.save(f"{out}/{c}/{k:05d}.png")
    else:
        img.save(f"{out}/{c}/{k:05d}.png")
    if sum(count) == 10 * per_class: break
print(f"{out}: {sum(count)} images in 10 class folders")
