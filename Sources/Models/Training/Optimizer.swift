import Foundation
import Kernels

public enum OptimizerKind: String, CaseIterable {
    case sgd, momentum, nesterov, adam
}

/// PyTorch's update rules (torch.optim.SGD with dampening 0, torch.optim.Adam), with L2 weight decay
/// added to the gradient. Parameters whose layer is bypassed (`inUse == false`) are skipped, as PyTorch
/// skips parameters whose gradient is None.
public final class Optimizer {
    public let kind: OptimizerKind
    public var lr: Float
    public let momentum: Float, weightDecay: Float
    public let beta1: Float = 0.9, beta2: Float = 0.999, eps: Float = 1e-8
    public let parameters: [Parameter]
    /// SGD with momentum: the momentum buffer. Adam: first and second moments. Zero-initialised, which
    /// gives the same first update as PyTorch's buffer = first gradient.
    public let buffers: [[Tensor]]
    /// Updates applied to each parameter (Adam's bias correction counts per parameter, as PyTorch's `step`).
    public var steps: [Int]

    public init(_ kind: OptimizerKind, parameters: [Parameter], lr: Float, momentum: Float = 0.9, weightDecay: Float = 0) {
        self.kind = kind; self.lr = lr; self.momentum = momentum; self.weightDecay = weightDecay
        self.parameters = parameters
        let perParameter = kind == .sgd ? 0 : kind == .adam ? 2 : 1
        buffers = parameters.map { p in (0..<perParameter).map { _ in Tensor(shape: p.value.shape) } }
        steps = Array(repeating: 0, count: parameters.count)
    }

    /// Set before `step()` to have it gather each parameter's sums of squares (gradient, weights before
    /// the update, update applied) into `measured`, from the values the update reads anyway.
    public var measure = false
    /// Per parameter, the sums of the last measured step (all zero for a parameter not in use then).
    public private(set) var measured: [UpdateSums] = []
    /// Partial sums per (thread chunk, parameter) of a measured SGD step.
    private var partialSums: [UpdateSums] = []
    /// Per parameter, Σw² over the elements outside its updated ranges, which steps leave as they are
    /// (forgotten when weights and buffers are replaced: `buffersReplaced`).
    private var idleWeightSquares: [(ranges: [Range<Int>], sum: Double)?] = []

    public func step() {
        for i in parameters.indices where parameters[i].inUse { steps[i] += 1 }
        if measure && measured.count != parameters.count { measured = Array(repeating: UpdateSums(), count: parameters.count) }
        if kind != .adam {
            sgdStep()
            return
        }
        guard measure else { Parallel.forEach(parameters.count) { i in _ = adamUpdate(i) }; return }
        measured.withUnsafeMutableBufferPointer { out in
            let out = out
            Parallel.forEach(parameters.count) { i in out[i] = adamUpdate(i) }
        }
    }

    /// SGD and momentum: one SIMD pass (Kernels/Optimizers.swift) over each core's share of every
    /// parameter, so the whole update is one fork/join (LeNet's 10 tensors, ResNet's 62). With `measure`
    /// set, each chunk's sums of squares are kept apart and added once the fork/join is over; idle ranges
    /// are not updated, and their weights' squares are added so that the weight norm covers the whole tensor.
    private func sgdStep() {
        let ranges = parameters.indices.map { parameters[$0].inUse ? updatedRanges($0) : [] }
        let total = ranges.reduce(0) { $0 + $1.reduce(0) { $0 + $1.count } }
        let chunks = Parallel.chunkCount(total, grain: 1 << 14), n = parameters.count
        let measure = self.measure
        if measure && partialSums.count != chunks * n { partialSums = Array(repeating: UpdateSums(), count: chunks * n) }
        partialSums.withUnsafeMutableBufferPointer { partial in
            let partial = partial
            Parallel.run(chunks) { t in
                Parallel.serial {
                    for (i, p) in parameters.enumerated() {
                        var s = UpdateSums()
                        for r in ranges[i] {
                            let lo = r.lowerBound + r.count * t / chunks, hi = r.lowerBound + r.count * (t + 1) / chunks
                            let buffer = kind == .sgd ? nil : buffers[i][0].data + lo
                            if measure {
                                s += sgdUpdateMeasured(weights: p.value.data + lo, grads: p.grad.data + lo, buffer: buffer,
                                                       count: hi - lo, lr: lr, momentum: momentum, weightDecay: weightDecay,
                                                       nesterov: kind == .nesterov)
                            } else {
                                sgdUpdate(weights: p.value.data + lo, grads: p.grad.data + lo, buffer: buffer,
                                          count: hi - lo, lr: lr, momentum: momentum, weightDecay: weightDecay,
                                          nesterov: kind == .nesterov)
                            }
                        }
                        if measure { partial[t * n + i] = s }
                    }
                }
            }
        }
        guard measure else { return }
        for (i, p) in parameters.enumerated() {
            var s = UpdateSums()
            for t in 0..<chunks { s += partialSums[t * n + i] }
            if p.inUse, ranges[i].count != 1 || ranges[i].first?.count != p.value.count {
                // The elements outside the updated ranges (idle taps): no gradient, no update, but weights,
                // which no step changes: summed once (ResNet-18's layer4 at 32×32 is 62 % idle, 14 MB to read).
                if idleWeightSquares.count != n { idleWeightSquares = Array(repeating: nil, count: n) }
                if let c = idleWeightSquares[i], c.ranges == ranges[i] { s.weight += c.sum } else {
                    var start = 0, sum = 0.0
                    for r in ranges[i] {
                        if r.lowerBound > start { sum += sumOfSquares(p.value.data + start, count: r.lowerBound - start) }
                        start = r.upperBound
                    }
                    if start < p.value.count { sum += sumOfSquares(p.value.data + start, count: p.value.count - start) }
                    idleWeightSquares[i] = (ranges[i], sum)
                    s.weight += sum
                }
            }
            measured[i] = s
        }
    }

    /// Per parameter, the idle ranges (`Parameter.idle`) whose momentum was found to be zero, and the
    /// ranges left to update (worked out once, not every step).
    private var quiet: [(idle: [Range<Int>], active: [Range<Int>])?] = []

    /// The elements of parameter i an SGD step can change. Where the gradient is zero by construction
    /// (a conv's idle taps), there is no weight decay and the momentum is zero, the update leaves weight
    /// and momentum exactly as they are: ResNet-18's layer4 at 32×32 input is 62 % of its weights.
    private func updatedRanges(_ i: Int) -> [Range<Int>] {
        let p = parameters[i], n = p.value.count
        guard weightDecay == 0, !p.idle.isEmpty else { return [0..<n] }
        if quiet.count != parameters.count { quiet = Array(repeating: nil, count: parameters.count) }
        if let q = quiet[i], q.idle == p.idle { return q.active }
        if kind != .sgd {
            let b = buffers[i][0].data
            // Checked again each step until it holds (a loaded momentum decays to exactly zero).
            guard p.idle.allSatisfy({ r in r.allSatisfy { b[$0] == 0 } }) else { return [0..<n] }
        }
        var active: [Range<Int>] = [], start = 0
        for r in p.idle.sorted(by: { $0.lowerBound < $1.lowerBound }) {
            if r.lowerBound > start { active.append(start..<r.lowerBound) }
            start = max(start, r.upperBound)
        }
        if start < n { active.append(start..<n) }
        quiet[i] = (p.idle, active)
        return active
    }

    /// Called when the buffers were overwritten (a checkpoint loaded): momentum on idle elements is
    /// checked again before they are skipped.
    func buffersReplaced() { quiet = []; idleWeightSquares = [] }

    /// torch.optim.Adam on parameter i (SGD and momentum go through `sgdUpdate` in `step`).
    private func adamUpdate(_ i: Int) -> UpdateSums {
        let p = parameters[i]
        guard p.inUse else { return UpdateSums() }
        let n = p.value.count, w = p.value.data, g = p.grad.data, wd = weightDecay
        let m = buffers[i][0].data, v = buffers[i][1].data
        let t = Float(steps[i])
        let bc1 = 1 - powf(beta1, t), bc2 = 1 - powf(beta2, t)
        let stepSize = lr / bc1, bc2Sqrt = bc2.squareRoot()
        guard measure else {
            for j in 0..<n {
                let d = g[j] + wd * w[j]
                m[j] = beta1 * m[j] + (1 - beta1) * d
                v[j] = beta2 * v[j] + (1 - beta2) * d * d
                w[j] -= stepSize * m[j] / (v[j].squareRoot() / bc2Sqrt + eps)
            }
            return UpdateSums()
        }
        var s = UpdateSums()
        for j in 0..<n {
            let wj = w[j], gj = g[j]
            let d = gj + wd * wj
            m[j] = beta1 * m[j] + (1 - beta1) * d
            v[j] = beta2 * v[j] + (1 - beta2) * d * d
            let u = stepSize * m[j] / (v[j].squareRoot() / bc2Sqrt + eps)
            w[j] = wj - u
            s.grad += Double(gj * gj); s.weight += Double(wj * wj); s.update += Double(u * u)
        }
        return s
    }
}
