import Kernels

public final class ReLU: Layer {
    public let name: String
    public var needsInputGradient = true
    public var parameters: [Parameter] { [] }
    private var out: Tensor?, dx: Tensor?

    public init(_ name: String) { self.name = name }

    public func forward(_ x: Tensor, training: Bool) -> Tensor {
        let y = Tensor.reuse(out, x.shape); out = y
        reluForward(x: x.data, count: x.count, y: y.data)
        return y
    }

    public func backward(_ dy: Tensor) -> Tensor? {
        guard let out else { preconditionFailure("\(name): backward before forward") }
        let d = Tensor.reuse(dx, out.shape); dx = d
        reluBackward(dy: dy.data, y: out.data, count: out.count, dx: d.data)
        return d
    }
}
