"""The float32 error of Winograd F(4x4, 3x3) for a choice of interpolation points, against F(2x2, 3x3):
the simulation behind the choice of points in Sources/Kernels/Conv3x3.swift (numpy only).

Builds Toom-Cook's A^T, G and B^T exactly (fractions) for five finite points and infinity, checks that
they compute the 1-D correlation, then runs 64-channel 2-D tiles (inputs after a ReLU, small filters)
in float32 and prints the mean over tiles of max|error| / max|output| against a float64 direct sum.

Usage: python3 scripts/winograd_error.py
"""
from fractions import Fraction as Fr
import numpy as np


def polymul(p, q):
    out = [Fr(0)] * (len(p) + len(q) - 1)
    for i, x in enumerate(p):
        for j, y in enumerate(q):
            out[i + j] += x * y
    return out


def toom_cook(points, m=4, r=3):
    a = [Fr(p) for p in points]
    n = m + r - 1
    at = [[ai ** j for ai in a] + [Fr(int(j == m - 1))] for j in range(m)]
    g = []
    for i, ai in enumerate(a):
        norm = Fr(1)
        for k, ak in enumerate(a):
            if k != i:
                norm *= ai - ak
        g.append([ai ** j / norm for j in range(r)])
    g.append([Fr(0)] * (r - 1) + [Fr(1)])
    bt = []
    for i in range(len(a) + 1):
        poly = [Fr(1)]
        for k, ak in enumerate(a):
            if k != i:
                poly = polymul(poly, [-ak, Fr(1)])
        bt.append(poly + [Fr(0)] * (n - len(poly)))
    return [np.array([[float(v) for v in row] for row in mat]) for mat in (at, g, bt)]


def error(at, g, bt, channels=64, trials=200):
    m, r = at.shape[0], g.shape[1]
    t = m + r - 1
    rng = np.random.default_rng(1)
    f32, errs = np.float32, []
    for _ in range(trials):
        d = np.maximum(rng.standard_normal((channels, t, t)), 0)
        w = rng.standard_normal((channels, r, r)) * 0.05
        ref = np.array([[(d[:, i:i + r, j:j + r] * w).sum() for j in range(m)] for i in range(m)])
        u = np.einsum('ia,cab,jb->cij', g.astype(f32), w.astype(f32), g.astype(f32)).astype(f32)
        v = np.einsum('ia,cab,jb->cij', bt.astype(f32), d.astype(f32), bt.astype(f32)).astype(f32)
        mm = (u * v).astype(f32).sum(axis=0, dtype=f32)
        y = (at.astype(f32) @ mm @ at.T.astype(f32)).astype(f32)
        errs.append(np.abs(y - ref).max() / np.abs(ref).max())
    return float(np.mean(errs))


def main():
    rng = np.random.default_rng(0)
    for points in [(0, 1, -1), (0, 1, -1, 2, -2), (0, 1, -1, Fr(1, 2), -2), (0, 1, -1, Fr(1, 2), Fr(-1, 2))]:
        m = len(points) - 1
        at, g, bt = toom_cook(points, m=m)
        d, w = rng.standard_normal(m + 2), rng.standard_normal(3)
        exact = np.abs(at @ ((g @ w) * (bt @ d)) - np.correlate(d, w, mode='valid')).max()
        assert exact < 1e-12, (points, exact)
        name = "F(%dx%d) points %s" % (m, m, ", ".join(str(p) for p in points))
        print("%-40s error %.2e" % (name, error(at, g, bt)))


if __name__ == "__main__":
    main()
