import Kernels

/// torchvision's ResNet v1.5 bottleneck: relu(bn3(conv3(relu(bn2(conv2(relu(bn1(conv1(x)))))))) + shortcut(x)),
/// conv1 a 1×1 reduce to `width`, conv2 the 3×3 that carries the stride, conv3 a 1×1 expand to 4·width,
/// the shortcut a 1×1 conv + bn projection when the shape changes. `residual = false` drops the add but
/// keeps the projection's weights, so it can be switched back on mid-run.
public final class Bottleneck: ResidualSwitch, GradientBufferUser {
    public static let expansion = 4
    public let name: String
    public let conv1: Conv2d, bn1: BatchNorm2d, relu1: ReLU, conv2: Conv2d, bn2: BatchNorm2d, relu2: ReLU
    public let conv3: Conv2d, bn3: BatchNorm2d, relu3: ReLU
    public let downsample: (conv: Conv2d, bn: BatchNorm2d)?
    public var residual: Bool {
        didSet { for p in downsample.map({ $0.conv.parameters + $0.bn.parameters }) ?? [] { p.inUse = residual } }
    }
    public var needsInputGradient = true
    public var gradientBuffers: GradientBuffers?

    public init(_ name: String, _ cin: Int, width: Int, stride: Int, residual: Bool = true) {
        self.name = name
        let cout = width * Self.expansion
        conv1 = Conv2d(qualified(name, "conv1"), cin, width, kernel: 1, bias: false)
        // bn3's incoming gradient also feeds the shortcut; the other norms' feed nothing else, and
        // batch norm's backward reads its input, not the output the in-place ReLUs overwrite.
        bn1 = BatchNorm2d(qualified(name, "bn1"), width, gradientInPlace: true)
        relu1 = ReLU(qualified(name, "relu1"), inPlace: true)
        conv2 = Conv2d(qualified(name, "conv2"), width, width, kernel: 3, stride: stride, padding: 1, bias: false)
        bn2 = BatchNorm2d(qualified(name, "bn2"), width, gradientInPlace: true)
        relu2 = ReLU(qualified(name, "relu2"), inPlace: true)
        conv3 = Conv2d(qualified(name, "conv3"), width, cout, kernel: 1, bias: false)
        bn3 = BatchNorm2d(qualified(name, "bn3"), cout)
        relu3 = ReLU(qualified(name, "relu3"), inPlace: true)
        downsample = projectionShortcut(name, cin, cout, stride: stride, residual: residual)
        self.residual = residual
    }

    /// In state_dict order (the ReLUs hold no state) and in the order they run.
    public var children: [Layer] {
        [conv1, bn1, relu1, conv2, bn2, relu2, conv3, bn3] + (downsample.map { [$0.conv, $0.bn] as [Layer] } ?? []) + [relu3]
    }
    public func trace(_ input: [Int]) -> [LayerTrace] {
        shortcutTrace(main: [conv1, bn1, relu1, conv2, bn2, relu2, conv3, bn3], downsample: downsample,
                      residual: residual, out: relu3, input)
    }

    public func forward(_ x: Tensor, training: Bool) -> Tensor {
        if !training { return fusedEvalForward(x) }
        fusedInput = nil
        return trainingForward(x)
    }

    // Inference: each conv applies its eval-mode batch norm (folded to scale/shift), the residual add and
    // the ReLU in its output loop, as BasicBlock does. A backward pass after it first reruns the layers.
    private var fusedInput: Tensor?

    private func fusedConv(_ conv: Conv2d, _ bn: BatchNorm2d, _ x: Tensor, residual: Tensor?, relu: Bool) -> Tensor {
        var e = bn.evalScaleShift()
        e.residual = residual.map { UnsafePointer($0.data) }; e.relu = relu
        return conv.forward(x, epilogue: e)
    }

    private func fusedEvalForward(_ x: Tensor) -> Tensor {
        precondition(x.shape.count == 4 && x.shape[1] == conv1.inChannels, "\(name): input \(x.shape)")
        fusedInput = predicting ? nil : x
        let a = fusedConv(conv1, bn1, x, residual: nil, relu: true)
        let b = fusedConv(conv2, bn2, a, residual: nil, relu: true)
        var shortcut: Tensor? = nil
        if residual { shortcut = downsample.map { fusedConv($0.conv, $0.bn, x, residual: nil, relu: false) } ?? x }
        return fusedConv(conv3, bn3, b, residual: shortcut, relu: true)
    }

    // Training: each batch norm with what follows it (the shortcut's add, the ReLU) in its output pass.
    private func trainingForward(_ x: Tensor) -> Tensor {
        let a = bn1.trainForward(conv1.forward(x, training: true), adding: nil, relu: relu1)
        let b = bn2.trainForward(conv2.forward(a, training: true), adding: nil, relu: relu2)
        let c3 = conv3.forward(b, training: true)
        let shortcut = residual ? shortcutForward(downsample, x, training: true) : nil
        return bn3.trainForward(c3, adding: shortcut, relu: relu3)
    }

    /// The layers one by one in eval mode: what a backward pass after an inference forward reruns.
    private func evalLayerForward(_ x: Tensor) -> Tensor {
        let a = relu1.forward(bn1.forward(conv1.forward(x, training: false), training: false), training: false)
        let b = relu2.forward(bn2.forward(conv2.forward(a, training: false), training: false), training: false)
        let main = bn3.forward(conv3.forward(b, training: false), training: false)
        guard residual else { return relu3.forward(main, training: false) }
        // The shortcut is added into bn3's output (its backward does not read it).
        addInPlace(main.data, shortcutForward(downsample, x, training: false).data, count: main.count)
        return relu3.forward(main, training: false)
    }

    public func backward(_ dy: Tensor) -> Tensor? {
        if let x = fusedInput { fusedInput = nil; _ = evalLayerForward(x) }
        // Each gradient goes back to the network's buffers once read (dy, and the in-place layers' results
        // that lie in it, are the caller's).
        // dy becomes relu3's input gradient: the shortcut's.
        let d3 = bn3.backward(dy, through: relu3), dSum = dy
        let dB = conv3.backward(d3)!; release(d3, keeping: dy)
        let d2 = bn2.backward(dB, through: relu2)
        let dA = conv2.backward(d2)!; release(d2, keeping: dy)
        let d1 = bn1.backward(dA, through: relu1)
        return shortcutBackward(first: conv1, d1, dSum: dSum, downsample: downsample, residual: residual)
    }
}
