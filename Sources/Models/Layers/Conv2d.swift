import Kernels

/// nn.Conv2d (square kernel, optional bias), with no im2col buffer: the paths each pass takes are
/// tabled in Kernels/ConvForward.swift, ConvBackwardData.swift and ConvBackwardWeights.swift.
public final class Conv2d: Layer, GradientBufferUser {
    public let name: String
    public let inChannels, outChannels, kernel, stride, padding: Int
    public let weight: Parameter          // shape [out, in, k, k] (PyTorch's), kept tap-major in memory
    public let bias: Parameter?           // [out]
    public var needsInputGradient = true
    public var gradientBuffers: GradientBuffers?
    public var parameters: [Parameter] { bias.map { [weight, $0] } ?? [weight] }

    private var input: Tensor?
    private var geometry: ConvGeometry?
    private var out: Tensor?
    /// The geometry whose idle taps the last backward zeroed in `weight.grad` (they stay zero after).
    private var idleZeroedFor: ConvGeometry?

    public init(_ name: String, _ inChannels: Int, _ outChannels: Int, kernel: Int, stride: Int = 1,
                padding: Int = 0, bias: Bool = true) {
        self.name = name; self.inChannels = inChannels; self.outChannels = outChannels
        self.kernel = kernel; self.stride = stride; self.padding = padding
        weight = Parameter(name: qualified(name, "weight"), shape: [outChannels, inChannels, kernel, kernel],
                           layout: .convTapMajor(outChannels: outChannels, inChannels: inChannels, taps: kernel * kernel))
        self.bias = bias ? Parameter(name: qualified(name, "bias"), shape: [outChannels]) : nil
    }

    public func outputShape(for s: [Int]) -> [Int] {
        [outChannels, pooledSide(s[1], kernel: kernel, stride: stride, padding: padding),
         pooledSide(s[2], kernel: kernel, stride: stride, padding: padding)]
    }
    /// Cout·OH·OW·Cin·K·K (zero-padding taps counted, as fvcore does).
    public func multiplyAccumulates(for s: [Int]) -> Int {
        outputShape(for: s).reduce(1, *) * inChannels * kernel * kernel
    }
    public var kind: String {
        "Conv2d(\(inChannels)→\(outChannels), \(kernel)×\(kernel)" + (stride != 1 ? ", s\(stride)" : "")
            + (padding != 0 ? ", p\(padding)" : "") + ")"
    }

    public func forward(_ x: Tensor, training: Bool) -> Tensor { forward(x, epilogue: nil) }

    /// The forward pass with an inference epilogue (a following eval-mode batch norm folded in).
    func forward(_ x: Tensor, epilogue: ConvEpilogue?) -> Tensor {
        precondition(x.shape.count == 4 && x.shape[1] == inChannels, "\(name): input \(x.shape)")
        let g = ConvGeometry(batch: x.shape[0], inChannels: inChannels, height: x.shape[2], width: x.shape[3],
                             outChannels: outChannels, kernel: kernel, stride: stride, padding: padding)
        geometry = g
        keep(x, in: &input)
        let y = layerOutput(&out, [g.batch, outChannels, g.outH, g.outW])
        convForward(x: x.data, weight: weight.value.data, bias: bias?.value.data, geometry: g, y: y.data,
                    epilogue: epilogue)
        return y
    }

    /// The backward of this conv (when it needs no dx: a model's first layer) and of the ReLU and max
    /// pool after it, from the pool's gradient: the weight and bias gradients straight from the pool's
    /// winners (`convWeightGradientThroughMaxPool`), skipping the pool's dx. False (nothing done) when
    /// the shape does not allow it or the pool kept no winners.
    func backward(throughPool dyPool: Tensor, _ pool: MaxPool2d) -> Bool {
        guard !needsInputGradient, let g = geometry, convThroughPoolApplies(g), let input, let w = pool.winners() else { return false }
        convWeightGradientThroughMaxPool(dyPool: dyPool.data, argmax: w.argmax, pooled: w.pooled, pooledPlane: w.plane,
                                         x: input.data, geometry: g, dWeight: weight.grad.data, dBias: bias?.grad.data)
        // Taps that never reach the image summed only the zero border: their gradient is zero too.
        noteIdleTaps(g)
        return true
    }

    /// Marks the weight's idle taps for `g` (`Parameter.idle`), once per map size: which taps reach the
    /// image depends on it, not on the batch. Returns whether they were already noted, i.e. an earlier
    /// backward of this map size left their dW zero.
    @discardableResult
    private func noteIdleTaps(_ g: ConvGeometry) -> Bool {
        var spatial = g; spatial.batch = 1
        if idleZeroedFor == spatial { return true }
        idleZeroedFor = spatial
        let active = ConvWeights.activeTaps(g), block = outChannels * inChannels
        weight.idle = (0..<kernel * kernel).filter { !active.contains($0) }.map { ($0 * block)..<(($0 + 1) * block) }
        return false
    }

    /// This layer's output buffer at `shape`, for a caller writing a fused inference result: it is
    /// free outside a training step (the backward pass needs the input, not the output).
    func outputBuffer(_ shape: [Int]) -> Tensor { layerOutput(&out, shape) }

    public func backward(_ dy: Tensor) -> Tensor? { backward(dy, adding: nil) }

    /// The backward with `adding` (the input's shape) summed into the input gradient, in the kernel's
    /// stores where it can (a residual block's shortcut gradient).
    func backward(_ dy: Tensor, adding: Tensor?) -> Tensor? {
        guard let g = geometry, let input else { preconditionFailure("\(name): backward before forward") }
        var result: Tensor?
        if needsInputGradient { result = gradientBuffer(input.shape) }
        precondition(adding == nil || (result != nil && adding!.count == input.count), "\(name): gradient to add without an input gradient")
        // Idle taps' dW is zeroed by the first backward of each map size and stays zero.
        let zeroed = noteIdleTaps(g)
        convBackward(dy: dy.data, x: input.data, weight: weight.value.data, geometry: g, dWeight: weight.grad.data,
                     dBias: bias?.grad.data, dx: result?.data, dxAdding: adding.map { UnsafePointer($0.data) },
                     idleTapsZeroed: zeroed)
        return result
    }
}
