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
        fusedInput = nil
        guard !training else { return layers.reduce(x) { $1.forward($0, training: true) } }
        // Inference: each conv with its batch norm and ReLU in one pass (GoogLeNet's BasicConv2d).
        var h = x, i = 0
        while i < layers.count {
            if let f = evalFold(layers, at: i) {
                h = f.conv.forward(h, epilogue: f.epilogue)
                fusedInput = predicting ? nil : x
                i += f.count
            } else {
                h = layers[i].forward(h, training: false)
                i += 1
            }
        }
        return h
    }

    /// Set by an inference forward that folded layers (which then hold nothing for a backward pass):
    /// its input, for `backward` to rerun the layers one by one.
    private var fusedInput: Tensor?

    public func backward(_ dy: Tensor) -> Tensor? {
        if let x = fusedInput { fusedInput = nil; _ = layers.reduce(x) { $1.forward($0, training: false) } }
        var d: Tensor? = dy
        for layer in layers.reversed() {
            guard let g = d else { return nil }
            d = layer.backward(g)
            release(g, keeping: d, dy)
        }
        return d
    }
}
