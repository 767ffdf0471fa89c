import Foundation

/// Shapes of one 2-D convolution (or pooling window) over an NCHW batch.
public struct ConvGeometry: Equatable {
    public var batch, inChannels, height, width: Int
    public var outChannels, kernelH, kernelW, stride, padding: Int

    public init(batch: Int, inChannels: Int, height: Int, width: Int, outChannels: Int,
                kernel: Int, stride: Int = 1, padding: Int = 0) {
        self.batch = batch; self.inChannels = inChannels; self.height = height; self.width = width
        self.outChannels = outChannels; kernelH = kernel; kernelW = kernel
        self.stride = stride; self.padding = padding
    }

    public var outH: Int { (height + 2 * padding - kernelH) / stride + 1 }
    public var outW: Int { (width + 2 * padding - kernelW) / stride + 1 }
    /// Weights per output channel: one per (input channel, kernel row, kernel column).
    public var colRows: Int { inChannels * kernelH * kernelW }
    /// Outputs per output channel: the batch folded into the output pixels.
    public var colCols: Int { batch * outH * outW }
}
