import Kernels

public final class ReLU: Layer, GradientBufferUser {
    public let name: String
    public var needsInputGradient = true
    public var gradientBuffers: GradientBuffers?
    public var parameters: [Parameter] { [] }
    /// Overwrites its input in the forward pass and its incoming gradient in the backward pass
    /// (PyTorch's inplace=True): for a caller that never reads either again, two buffers fewer.
    public var inPlace = false
    private var out: Tensor?

    public init(_ name: String, inPlace: Bool = false) { self.name = name; self.inPlace = inPlace }

    public func forward(_ x: Tensor, training: Bool) -> Tensor {
        let y: Tensor
        if inPlace { y = x; keep(y, in: &out) } else { y = layerOutput(&out, x.shape) }
        reluForward(x: x.data, count: x.count, y: y.data)
        return y
    }

    /// Takes y, already computed by the layer before (BatchNorm2d.trainForward(_:adding:relu:)), as this
    /// layer's in-place result, for its backward.
    func adopt(_ y: Tensor) {
        precondition(inPlace, "\(name): a fused ReLU works in place")
        out = y
    }
    /// The last forward's result (the backward's mask).
    var output: Tensor? { out }

    public func backward(_ dy: Tensor) -> Tensor? {
        guard let out else { preconditionFailure("\(name): backward before forward") }
        let d = inPlace ? dy : gradientBuffer(out.shape)
        reluBackward(dy: dy.data, y: out.data, count: out.count, dx: d.data)
        return d
    }
}
