import Kernels

/// ResNet's basic block: relu(bn2(conv2(relu(bn1(conv1(x))))) + shortcut(x)), the shortcut a 1×1
/// conv + bn projection when the shape changes. `residual = false` drops the add (the plain network)
/// but keeps the projection's weights, so it can be switched back on mid-run.
public final class BasicBlock: ResidualSwitch, GradientBufferUser {
    public let name: String
    public let conv1: Conv2d, bn1: BatchNorm2d, relu1: ReLU, conv2: Conv2d, bn2: BatchNorm2d, relu2: ReLU
    public let downsample: (conv: Conv2d, bn: BatchNorm2d)?
    public var residual: Bool {
        didSet { for p in downsample.map({ $0.conv.parameters + $0.bn.parameters }) ?? [] { p.inUse = residual } }
    }
    public var needsInputGradient = true
    public var gradientBuffers: GradientBuffers?

    public init(_ name: String, _ cin: Int, _ cout: Int, stride: Int, residual: Bool = true) {
        self.name = name
        conv1 = Conv2d(qualified(name, "conv1"), cin, cout, kernel: 3, stride: stride, padding: 1, bias: false)
        // bn2's incoming gradient also feeds the shortcut; bn1's and the projection's feed nothing else.
        bn1 = BatchNorm2d(qualified(name, "bn1"), cout, gradientInPlace: true)
        // In place: batch norm's backward reads its input, not its output, and nothing else reads
        // what the ReLUs overwrite (the memory a training step needs drops by four buffers a block).
        relu1 = ReLU(qualified(name, "relu1"), inPlace: true)
        conv2 = Conv2d(qualified(name, "conv2"), cout, cout, kernel: 3, stride: 1, padding: 1, bias: false)
        bn2 = BatchNorm2d(qualified(name, "bn2"), cout)
        relu2 = ReLU(qualified(name, "relu2"), inPlace: true)
        downsample = projectionShortcut(name, cin, cout, stride: stride, residual: residual)
        self.residual = residual
    }

    /// In state_dict order (the ReLUs hold no state) and in the order they run.
    public var children: [Layer] {
        [conv1, bn1, relu1, conv2, bn2] + (downsample.map { [$0.conv, $0.bn] as [Layer] } ?? []) + [relu2]
    }
    public func trace(_ input: [Int]) -> [LayerTrace] {
        shortcutTrace(main: [conv1, bn1, relu1, conv2, bn2], downsample: downsample, residual: residual, out: relu2, input)
    }

    public func forward(_ x: Tensor, training: Bool) -> Tensor {
        if !training { return fusedEvalForward(x) }
        fusedInput = nil
        return trainingForward(x)
    }

    // Inference: each conv applies its eval-mode batch norm (folded to scale/shift), the residual add and
    // the ReLU in its output loop (Kernels.ConvEpilogue): the same float operations as the separate
    // layers, without their passes over memory. A backward pass after it first reruns the layers so they
    // hold what their backward needs.
    private var fusedInput: Tensor?
    private var folded: [Tensor] = []

    private func fold(_ bn: BatchNorm2d, _ slot: Int) -> (UnsafePointer<Float>, UnsafePointer<Float>) {
        while folded.count < 2 * (slot + 1) { folded.append(Tensor(shape: [bn.channels])) }
        let scale = folded[2 * slot], shift = folded[2 * slot + 1]
        let sc = Tensor.reuse(scale, [bn.channels]), sh = Tensor.reuse(shift, [bn.channels])
        folded[2 * slot] = sc; folded[2 * slot + 1] = sh
        for c in 0..<bn.channels {
            let k = bn.weight.value[c] / (bn.runningVar[c] + bn.eps).squareRoot()
            sc[c] = k; sh[c] = bn.bias.value[c] - bn.runningMean[c] * k
        }
        return (UnsafePointer(sc.data), UnsafePointer(sh.data))
    }

    /// The fused result goes into the conv's own output buffer: no extra activations for inference.
    private func fusedConv(_ conv: Conv2d, _ bn: BatchNorm2d, slot: Int, _ x: Tensor,
                           residual: Tensor?, relu: Bool) -> Tensor {
        let g = ConvGeometry(batch: x.shape[0], inChannels: conv.inChannels, height: x.shape[2], width: x.shape[3],
                             outChannels: conv.outChannels, kernel: conv.kernel, stride: conv.stride, padding: conv.padding)
        let y = conv.outputBuffer([g.batch, g.outChannels, g.outH, g.outW])
        let (sc, sh) = fold(bn, slot)
        convForward(x: x.data, weight: conv.weight.value.data, bias: conv.bias?.value.data, geometry: g, y: y.data,
                    epilogue: ConvEpilogue(scale: sc, shift: sh, residual: residual.map { UnsafePointer($0.data) }, relu: relu))
        return y
    }

    private func fusedEvalForward(_ x: Tensor) -> Tensor {
        precondition(x.shape.count == 4 && x.shape[1] == conv1.inChannels, "\(name): input \(x.shape)")
        fusedInput = predicting ? nil : x
        let mid = fusedConv(conv1, bn1, slot: 0, x, residual: nil, relu: true)
        var shortcut: Tensor? = nil
        if residual {
            if let ds = downsample { shortcut = fusedConv(ds.conv, ds.bn, slot: 2, x, residual: nil, relu: false) }
            else { shortcut = x }
        }
        return fusedConv(conv2, bn2, slot: 1, mid, residual: shortcut, relu: true)
    }

    // Training: each batch norm with what follows it (the shortcut's add, the ReLU) in its output pass.
    private func trainingForward(_ x: Tensor) -> Tensor {
        let mid = bn1.trainForward(conv1.forward(x, training: true), adding: nil, relu: relu1)
        let c2 = conv2.forward(mid, training: true)
        let shortcut = residual ? shortcutForward(downsample, x, training: true) : nil
        return bn2.trainForward(c2, adding: shortcut, relu: relu2)
    }

    /// The layers one by one in eval mode: what a backward pass after an inference forward reruns.
    private func evalLayerForward(_ x: Tensor) -> Tensor {
        let main = bn2.forward(conv2.forward(relu1.forward(bn1.forward(conv1.forward(x, training: false),
                                                                         training: false), training: false),
                                             training: false), training: false)
        guard residual else { return relu2.forward(main, training: false) }
        // The shortcut is added into bn2's output (its backward does not read it).
        addInPlace(main.data, shortcutForward(downsample, x, training: false).data, count: main.count)
        return relu2.forward(main, training: false)
    }

    public func backward(_ dy: Tensor) -> Tensor? {
        if let x = fusedInput { fusedInput = nil; _ = evalLayerForward(x) }
        // Each gradient goes back to the network's buffers once read (dy, and the in-place layers' results
        // that lie in it, are the caller's).
        // dy becomes relu2's input gradient: the shortcut's.
        let d2 = bn2.backward(dy, through: relu2), dSum = dy
        let d1 = conv2.backward(d2)!; release(d2, keeping: dy)
        let d0 = bn1.backward(d1, through: relu1)
        return shortcutBackward(first: conv1, d0, dSum: dSum, downsample: downsample, residual: residual)
    }
}

extension GradientBufferUser {
    /// A residual block's last steps back: its first conv's backward of `d` with the shortcut's gradient
    /// summed into the input gradient it returns (read by nothing else). An identity's (`dSum`, the
    /// block's incoming gradient) is added as the kernel writes; a projection's after, its buffer taken
    /// once d's is free.
    func shortcutBackward(first conv: Conv2d, _ d: Tensor, dSum: Tensor, downsample: (conv: Conv2d, bn: BatchNorm2d)?,
                          residual: Bool) -> Tensor {
        let dMain = conv.backward(d, adding: residual && downsample == nil ? dSum : nil)!; release(d, keeping: dSum)
        guard residual, let downsample else { return dMain }
        let dShortcut = downsample.conv.backward(downsample.bn.backward(dSum)!)!
        addInPlace(dMain.data, dShortcut.data, count: dMain.count)
        release(dShortcut, keeping: dSum)
        return dMain
    }
}

/// A residual block's projection shortcut (torchvision's `downsample`: a 1×1 conv and a batch norm)
/// where the block changes the stride or the channels, else nil; its parameters take part only with
/// residuals on.
func projectionShortcut(_ name: String, _ cin: Int, _ cout: Int, stride: Int, residual: Bool) -> (conv: Conv2d, bn: BatchNorm2d)? {
    guard stride != 1 || cin != cout else { return nil }
    let ds = (conv: Conv2d(qualified(name, "downsample.0"), cin, cout, kernel: 1, stride: stride, bias: false),
              // Its gradient feeds nothing else.
              bn: BatchNorm2d(qualified(name, "downsample.1"), cout, gradientInPlace: true))
    for p in ds.conv.parameters + ds.bn.parameters { p.inUse = residual }
    return ds
}

/// A residual block's shortcut for its input x: the projection's output where it has one, else x.
func shortcutForward(_ downsample: (conv: Conv2d, bn: BatchNorm2d)?, _ x: Tensor, training: Bool) -> Tensor {
    downsample.map { $0.bn.forward($0.conv.forward(x, training: training), training: training) } ?? x
}

/// The trace of a residual block: the main path from the input, the projection (conv, bn) from the
/// input too and running only with residuals on, then the ReLU after the add.
func shortcutTrace(main: [Layer], downsample: (conv: Conv2d, bn: BatchNorm2d)?, residual: Bool, out relu: Layer,
                   _ input: [Int]) -> [LayerTrace] {
    var t: [LayerTrace] = [], s = input
    for l in main { t.append(LayerTrace(l, input: s)); s = l.outputShape(for: s) }
    if let ds = downsample {
        t.append(LayerTrace(ds.conv, input: input, used: residual))
        t.append(LayerTrace(ds.bn, input: ds.conv.outputShape(for: input), used: residual))
    }
    t.append(LayerTrace(relu, input: s))
    return t
}
