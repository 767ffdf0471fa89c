#!/usr/bin/env python3
"""PyTorch's usual way to read an image folder, for BENCHMARKS.md: PIL decode, convert('RGB'),
resize, in a torch.utils.data.DataLoader with num_workers=2 over a small Dataset class. torchvision
(ImageFolder, transforms) is not installable here, so this is its torchvision-free equivalent:
what ImageFolder + Resize does per image, minus the tensor conversion.

    python3 scripts/bench_pil_loader.py /tmp/nntop-bench/jpeg224 [SIZE]   # SIZE default 32

Prints the image count, the seconds to decode and resize every image once, and the peak RSS.
"""
import os, resource, sys, time
import numpy as np
import torch
from PIL import Image

class Folder(torch.utils.data.Dataset):
    def __init__(self, root, size):
        self.size = size
        classes = sorted(d for d in os.listdir(root) if os.path.isdir(os.path.join(root, d)))
        self.items = [(os.path.join(root, c, f), i) for i, c in enumerate(classes)
                      for f in sorted(os.listdir(os.path.join(root, c))) if f.lower().endswith((".png", ".jpg", ".jpeg"))]
    def __len__(self): return len(self.items)
    def __getitem__(self, k):
        path, label = self.items[k]
        im = Image.open(path).convert("RGB").resize((self.size, self.size), Image.BILINEAR)
        return torch.from_numpy(np.array(im)), label

if __name__ == "__main__":
    root, size = sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 32
    torch.set_num_threads(1)
    start = time.time()
    ds = Folder(root, size)
    loader = torch.utils.data.DataLoader(ds, batch_size=256, num_workers=2)
    n = 0
    for x, y in loader: n += len(y)
    wall = time.time() - start
    peak = max(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
    print(f"{n} images {size}x{size} in {wall:.2f} s ({n / wall:.0f} images/s), peak RSS of one process {peak / 1024:.0f} MB")
