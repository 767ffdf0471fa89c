import Kernels

/// A trainable tensor and its gradient, named as in PyTorch's state_dict (`layer1.0.conv1.weight`).
public final class Parameter {
    public let name: String
    /// Shared with the model's replicas (Network.trainStep), which keep gradients of their own.
    public internal(set) var value: Tensor
    public let grad: Tensor
    /// False while the layer that owns it is bypassed (ResNet's projection shortcut with residuals off):
    /// PyTorch leaves such a gradient None and its optimizer skips the parameter, so ours does too.
    public var inUse = true
    /// How `value`, `grad` and the optimizer's buffers lie in memory (`shape` is PyTorch's).
    public let layout: ParameterLayout
    /// Elements whose gradient the last backward left at zero because nothing reaches them (a conv's
    /// taps that fall outside the image for every output pixel). Only the layer's backward writes `grad`.
    public internal(set) var idle: [Range<Int>] = []

    public init(name: String, shape: [Int], layout: ParameterLayout = .torch) {
        self.name = name; self.layout = layout
        value = Tensor(shape: shape)
        grad = Tensor(shape: shape)
    }
}

/// How a parameter's floats are ordered in memory.
public enum ParameterLayout: Equatable {
    /// PyTorch's order.
    case torch
    /// A conv weight kept tap-major, [ki][kj][co][c] (Kernels.ConvWeights), for the kernels' sake.
    case convTapMajor(outChannels: Int, inChannels: Int, taps: Int)

    /// `t`'s values in PyTorch's order (the order of checkpoints and reference fixtures).
    public func torchOrder(_ t: Tensor) -> [Float] {
        guard case let .convTapMajor(o, i, k) = self else { return t.array }
        var v = [Float](repeating: 0, count: t.count)
        v.withUnsafeMutableBufferPointer { ConvWeights.toTorch(t.data, $0.baseAddress!, outChannels: o, inChannels: i, taps: k) }
        return v
    }

    /// Hands `t`'s values to `body` in PyTorch's order, a few output channels at a time (at most 16 K
    /// floats, where a conv's whole tensor would be up to 9 MB), until `body` returns false.
    public func withTorchOrderChunks(_ t: Tensor, _ body: (UnsafeBufferPointer<Float>) -> Bool) -> Bool {
        guard case let .convTapMajor(o, i, k) = self else { return body(UnsafeBufferPointer(start: t.data, count: t.count)) }
        let perOut = i * k, outs = max(1, 16384 / perOut)
        var chunk = [Float](repeating: 0, count: outs * perOut)
        return stride(from: 0, to: o, by: outs).allSatisfy { co0 in
            let n = min(outs, o - co0)
            return chunk.withUnsafeMutableBufferPointer { buf in
                ConvWeights.toTorch(t.data, buf.baseAddress!, outChannels: o, inChannels: i, taps: k, outs: co0..<(co0 + n))
                return body(UnsafeBufferPointer(rebasing: buf[0..<(n * perOut)]))
            }
        }
    }

    /// Sets `t` from values in PyTorch's order.
    public func setTorchOrder(_ v: [Float], into t: Tensor) {
        precondition(v.count == t.count, "\(v.count) values for a tensor of \(t.count)")
        v.withUnsafeBufferPointer { src in
            guard case let .convTapMajor(o, i, k) = self else { t.data.update(from: src.baseAddress!, count: t.count); return }
            ConvWeights.fromTorch(src.baseAddress!, t.data, outChannels: o, inChannels: i, taps: k)
        }
    }
}

/// One entry of the model's state, in PyTorch's state_dict order: parameters and buffers.
public struct StateEntry {
    public let name: String
    public let tensor: Tensor
    /// Stored as int64 in checkpoints (BatchNorm's num_batches_tracked); held as a float here.
    public let isCounter: Bool
    /// How `tensor` is ordered in memory; checkpoints hold PyTorch's order.
    public var layout: ParameterLayout = .torch
}

/// A layer with an explicit forward and backward (llm.c / darknet style): forward caches what backward
/// needs, backward overwrites its parameters' gradients and returns the gradient of its input.
///
/// A layer also describes itself, so that everything that walks a model (summary, checkpoints,
/// initialisation, the residual toggle) works from the layer tree and never from a model's name:
/// its children (a block's convs, norms, ReLUs), its output shape and multiply-accumulates for an
/// input shape, and the leaves it runs (`trace`).
public protocol Layer: AnyObject {
    var name: String { get }
    /// Parameters in state_dict order.
    var parameters: [Parameter] { get }
    /// Parameters and buffers in state_dict order.
    var state: [StateEntry] { get }
    /// The layers this one is made of, in state_dict order (a leaf has none).
    var children: [Layer] { get }
    /// The output shape for one sample of shape `input` (no batch dimension).
    func outputShape(for input: [Int]) -> [Int]
    /// Multiply-accumulates of one sample's forward pass, as fvcore counts them (0 for a block: its
    /// leaves count theirs).
    func multiplyAccumulates(for input: [Int]) -> Int
    /// The leaves this layer runs, in execution order, each with its input shape and whether it runs
    /// at all (a projection shortcut with residuals off does not). A leaf traces itself; a block whose
    /// children do not simply run one after another (a shortcut, branches) says how they do.
    func trace(_ input: [Int]) -> [LayerTrace]
    /// What it is, for the summary: `Conv2d(1→6, 5×5)`.
    var kind: String { get }
    func forward(_ x: Tensor, training: Bool) -> Tensor
    /// Returns dL/dx, or nil when `needsInputGradient` is false (the network's first layer). May
    /// overwrite `dy` (in-place layers, as PyTorch's inplace=True): the caller must not read it again.
    func backward(_ dy: Tensor) -> Tensor?
    var needsInputGradient: Bool { get set }
}

/// One leaf of a layer's trace: the leaf, the shape it reads for one sample, whether it runs.
public struct LayerTrace {
    public let layer: Layer
    public let input: [Int]
    public let used: Bool
    public init(_ layer: Layer, input: [Int], used: Bool = true) { self.layer = layer; self.input = input; self.used = used }
    public var output: [Int] { layer.outputShape(for: input) }
}

/// A block whose shortcut connections can be switched off and on at run time (ResNet's blocks):
/// what `Network.residual` and the dashboard's `r` key look for.
public protocol ResidualSwitch: Layer {
    var residual: Bool { get set }
}

extension Layer {
    public var children: [Layer] { [] }
    public var parameters: [Parameter] { children.flatMap(\.parameters) }
    public var state: [StateEntry] {
        children.isEmpty ? parameters.map { StateEntry(name: $0.name, tensor: $0.value, isCounter: false, layout: $0.layout) }
                         : children.flatMap(\.state)
    }
    /// Elementwise layers keep the shape; a block's output is its last leaf's.
    public func outputShape(for input: [Int]) -> [Int] {
        guard !children.isEmpty else { return input }
        return trace(input).last(where: \.used)?.output ?? input
    }
    public func multiplyAccumulates(for input: [Int]) -> Int { 0 }
    /// A leaf runs itself; a block by default runs its children one after another.
    public func trace(_ input: [Int]) -> [LayerTrace] {
        guard !children.isEmpty else { return [LayerTrace(self, input: input)] }
        var shape = input
        return children.flatMap { child -> [LayerTrace] in
            let t = child.trace(shape)
            shape = t.last(where: \.used)?.output ?? shape
            return t
        }
    }
    public var kind: String { "\(type(of: self))" }
    /// Every leaf under this layer (itself if a leaf), in state_dict order.
    public var leaves: [Layer] { children.isEmpty ? [self] : children.flatMap(\.leaves) }
    /// This layer and every layer under it, depth first.
    public var subtree: [Layer] { [self] + children.flatMap(\.subtree) }
}

/// Joins a module prefix and a member name the way PyTorch does.
func qualified(_ prefix: String, _ member: String) -> String { prefix.isEmpty ? member : prefix + "." + member }
