import Foundation

// nn.AdaptiveAvgPool2d((outH, outW)): output (i, j) of each plane averages the input rows of bin i and
// the columns of bin j, PyTorch's bins: start floor(i·n/out), end ceil((i+1)·n/out). Bins may overlap
// (7 from 10) or repeat one input (6 from 1, AlexNet on small images).

/// The input indices that output `i` of `out` averages, from a side of `n`.
@inline(__always)
public func adaptiveBin(_ i: Int, _ n: Int, _ out: Int) -> Range<Int> {
    (i * n / out)..<(((i + 1) * n + out - 1) / out)
}

/// The bins of every output row and column, computed once per call: per
/// output they cost integer divisions that took longer than the sums (VGG's 7×7 from 1×1 at batch 256:
/// 29 ms, BENCHMARKS.md).
private struct AdaptiveBins {
    let rows: [Range<Int>], cols: [Range<Int>]
    init(h: Int, w: Int, outH: Int, outW: Int) {
        rows = (0..<outH).map { adaptiveBin($0, h, outH) }
        cols = (0..<outW).map { adaptiveBin($0, w, outW) }
    }
}

/// y[p][oy][ox] = mean of x[p][bin(oy)][bin(ox)] for each of `planes` planes ([N·C][H][W] -> [N·C][outH][outW]).
public func adaptiveAvgPoolForward(x: UnsafePointer<Float>, planes: Int, height h: Int, width w: Int,
                                   outH: Int, outW: Int, y: UnsafeMutablePointer<Float>) {
    let out = outH * outW
    if h == 1 && w == 1 {
        // Every bin is the one input: a broadcast (AlexNet's and VGG's heads on small images).
        Parallel.forEach(planes, grain: max(1, 8192 / out)) { pl in (y + pl * out).update(repeating: x[pl], count: out) }
        return
    }
    let bins = AdaptiveBins(h: h, w: w, outH: outH, outW: outW)
    Parallel.forEach(planes, grain: max(1, 4096 / (h * w + out))) { pl in
        let src = x + pl * h * w, dst = y + pl * out
        for oy in 0..<outH {
            let rows = bins.rows[oy]
            for ox in 0..<outW {
                var s: Float = 0
                for iy in rows { for ix in bins.cols[ox] { s += src[iy * w + ix] } }
                // s / area, as PyTorch divides: a reciprocal multiply would round differently.
                dst[oy * outW + ox] = s / Float(rows.count * bins.cols[ox].count)
            }
        }
    }
}

/// The adjoint: each output's gradient spread evenly over its bin, summed where bins overlap.
public func adaptiveAvgPoolBackward(dy: UnsafePointer<Float>, planes: Int, height h: Int, width w: Int,
                                    outH: Int, outW: Int, dx: UnsafeMutablePointer<Float>) {
    let out = outH * outW
    if h == 1 && w == 1 {
        // Every bin is the one input (area 1): its gradient is the sum of the plane's, 16 lanes at a time
        // rather than one chain of dependent adds per plane: Models' Linear.forward(repeating:) sums VGG's
        // whole classifier weight through here (2 M planes of 49) every step.
        let full = out / 16 * 16
        Parallel.ranges(planes, grain: max(1, 8192 / out)) { r in
            for pl in r {
                let src = dy + pl * out
                var v = SIMD16<Float>(), j = 0
                while j < full { v += load16(src + j); j += 16 }
                var s = hsum(v)
                while j < out { s += src[j]; j += 1 }
                dx[pl] = s
            }
        }
        return
    }
    let bins = AdaptiveBins(h: h, w: w, outH: outH, outW: outW)
    Parallel.forEach(planes, grain: max(1, 4096 / (h * w + out))) { pl in
        let src = dy + pl * out, d = dx + pl * h * w
        d.update(repeating: 0, count: h * w)
        for oy in 0..<outH {
            let rows = bins.rows[oy]
            for ox in 0..<outW {
                let cols = bins.cols[ox]
                let v = src[oy * outW + ox] / Float(rows.count * cols.count)
                for iy in rows { for ix in cols { d[iy * w + ix] += v } }
            }
        }
    }
}
