#!/usr/bin/env python3
"""Writes the small data fixtures of Tests/ModelsTests/DataSourceTests.swift into
Tests/ModelsTests/Fixtures/data/ (a few KB; rerunning gives the same bytes).

- cifar10/, cifar100/: a few records whose pixels follow a formula the test recomputes
  (pixel(record r, channel c, y, x) = (37r + 101c + 7y + 3x) mod 256), known labels, name files.
- mnist/: a tiny idx set (3 train, 2 test digits, gzipped) for detection and Fashion's names.
- png/: 3x2 PNGs in every colour type, written byte by byte here (not by PIL, so each colour type
  and bit depth is exactly the one named) and expected.json with the pixels a decoder must give,
  computed here in double precision: channel-planar, 16 bits rounded to 8 (v/257), palette looked
  up, alpha composited on black (round(c*a/255)).
- jpeg/: small JPEGs written by PIL and expected.json with PIL's decode of them (PIL links
  libjpeg-turbo too: the same integer IDCT and upsampling), plus forged headers (0x0, 60000x60000).
"""
import gzip, json, os, struct, zlib
import numpy as np
from PIL import Image

root = os.path.join(os.path.dirname(__file__), "..", "Tests", "ModelsTests", "Fixtures", "data")

def out(*parts):
    p = os.path.join(root, *parts)
    os.makedirs(os.path.dirname(p), exist_ok=True)
    return p

def pixel(r, c, y, x):
    return (37 * r + 101 * c + 7 * y + 3 * x) % 256

def cifar_image(r):
    return bytes(pixel(r, c, y, x) for c in range(3) for y in range(32) for x in range(32))

# CIFAR-10: train records 0..2, test records 3..4 (the record index r counts on across files).
c10_train, c10_test = [3, 0, 9], [1, 8]
with open(out("cifar10", "data_batch_1.bin"), "wb") as f:
    for r, label in enumerate(c10_train): f.write(bytes([label]) + cifar_image(r))
with open(out("cifar10", "test_batch.bin"), "wb") as f:
    for r, label in enumerate(c10_test): f.write(bytes([label]) + cifar_image(3 + r))
with open(out("cifar10", "batches.meta.txt"), "w") as f:
    f.write("\n".join(["plane", "car", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "lorry"]) + "\n\n")

# CIFAR-100: coarse then fine label byte.
c100_train, c100_test = [(4, 42), (19, 99), (0, 0)], [(7, 13), (1, 55)]
with open(out("cifar100", "train.bin"), "wb") as f:
    for r, (coarse, fine) in enumerate(c100_train): f.write(bytes([coarse, fine]) + cifar_image(r))
with open(out("cifar100", "test.bin"), "wb") as f:
    for r, (coarse, fine) in enumerate(c100_test): f.write(bytes([coarse, fine]) + cifar_image(3 + r))
with open(out("cifar100", "fine_label_names.txt"), "w") as f:
    f.write("\n".join(f"fine{i}" for i in range(100)) + "\n")

# MNIST idx, gzipped (mtime 0 so the bytes do not change between runs).
def idx(path, array):
    header = struct.pack(">BBBB", 0, 0, 8, array.ndim) + b"".join(struct.pack(">I", d) for d in array.shape)
    with open(path, "wb") as raw:
        with gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) as f: f.write(header + array.astype(np.uint8).tobytes())
digits = np.array([[[(i * 50 + y * 9 + x) % 256 for x in range(28)] for y in range(28)] for i in range(5)])
idx(out("mnist", "train-images-idx3-ubyte.gz"), digits[:3]); idx(out("mnist", "train-labels-idx1-ubyte.gz"), np.array([5, 0, 4]))
idx(out("mnist", "t10k-images-idx3-ubyte.gz"), digits[3:]); idx(out("mnist", "t10k-labels-idx1-ubyte.gz"), np.array([7, 2]))

# PNG, chunk by chunk.
def chunk(kind, data):
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

def png(path, width, height, depth, colour, rows, extra=b""):
    """rows: one bytes object per scanline (already packed); filter type 0 prepended here."""
    raw = b"".join(b"\x00" + r for r in rows)
    ihdr = struct.pack(">IIBBBBB", width, height, depth, colour, 0, 0, 0)
    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + extra + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))

W, H = 3, 2
expected = {}
def planar(pixels, channels):
    """pixels: H rows of W tuples of floats in 0..255 (after 16->8 scaling), alpha last when present."""
    colour = channels >= 3
    alpha = channels in (2, 4)
    planes = []
    for c in range(3 if colour else 1):
        for y in range(H):
            for x in range(W):
                p = pixels[y][x]
                v = p[c] * p[-1] / 255 if alpha else p[c]
                planes.append(int(np.floor(v + 0.5)))
    return {"channels": 3 if colour else 1, "width": W, "height": H, "pixels": planes}

grey = [[0, 77, 255], [128, 3, 200]]
png(out("png", "grey8.png"), W, H, 8, 0, [bytes(r) for r in grey])
expected["grey8.png"] = planar([[(v,) for v in r] for r in grey], 1)

# 16-bit: v*257 + offset, offsets far from a rounding tie, so the 8-bit value is v either way.
g16 = [[(v * 257 + o) & 0xFFFF for v, o in zip(r, (100, -100, 0))] for r in [[10, 77, 255], [128, 3, 200]]]
png(out("png", "grey16.png"), W, H, 16, 0, [b"".join(struct.pack(">H", v) for v in r) for r in g16])
expected["grey16.png"] = planar([[(v / 257,) for v in r] for r in g16], 1)

# 1-bit grey: bits 1,0,1 / 0,1,1 -> 255,0,255 / 0,255,255.
bits = [[1, 0, 1], [0, 1, 1]]
png(out("png", "grey1.png"), W, H, 1, 0, [bytes([sum(b << (7 - i) for i, b in enumerate(r))]) for r in bits])
expected["grey1.png"] = planar([[(255 * b,) for b in r] for r in bits], 1)

ga = [[(200, 255), (100, 128), (255, 0)], [(50, 51), (255, 254), (0, 200)]]
png(out("png", "grey_alpha.png"), W, H, 8, 4, [bytes(v for p in r for v in p) for r in ga])
expected["grey_alpha.png"] = planar(ga, 2)

rgb = [[(255, 0, 0), (0, 255, 0), (0, 0, 255)], [(10, 20, 30), (200, 150, 100), (1, 2, 3)]]
png(out("png", "rgb.png"), W, H, 8, 2, [bytes(v for p in r for v in p) for r in rgb])
expected["rgb.png"] = planar(rgb, 3)

rgb16 = [[tuple((v * 257 + 90) & 0xFFFF for v in p) for p in r] for r in rgb]
png(out("png", "rgb16.png"), W, H, 16, 2, [b"".join(struct.pack(">H", v) for p in r for v in p) for r in rgb16])
expected["rgb16.png"] = planar([[tuple(v / 257 for v in p) for p in r] for r in rgb16], 3)

rgba = [[(255, 0, 0, 255), (0, 255, 0, 128), (0, 0, 255, 0)], [(10, 20, 30, 77), (200, 150, 100, 200), (255, 255, 255, 1)]]
png(out("png", "rgba.png"), W, H, 8, 6, [bytes(v for p in r for v in p) for r in rgba])
expected["rgba.png"] = planar(rgba, 4)

palette = [(255, 0, 0), (0, 128, 255), (17, 34, 51), (250, 250, 0)]
indices = [[0, 1, 2], [3, 2, 1]]
plte = chunk(b"PLTE", bytes(v for p in palette for v in p))
png(out("png", "palette.png"), W, H, 8, 3, [bytes(r) for r in indices], plte)
expected["palette.png"] = planar([[palette[i] for i in r] for r in indices], 3)

trns = [255, 100, 0, 200]   # entries past the tRNS list would be opaque
png(out("png", "palette_trns.png"), W, H, 8, 3, [bytes(r) for r in indices], plte + chunk(b"tRNS", bytes(trns)))
expected["palette_trns.png"] = planar([[palette[i] + (trns[i],) for i in r] for r in indices], 4)

with open(out("png", "expected.json"), "w") as f: json.dump(expected, f, indent=1, sort_keys=True)

# Forged headers: valid chunks (CRCs right) claiming 0x0 and 100000x100000, one IDAT of nothing.
for name, w, h in [("zero.png", 0, 0), ("huge.png", 100000, 100000)]:
    with open(out("bad", name), "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
                + chunk(b"IDAT", zlib.compress(b"")) + chunk(b"IEND", b""))

# JPEG: written and decoded by PIL; 4:4:4 so no chroma upsampling choice enters.
jexpected = {}
ys, xs = np.mgrid[0:6, 0:8]
colour = np.stack([(ys * 40 + xs * 5) % 256, (255 - xs * 30) % 256, (ys * xs * 7) % 256], -1).astype(np.uint8)
Image.fromarray(colour, "RGB").save(out("jpeg", "rgb.jpg"), quality=90, subsampling=0)
Image.fromarray(colour[:, :, 0], "L").save(out("jpeg", "grey.jpg"), quality=90)
for name in ["rgb.jpg", "grey.jpg"]:
    im = Image.open(out("jpeg", name)); im.load()
    a = np.asarray(im)
    a = a[:, :, None] if a.ndim == 2 else a
    jexpected[name] = {"channels": a.shape[2], "width": a.shape[1], "height": a.shape[0],
                       "pixels": [int(v) for v in a.transpose(2, 0, 1).reshape(-1)]}
with open(out("jpeg", "expected.json"), "w") as f: json.dump(jexpected, f, indent=1, sort_keys=True)

# A JPEG whose SOF0 claims 0x0 or 60000x60000 (libjpeg's own limit is 65500, so 100000 cannot be written).
good = open(out("jpeg", "rgb.jpg"), "rb").read()
sof = good.index(b"\xff\xc0")
for name, w, h in [("zero.jpg", 0, 0), ("huge.jpg", 60000, 60000)]:
    forged = bytearray(good)
    forged[sof + 5:sof + 9] = struct.pack(">HH", h, w)
    open(out("bad", name), "wb").write(bytes(forged))
print("wrote", root)
