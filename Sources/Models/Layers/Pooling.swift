import Kernels

/// nn.MaxPool2d / F.max_pool2d (square window; stride defaults to the window; ceil_mode as GoogLeNet's).
public final class MaxPool2d: Layer, GradientBufferUser {
    public let name: String
    public let kernel, stride, padding: Int
    public let ceilMode: Bool
    public var needsInputGradient = true
    public var gradientBuffers: GradientBuffers?
    public var parameters: [Parameter] { [] }
    private var geometry: ConvGeometry?, input: Tensor?
    private var out: Tensor?
    private var argmax: UnsafeMutablePointer<Int32>?, argmaxCount = 0

    public init(_ name: String, kernel: Int, stride: Int? = nil, padding: Int = 0, ceilMode: Bool = false) {
        self.name = name; self.kernel = kernel; self.stride = stride ?? kernel; self.padding = padding
        self.ceilMode = ceilMode
    }

    deinit { argmax?.deallocate() }

    public func outputShape(for s: [Int]) -> [Int] {
        [s[0], pooledSide(s[1], kernel: kernel, stride: stride, padding: padding, ceilMode: ceilMode),
         pooledSide(s[2], kernel: kernel, stride: stride, padding: padding, ceilMode: ceilMode)]
    }
    public var kind: String {
        "MaxPool2d(\(kernel)" + (stride != kernel ? ", s\(stride)" : "") + (padding != 0 ? ", p\(padding)" : "") + (ceilMode ? ", ceil" : "") + ")"
    }

    public func forward(_ x: Tensor, training: Bool) -> Tensor { forward(x, training: training, recordIndices: true) }

    /// `recordIndices: false` skips the winners' indices: for inference that reruns the forward pass
    /// before any backward (Network's folded evaluation), the stem's pool then only takes maxima.
    func forward(_ x: Tensor, training: Bool, recordIndices: Bool) -> Tensor {
        var g = ConvGeometry(batch: x.shape[0], inChannels: x.shape[1], height: x.shape[2], width: x.shape[3],
                             outChannels: x.shape[1], kernel: kernel, stride: stride, padding: padding)
        g.ceilMode = ceilMode
        geometry = g
        keep(x, in: &input)
        let y = layerOutput(&out, [g.batch, g.inChannels, g.outH, g.outW])
        if recordIndices && argmaxCount != y.count {
            argmax?.deallocate()
            argmax = .allocate(capacity: y.count); argmaxCount = y.count
        }
        maxPoolForward(x: x.data, geometry: g, y: y.data, argmax: recordIndices ? argmax : nil)
        indicesRecorded = recordIndices
        reluApplied = false
        return y
    }
    private var indicesRecorded = false

    /// ReLU then this pool, computed as this pool then ReLU on its 4× (or so) smaller output
    /// (Network folds a ReLU unit followed by a max pool into this). Bit for bit the same: ReLU is
    /// monotonic, so the window's maximum and (first-wins) argmax agree whenever the maximum is
    /// positive; otherwise both give 0 and a zero gradient for the whole window.
    func forwardAfterReLU(_ x: Tensor, training: Bool, recordIndices: Bool = true) -> Tensor {
        let y = forward(x, training: training, recordIndices: recordIndices)
        reluForward(x: y.data, count: y.count, y: y.data)
        reluApplied = true
        return y
    }
    private var reluApplied = false

    /// What the first conv's fused weight gradient needs (`Conv2d.backward(throughPool:)`) after a
    /// training forward that applied the ReLU: the winners' indices, this pool's output (its signs are
    /// the ReLU's mask) and the outputs per plane.
    func winners() -> (argmax: UnsafePointer<Int32>, pooled: UnsafePointer<Float>, plane: Int)? {
        guard indicesRecorded, reluApplied, let argmax, let out, let g = geometry else { return nil }
        return (UnsafePointer(argmax), UnsafePointer(out.data), g.outH * g.outW)
    }

    public func backward(_ dy: Tensor) -> Tensor? {
        guard let g = geometry, let input, let argmax, let out else { preconditionFailure("\(name): backward before forward") }
        precondition(indicesRecorded, "\(name): backward after a forward that kept no indices")
        let d = gradientBuffer(input.shape)
        maxPoolBackward(dy: dy.data, argmax: argmax, geometry: g, dx: d.data,
                        reluOutput: reluApplied ? UnsafePointer(out.data) : nil)
        return d
    }
}

/// nn.AvgPool2d with count_include_pad=True.
public final class AvgPool2d: Layer, GradientBufferUser {
    public let name: String
    public let kernel, stride, padding: Int
    public var needsInputGradient = true
    public var gradientBuffers: GradientBuffers?
    public var parameters: [Parameter] { [] }
    private var geometry: ConvGeometry?, input: Tensor?
    private var out: Tensor?

    public init(_ name: String, kernel: Int, stride: Int? = nil, padding: Int = 0) {
        self.name = name; self.kernel = kernel; self.stride = stride ?? kernel; self.padding = padding
    }

    public func outputShape(for s: [Int]) -> [Int] {
        [s[0], pooledSide(s[1], kernel: kernel, stride: stride, padding: padding),
         pooledSide(s[2], kernel: kernel, stride: stride, padding: padding)]
    }
    public var kind: String { "AvgPool2d(\(kernel))" }

    public func forward(_ x: Tensor, training: Bool) -> Tensor {
        let g = ConvGeometry(batch: x.shape[0], inChannels: x.shape[1], height: x.shape[2], width: x.shape[3],
                             outChannels: x.shape[1], kernel: kernel, stride: stride, padding: padding)
        geometry = g
        keep(x, in: &input)
        let y = layerOutput(&out, [g.batch, g.inChannels, g.outH, g.outW])
        avgPoolForward(x: x.data, geometry: g, y: y.data)
        return y
    }

    public func backward(_ dy: Tensor) -> Tensor? {
        guard let g = geometry, let input else { preconditionFailure("\(name): backward before forward") }
        let d = gradientBuffer(input.shape)
        avgPoolBackward(dy: dy.data, geometry: g, dx: d.data)
        return d
    }
}

/// F.adaptive_avg_pool2d(x, 1) followed by flatten: [N, C, H, W] -> [N, C].
public final class GlobalAvgPool: Layer, GradientBufferUser {
    public let name: String
    public var needsInputGradient = true
    public var parameters: [Parameter] { [] }
    private var input: Tensor?, out: Tensor?

    public var gradientBuffers: GradientBuffers?

    public init(_ name: String) { self.name = name }

    public func outputShape(for s: [Int]) -> [Int] { [s[0]] }
    public var kind: String { "AdaptiveAvgPool(1)+flatten" }

    public func forward(_ x: Tensor, training: Bool) -> Tensor {
        keep(x, in: &input)
        let y = layerOutput(&out, [x.shape[0], x.shape[1]])
        globalAvgPoolForward(x: x.data, planes: y.count, planeSize: x.count / y.count, y: y.data)
        return y
    }

    public func backward(_ dy: Tensor) -> Tensor? {
        guard let input else { preconditionFailure("\(name): backward before forward") }
        let d = gradientBuffer(input.shape)
        globalAvgPoolBackward(dy: dy.data, planes: dy.count, planeSize: input.count / dy.count, dx: d.data)
        return d
    }
}

/// torch.flatten(x, 1): a view, no copy.
public final class Flatten: Layer {
    public let name: String
    public var needsInputGradient = true
    public var parameters: [Parameter] { [] }
    private var inputShape: [Int] = []

    public init(_ name: String) { self.name = name }

    public func outputShape(for s: [Int]) -> [Int] { [s.reduce(1, *)] }

    public func forward(_ x: Tensor, training: Bool) -> Tensor {
        inputShape = x.shape
        return Tensor(view: x, shape: [x.shape[0], x.count / x.shape[0]])
    }

    public func backward(_ dy: Tensor) -> Tensor? { Tensor(view: dy, shape: inputShape) }
}
