import Kernels

/// Branches that each read the block's input, their outputs concatenated along channels in order
/// (torch.cat(..., 1)): GoogLeNet's Inception block. The backward splits dy into each branch's
/// channels and sums the branches' input gradients.
public final class ChannelConcat: Layer, GradientBufferUser {
    public let name: String
    public let branches: [Layer]
    public var children: [Layer] { branches }
    public var needsInputGradient = true
    public var gradientBuffers: GradientBuffers?
    private var out: Tensor?
    /// Each branch's output channels in the last forward.
    private var branchChannels: [Int] = []

    public init(_ name: String, branches: [Layer]) {
        precondition(!branches.isEmpty, "\(name): no branches")
        self.name = name; self.branches = branches
    }

    public func outputShape(for s: [Int]) -> [Int] {
        let outs = branches.map { $0.outputShape(for: s) }
        precondition(outs.allSatisfy { Array($0.dropFirst()) == Array(outs[0].dropFirst()) }, "\(name): branch shapes \(outs)")
        return [outs.reduce(0) { $0 + $1[0] }] + outs[0].dropFirst()
    }
    /// Every branch runs from the block's input, one after another.
    public func trace(_ input: [Int]) -> [LayerTrace] { branches.flatMap { $0.trace(input) } }

    public func forward(_ x: Tensor, training: Bool) -> Tensor {
        let outs = branches.map { $0.forward(x, training: training) }
        branchChannels = outs.map { $0.shape[1] }
        let n = x.shape[0], h = outs[0].shape[2], w = outs[0].shape[3]
        let total = outs.reduce(0) { $0 + $1.shape[1] }
        let y = layerOutput(&out, [n, total, h, w])
        var offset = 0
        for o in outs {
            precondition(o.shape[0] == n && o.shape[2] == h && o.shape[3] == w, "\(name): branch output \(o.shape)")
            copyChannelsIn(o.data, batch: n, channels: o.shape[1], plane: h * w, into: y.data, total: total, offset: offset)
            offset += o.shape[1]
        }
        return y
    }

    public func backward(_ dy: Tensor) -> Tensor? {
        let n = dy.shape[0], total = dy.shape[1], h = dy.shape[2], w = dy.shape[3]
        var offset = 0
        var sum: Tensor?
        for (i, branch) in branches.enumerated() {
            let c = branchChannels[i]
            // Each branch gets its own buffer: its layers may overwrite the gradient they are given.
            let part = gradientBuffer([n, c, h, w])
            copyChannelsOut(dy.data, batch: n, channels: c, plane: h * w, total: total, offset: offset, into: part.data)
            offset += c
            let d = branch.backward(part)
            // The first branch's gradient becomes the sum; the others are added to it and given back.
            if !needsInputGradient { release(d) }
            else if let d, let s = sum { addInPlace(s.data, d.data, count: s.count); release(d, keeping: s) }
            else { sum = d }
            release(part, keeping: sum)
        }
        precondition(offset == total, "\(name): branches give \(offset) channels of \(total)")
        return needsInputGradient ? sum : nil
    }
}
