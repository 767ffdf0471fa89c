import Kernels

/// nn.Sequential: layers run one after another (an Inception branch, GoogLeNet's BasicConv2d chain).
/// Its name is the module's prefix; the children carry their full state_dict names.
public final class Sequential: Layer, GradientBufferUser {
    public let name: String
    public let layers: [Layer]
    public var children: [Layer] { layers }
    public var gradientBuffers: GradientBuffers?

    public init(_ name: String, _ layers: [Layer]) {
        precondition(!layers.isEmpty, "\(name): an empty Sequential")
        self.name = name; self.layers = layers
    }

    /// Only the first layer's input gradient is this block's.
    public var needsInputGradient: Bool {
        get { layers[0].needsInputGradient }
        set { layers[0].needsInputGradient = newValue }
    }

    public func forward(_ x: Tensor, training: Bool) -> Tensor {
        layers.reduce(x) { $1.forward($0, training: training) }
    }

    public func backward(_ dy: Tensor) -> Tensor? {
        var d: Tensor? = dy
        for layer in layers.reversed() {
            guard let g = d else { return nil }
            d = layer.backward(g)
            release(g, keeping: d, dy)
        }
        return d
    }
}
