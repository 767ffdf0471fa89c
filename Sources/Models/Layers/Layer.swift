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

    public init(name: String, shape: [Int]) {
        self.name = name
        value = Tensor(shape: shape)
        grad = Tensor(shape: shape)
    }
}

/// One entry of the model's state, in PyTorch's state_dict order: parameters and buffers.
public struct StateEntry {
    public let name: String
    public let tensor: Tensor
    /// Stored as int64 in checkpoints (BatchNorm's num_batches_tracked); held as a float here.
    public let isCounter: Bool
}

/// A layer with an explicit forward and backward (llm.c / darknet style): forward caches what backward
/// needs, backward overwrites its parameters' gradients and returns the gradient of its input.
public protocol Layer: AnyObject {
    var name: String { get }
    /// Parameters in state_dict order.
    var parameters: [Parameter] { get }
    /// Parameters and buffers in state_dict order.
    var state: [StateEntry] { get }
    func forward(_ x: Tensor, training: Bool) -> Tensor
    /// Returns dL/dx, or nil when `needsInputGradient` is false (the network's first layer). May
    /// overwrite `dy` (in-place layers, as PyTorch's inplace=True): the caller must not read it again.
    func backward(_ dy: Tensor) -> Tensor?
    var needsInputGradient: Bool { get set }
}

extension Layer {
    public var state: [StateEntry] { parameters.map { StateEntry(name: $0.name, tensor: $0.value, isCounter: false) } }
}

/// Joins a module prefix and a member name the way PyTorch does.
func qualified(_ prefix: String, _ member: String) -> String { prefix.isEmpty ? member : prefix + "." + member }
