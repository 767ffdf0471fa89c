import Foundation
import Kernels

/// A model as a sequence of timed units (a ResNet block counts as one unit), with the state_dict view
/// that checkpoints and the PyTorch fixtures use.
public final class Network {
    public let name: String
    public let units: [Layer]
    public let classes: Int
    /// Seconds spent in each unit's last forward and backward pass.
    public private(set) var forwardSeconds: [Double]
    public private(set) var backwardSeconds: [Double]

    init(name: String, units: [Layer], classes: Int) {
        self.name = name; self.units = units; self.classes = classes
        forwardSeconds = Array(repeating: 0, count: units.count)
        backwardSeconds = forwardSeconds
        units.first?.needsInputGradient = false
    }

    public var parameters: [Parameter] { units.flatMap(\.parameters) }
    public var state: [StateEntry] { units.flatMap(\.state) }
    public var parameterCount: Int { parameters.reduce(0) { $0 + $1.value.count } }

    /// Whether the model has residual connections that can be switched (ResNet), and their state.
    public var residual: Bool? {
        get { units.lazy.compactMap { $0 as? BasicBlock }.first?.residual }
        set {
            guard let newValue else { return }
            for case let block as BasicBlock in units { block.residual = newValue }
        }
    }

    public func forward(_ x: Tensor, training: Bool) -> Tensor {
        var h = x
        for (i, unit) in units.enumerated() {
            let t0 = monotonicSeconds()
            h = unit.forward(h, training: training)
            forwardSeconds[i] = monotonicSeconds() - t0
        }
        return h
    }

    /// Back-propagates dL/dlogits, leaving every parameter's gradient in `grad`.
    public func backward(_ dLogits: Tensor) {
        var d: Tensor? = dLogits
        for i in units.indices.reversed() {
            let t0 = monotonicSeconds()
            d = units[i].backward(d!)
            backwardSeconds[i] = monotonicSeconds() - t0
        }
    }
}

public func monotonicSeconds() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) * 1e-9
}
