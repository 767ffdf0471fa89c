import Foundation

// nn.AdaptiveAvgPool2d((outH, outW)): output (i, j) of each plane averages the input rows of bin i and
// the columns of bin j, PyTorch's bins: start floor(i·n/out), end ceil((i+1)·n/out). Bins may overlap
// (7 from 10) or repeat one input (6 from 1, AlexNet on small images).

/// The input indices that output `i` of `out` averages, from a side of `n`.
@inline(__always)
public func adaptiveBin(_ i: Int, _ n: Int, _ out: Int) -> Range<Int> {
    (i * n / out)..<(((i + 1) * n + out - 1) / out)
}

/// y[p][oy][ox] = mean of x[p][bin(oy)][bin(ox)] for each of `planes` planes ([N·C][H][W] -> [N·C][outH][outW]).
public func adaptiveAvgPoolForward(x: UnsafePointer<Float>, planes: Int, height h: Int, width w: Int,
                                   outH: Int, outW: Int, y: UnsafeMutablePointer<Float>) {
    Parallel.forEach(planes, grain: max(1, 4096 / max(1, h * w))) { pl in
        let src = x + pl * h * w, dst = y + pl * outH * outW
        for oy in 0..<outH {
            let rows = adaptiveBin(oy, h, outH)
            for ox in 0..<outW {
                let cols = adaptiveBin(ox, w, outW)
                var s: Float = 0
                for iy in rows { for ix in cols { s += src[iy * w + ix] } }
                dst[oy * outW + ox] = s / Float(rows.count * cols.count)
            }
        }
    }
}

/// The adjoint: each output's gradient spread evenly over its bin, summed where bins overlap.
public func adaptiveAvgPoolBackward(dy: UnsafePointer<Float>, planes: Int, height h: Int, width w: Int,
                                    outH: Int, outW: Int, dx: UnsafeMutablePointer<Float>) {
    Parallel.forEach(planes, grain: max(1, 4096 / max(1, h * w))) { pl in
        let src = dy + pl * outH * outW, d = dx + pl * h * w
        d.update(repeating: 0, count: h * w)
        for oy in 0..<outH {
            let rows = adaptiveBin(oy, h, outH)
            for ox in 0..<outW {
                let cols = adaptiveBin(ox, w, outW)
                let v = src[oy * outW + ox] / Float(rows.count * cols.count)
                for iy in rows { for ix in cols { d[iy * w + ix] += v } }
            }
        }
    }
}
