import Foundation

/// Shapes of one 2-D convolution (or pooling window) over an NCHW batch.
public struct ConvGeometry: Equatable {
    public var batch, inChannels, height, width: Int
    public var outChannels, kernelH, kernelW, stride, padding: Int
    /// Pools only (nn.MaxPool2d(ceil_mode=True), GoogLeNet's): the output side rounds up, keeping a last
    /// window that starts inside the input or its left padding (`pooledSide`).
    public var ceilMode = false

    public init(batch: Int, inChannels: Int, height: Int, width: Int, outChannels: Int,
                kernel: Int, stride: Int = 1, padding: Int = 0) {
        self.batch = batch; self.inChannels = inChannels; self.height = height; self.width = width
        self.outChannels = outChannels; kernelH = kernel; kernelW = kernel
        self.stride = stride; self.padding = padding
    }

    public var outH: Int { pooledSide(height, kernel: kernelH, stride: stride, padding: padding, ceilMode: ceilMode) }
    public var outW: Int { pooledSide(width, kernel: kernelW, stride: stride, padding: padding, ceilMode: ceilMode) }
    /// Weights per output channel: one per (input channel, kernel row, kernel column).
    public var colRows: Int { inChannels * kernelH * kernelW }
    /// Outputs per output channel: the batch folded into the output pixels.
    public var colCols: Int { batch * outH * outW }
}

/// A conv's or pool's output side, PyTorch's pooling_output_shape: (n + 2·pad − k) / stride + 1, rounded
/// down, or with `ceilMode` rounded up unless that last window would start past the input and its
/// left padding ((out − 1)·stride >= n + pad).
public func pooledSide(_ n: Int, kernel: Int, stride: Int, padding: Int, ceilMode: Bool = false) -> Int {
    let span = n + 2 * padding - kernel
    guard ceilMode else { return span / stride + 1 }
    var out = (span + stride - 1) / stride + 1
    if (out - 1) * stride >= n + padding { out -= 1 }
    return out
}

/// Conv weights are kept tap-major, W[ki][kj][co][c], where PyTorch's are [co][c][ki][kj]: each tap's
/// weights are one contiguous block. On small maps most taps reach no output pixel (8 of 9 in
/// ResNet-18's layer4 at 32×32 input, 62 % of its weights); those blocks are then never read by the
/// packing loops, and the optimizer can step over them, instead of every cache line of W being
/// touched for one float in nine.
public enum ConvWeights {
    /// Offset of PyTorch's W[co][c][tap] (tap = ki·k + kj) in the tap-major layout.
    @inline(__always)
    public static func index(out co: Int, in c: Int, tap t: Int, outChannels: Int, inChannels: Int) -> Int {
        (t * outChannels + co) * inChannels + c
    }

    /// PyTorch's [co][c][taps] order into the tap-major layout (`dst` must not overlap `src`).
    public static func fromTorch(_ src: UnsafePointer<Float>, _ dst: UnsafeMutablePointer<Float>,
                                 outChannels: Int, inChannels: Int, taps: Int) {
        for co in 0..<outChannels { for c in 0..<inChannels { for t in 0..<taps {
            dst[index(out: co, in: c, tap: t, outChannels: outChannels, inChannels: inChannels)] = src[(co * inChannels + c) * taps + t]
        } } }
    }

    /// The tap-major layout back into PyTorch's [co][c][taps] order, for the output channels `outs`
    /// (all by default; `dst` then starts at the first of them).
    public static func toTorch(_ src: UnsafePointer<Float>, _ dst: UnsafeMutablePointer<Float>,
                               outChannels: Int, inChannels: Int, taps: Int, outs: Range<Int>? = nil) {
        let outs = outs ?? 0..<outChannels
        for co in outs { for c in 0..<inChannels { for t in 0..<taps {
            dst[((co - outs.lowerBound) * inChannels + c) * taps + t] =
                src[index(out: co, in: c, tap: t, outChannels: outChannels, inChannels: inChannels)]
        } } }
    }

    /// The taps (ki·k + kj, ascending) that reach some output pixel inside the image: the only ones
    /// whose weights the convolution reads and whose gradient can be non-zero.
    public static func activeTaps(_ g: ConvGeometry) -> [Int] {
        var taps: [Int] = []
        for ki in 0..<g.kernelH {
            let rowOK = (0..<g.outH).contains { oy in let iy = oy * g.stride - g.padding + ki; return iy >= 0 && iy < g.height }
            for kj in 0..<g.kernelW {
                let colOK = (0..<g.outW).contains { ox in let ix = ox * g.stride - g.padding + kj; return ix >= 0 && ix < g.width }
                if rowOK && colOK { taps.append(ki * g.kernelW + kj) }
            }
        }
        return taps
    }
}
