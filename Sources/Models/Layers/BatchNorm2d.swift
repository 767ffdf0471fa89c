import Kernels

/// nn.BatchNorm2d: eps 1e-5 unless told (GoogLeNet's is 1e-3), momentum 0.1, affine, tracking running statistics.
public final class BatchNorm2d: Layer, GradientBufferUser {
    public let name: String
    public let channels: Int
    public let eps: Float, momentum: Float = 0.1
    public let weight: Parameter, bias: Parameter
    public let runningMean: Tensor, runningVar: Tensor
    /// num_batches_tracked (a float holds exact integers up to 2^24 batches).
    public let batchesTracked = Tensor(shape: [])
    public var needsInputGradient = true
    public var gradientBuffers: GradientBuffers?
    /// Writes the input gradient over the incoming gradient (each element is read before it is
    /// written, channel by channel): for callers that never read that gradient again.
    public var gradientInPlace = false
    public var parameters: [Parameter] { [weight, bias] }
    public var state: [StateEntry] {
        [StateEntry(name: weight.name, tensor: weight.value, isCounter: false),
         StateEntry(name: bias.name, tensor: bias.value, isCounter: false),
         StateEntry(name: qualified(name, "running_mean"), tensor: runningMean, isCounter: false),
         StateEntry(name: qualified(name, "running_var"), tensor: runningVar, isCounter: false),
         StateEntry(name: qualified(name, "num_batches_tracked"), tensor: batchesTracked, isCounter: true)]
    }

    public var kind: String { "BatchNorm2d(\(channels)" + (eps != 1e-5 ? ", eps \(eps)" : "") + ")" }

    private var input: Tensor?, out: Tensor?
    private var trainedForward = false
    /// Whether the last training forward added a shortcut before its ReLU (the ReLU's mask then needs it).
    private var addedResidual = false
    private let savedMean: Tensor, savedInvStd: Tensor

    public init(_ name: String, _ channels: Int, eps: Float = 1e-5, gradientInPlace: Bool = false) {
        self.eps = eps
        self.gradientInPlace = gradientInPlace
        self.name = name; self.channels = channels
        weight = Parameter(name: qualified(name, "weight"), shape: [channels])
        bias = Parameter(name: qualified(name, "bias"), shape: [channels])
        runningMean = Tensor(shape: [channels]); runningVar = Tensor(shape: [channels])
        savedMean = Tensor(shape: [channels]); savedInvStd = Tensor(shape: [channels])
        weight.value.fill(1); runningVar.fill(1)
    }

    private func shape(_ x: Tensor) -> BatchNormShape {
        BatchNormShape(batch: x.shape[0], channels: channels, planeSize: x.count / (x.shape[0] * channels))
    }

    public func forward(_ x: Tensor, training: Bool) -> Tensor {
        guard !training else { return trainForward(x, residual: nil, relu: false) }
        precondition(x.shape.count >= 2 && x.shape[1] == channels, "\(name): input \(x.shape)")
        trainedForward = false
        keep(x, in: &input)
        let y = layerOutput(&out, x.shape)
        batchNormEvalForward(x: x.data, s: shape(x), gamma: weight.value.data, beta: bias.value.data, eps: eps,
                             runningMean: runningMean.data, runningVar: runningVar.data, y: y.data)
        return y
    }

    /// The training forward, then `residual` added (a block's shortcut) and `relu` (in place), in one
    /// pass over memory instead of three: the same floats as the layers one after another. `relu` holds
    /// the result for its backward (`backward(_:through:)`).
    public func trainForward(_ x: Tensor, adding residual: Tensor?, relu: ReLU) -> Tensor {
        let y = trainForward(x, residual: residual, relu: true)
        relu.adopt(y)
        return y
    }

    private func trainForward(_ x: Tensor, residual: Tensor?, relu: Bool) -> Tensor {
        precondition(x.shape.count >= 2 && x.shape[1] == channels, "\(name): input \(x.shape)")
        precondition(residual.map { $0.shape == x.shape } ?? true, "\(name): shortcut \(residual!.shape) for \(x.shape)")
        input = x; trainedForward = true; addedResidual = residual != nil
        let y = Tensor.reuse(out, x.shape); out = y
        batchNormTrainForward(x: x.data, s: shape(x), gamma: weight.value.data, beta: bias.value.data, eps: eps,
                              momentum: momentum, runningMean: runningMean.data, runningVar: runningVar.data,
                              savedMean: savedMean.data, savedInvStd: savedInvStd.data, y: y.data,
                              residual: residual.map { UnsafePointer($0.data) }, relu: relu)
        batchesTracked[0] += 1
        return y
    }

    /// The backward of this layer and the in-place `relu` after it, from the ReLU's output gradient dy:
    /// after a `trainForward(_:adding:relu:)`, the ReLU's mask is applied in the pass that sums dy. Either
    /// way dy is left as the ReLU's input gradient (what a shortcut gets), unless the gradient is written
    /// in place: then, with no shortcut added before the ReLU, its mask comes from x and the forward's map
    /// (`batchNormReLUBackwardInPlace`), and the ReLU's output is not read.
    public func backward(_ dy: Tensor, through relu: ReLU) -> Tensor {
        guard trainedForward, let input, let y = relu.output, y === out else { return backward(relu.backward(dy)!)! }
        if gradientInPlace && !addedResidual {
            batchNormReLUBackwardInPlace(dy: dy.data, reluOutput: y.data, x: input.data, s: shape(input), gamma: weight.value.data,
                                         beta: bias.value.data, savedMean: savedMean.data, savedInvStd: savedInvStd.data,
                                         dGamma: weight.grad.data, dBeta: bias.grad.data)
            return dy
        }
        let d = gradientInPlace ? dy : gradientBuffer(input.shape)
        batchNormReLUBackward(dy: dy.data, reluOutput: y.data, x: input.data, s: shape(input), gamma: weight.value.data,
                              savedMean: savedMean.data, savedInvStd: savedInvStd.data, dGamma: weight.grad.data,
                              dBeta: bias.grad.data, dx: d.data)
        return d
    }

    /// Eval mode as y = x·scale + shift per channel (for a conv's epilogue), computed as
    /// batchNormEvalForward computes them.
    func evalScaleShift() -> ConvEpilogue {
        for c in 0..<channels {
            let k = weight.value[c] / (runningVar[c] + eps).squareRoot()
            foldedScale[c] = k; foldedShift[c] = bias.value[c] - runningMean[c] * k
        }
        return ConvEpilogue(scale: foldedScale.data, shift: foldedShift.data, relu: false)
    }
    private lazy var foldedScale = Tensor(shape: [channels])
    private lazy var foldedShift = Tensor(shape: [channels])

    public func backward(_ dy: Tensor) -> Tensor? {
        guard let input else { preconditionFailure("\(name): backward before forward") }
        let d = gradientInPlace ? dy : gradientBuffer(input.shape)
        if trainedForward {
            batchNormBackward(dy: dy.data, x: input.data, s: shape(input), gamma: weight.value.data,
                              savedMean: savedMean.data, savedInvStd: savedInvStd.data, dGamma: weight.grad.data,
                              dBeta: bias.grad.data, dx: d.data)
        } else {
            batchNormEvalBackward(dy: dy.data, x: input.data, s: shape(input), gamma: weight.value.data, eps: eps,
                                  runningMean: runningMean.data, runningVar: runningVar.data,
                                  dGamma: weight.grad.data, dBeta: bias.grad.data, dx: d.data)
        }
        return d
    }
}
