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
        input = x
        let y = Tensor.reuse(out, [x.shape[0], outFeatures]); out = y
        linearForward(x: x.data, weight: weight.value.data, bias: bias.value.data, batch: x.shape[0],
                      inFeatures: inFeatures, outFeatures: outFeatures, y: y.data)
        return y
    }

    public func backward(_ dy: Tensor) -> Tensor? {
        guard let input else { preconditionFailure("\(name): backward before forward") }
        var d: Tensor?
        if needsInputGradient { d = gradientBuffer(input.shape) }
        linearBackward(dy: dy.data, x: input.data, weight: weight.value.data, batch: input.shape[0],
                       inFeatures: inFeatures, outFeatures: outFeatures, dWeight: weight.grad.data,
                       dBias: bias.grad.data, dx: d?.data)
        return d
    }
}
