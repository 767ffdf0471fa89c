import Kernels

/// nn.Linear: weight [out, in], bias [out].
public final class Linear: Layer, GradientBufferUser {
    public let name: String
    public let inFeatures, outFeatures: Int
    public let weight: Parameter, bias: Parameter
    public var needsInputGradient = true
    public var gradientBuffers: GradientBuffers?
    public var parameters: [Parameter] { [weight, bias] }
    private var input: Tensor?, out: Tensor?
    /// Set by `forward(repeating:times:inputShape:)`: each input value stood for `r` equal features, and
    /// `summedWeight` [out, in / r] holds the weight's r columns of each summed, for the backward pass.
    private var repeats = 1, repeatedShape: [Int] = []
    private var summedWeight: Tensor?

    public init(_ name: String, _ inFeatures: Int, _ outFeatures: Int) {
        self.name = name; self.inFeatures = inFeatures; self.outFeatures = outFeatures
        weight = Parameter(name: qualified(name, "weight"), shape: [outFeatures, inFeatures])
        bias = Parameter(name: qualified(name, "bias"), shape: [outFeatures])
    }

    public func outputShape(for input: [Int]) -> [Int] { [outFeatures] }
    public func multiplyAccumulates(for input: [Int]) -> Int { inFeatures * outFeatures }
    public var kind: String { "Linear(\(inFeatures)→\(outFeatures))" }

    public func forward(_ x: Tensor, training: Bool) -> Tensor {
        precondition(x.count == x.shape[0] * inFeatures, "\(name): input \(x.shape)")
        repeats = 1
        keep(x, in: &input)
        let y = layerOutput(&out, [x.shape[0], outFeatures])
        linearForward(x: x.data, weight: weight.value.data, bias: bias.value.data, batch: x.shape[0],
                      inFeatures: inFeatures, outFeatures: outFeatures, y: y.data)
        return y
    }

    /// The forward pass on an input whose every value x[b][c] fills `r` consecutive features (c·r ..< c·r + r):
    /// an adaptive average pool that only repeats a 1×1 map (VGG's 7×7, AlexNet's 6×6 after 32×32 or 64×64
    /// images) and its flatten. y = x · (W's r columns per value, summed)ᵀ + bias, a product r times smaller;
    /// the backward pass returns the gradient of x as `inputShape` (the pool's input).
    public func forward(repeating x: Tensor, times r: Int, inputShape: [Int]) -> Tensor {
        let b = x.shape[0], c = inFeatures / r
        precondition(r > 1 && c * r == inFeatures && x.count == b * c, "\(name): input \(x.shape) repeated \(r)×")
        repeats = r; repeatedShape = inputShape
        keep(x, in: &input)
        let ws = Tensor.reuse(summedWeight, [outFeatures, c]); summedWeight = ws
        // The r columns of each value summed: the pool's backward pass over W's rows (r bins from one input).
        adaptiveAvgPoolBackward(dy: weight.value.data, planes: outFeatures * c, height: 1, width: 1, outH: r, outW: 1,
                                dx: ws.data)
        let y = layerOutput(&out, [b, outFeatures])
        linearForward(x: x.data, weight: ws.data, bias: bias.value.data, batch: b, inFeatures: c,
                      outFeatures: outFeatures, y: y.data)
        return y
    }

    public func backward(_ dy: Tensor) -> Tensor? {
        guard let input else { preconditionFailure("\(name): backward before forward") }
        if repeats > 1, let ws = summedWeight { return backwardRepeating(dy, input, ws) }
        var d: Tensor?
        if needsInputGradient { d = gradientBuffer(input.shape) }
        linearBackward(dy: dy.data, x: input.data, weight: weight.value.data, batch: input.shape[0],
                       inFeatures: inFeatures, outFeatures: outFeatures, dWeight: weight.grad.data,
                       dBias: bias.grad.data, dx: d?.data)
        return d
    }

    /// dW[o][c·r + s] = Σ_b dy[b][o] x[b][c] for every s (one product, then written r times); the input's
    /// gradient is dy · (summed W), the sum over the r features each value fed, as the pool's backward sums.
    private func backwardRepeating(_ dy: Tensor, _ x: Tensor, _ ws: Tensor) -> Tensor? {
        let b = x.shape[0], c = inFeatures / repeats
        let g = Tensor.reuse(compactGradient, [outFeatures, c]); compactGradient = g
        var d: Tensor?
        if needsInputGradient { d = gradientBuffer(repeatedShape) }
        linearBackward(dy: dy.data, x: x.data, weight: ws.data, batch: b, inFeatures: c, outFeatures: outFeatures,
                       dWeight: g.data, dBias: bias.grad.data, dx: d?.data)
        // Each value of the compact gradient repeated r times: the pool's forward pass over it.
        adaptiveAvgPoolForward(x: g.data, planes: outFeatures * c, height: 1, width: 1, outH: repeats, outW: 1,
                               y: weight.grad.data)
        return d
    }
    private var compactGradient: Tensor?
}
