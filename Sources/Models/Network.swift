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
        plan = FusionPlan(units)
        for layer in units.flatMap(\.subtree) { (layer as? GradientBufferUser)?.gradientBuffers = gradientBuffers }
    }

    /// The input-gradient buffers every layer of this network takes its dx from (one set per replica).
    public let gradientBuffers = GradientBuffers()

    public var parameters: [Parameter] { units.flatMap(\.parameters) }
    public var state: [StateEntry] { units.flatMap(\.state) }
    public var parameterCount: Int { parameters.reduce(0) { $0 + $1.value.count } }

    /// Every leaf layer, in state_dict order (inside blocks too).
    public var leaves: [Layer] { units.flatMap(\.leaves) }

    /// The blocks whose shortcuts can be switched, anywhere in the layer tree.
    private lazy var switches: [ResidualSwitch] = units.flatMap(\.subtree).compactMap { $0 as? ResidualSwitch }

    /// Whether the model has residual connections that can be switched (nil: it has none), and their state.
    public var residual: Bool? {
        get { switches.first?.residual }
        set {
            guard let newValue else { return }
            for block in switches { block.residual = newValue }
        }
    }

    /// The dropout layers anywhere in the tree (their masks follow `step`).
    private lazy var dropouts: [Dropout] = units.flatMap(\.subtree).compactMap { $0 as? Dropout }

    /// The training step the next `trainStep` or training `forward` draws its dropout masks for (the
    /// Trainer sets it before each step; a resumed run sets the step it resumes at).
    public var step = 0 {
        didSet { for d in dropouts { d.step = UInt64(step) } }
    }

    /// The batch index of the first sample this network sees (a replica's slice), for dropout's positions.
    private func setFirstSample(_ n: Int) { for d in dropouts { d.firstSample = n } }

    /// The fused fast paths, found once from the unit list.
    private let plan: FusionPlan
    private var reluBeforePool: [Bool] { plan.reluBeforePool }

    /// Set when the last forward folded an eval-mode batch norm into the conv before it (the batch
    /// norm layer then holds nothing for a backward pass): its input, for `backward` to rerun.
    private var foldedInput: Tensor?
    /// The units the last forward passed over with `Linear.forward(repeating:)` (pool to the linear layer).
    private(set) var repeatedSpan: Range<Int>?

    public func forward(_ x: Tensor, training: Bool) -> Tensor { forward(x, training: training, fold: !training) }

    private func forward(_ x: Tensor, training: Bool, fold: Bool) -> Tensor {
        var h = x
        var i = 0
        foldedInput = nil; repeatedSpan = nil; predicted = predicting
        while i < units.count {
            let t0 = monotonicSeconds()
            if let f = plan.repeatingPool(at: i, training: training), h.shape.count == 4, h.shape[2] == 1, h.shape[3] == 1 {
                // The pool would only repeat each value: the linear layer takes them once. Its time shows
                // as the linear layer's; the pool's, flatten's (and an evaluation dropout's) as 0.
                let compact = Tensor(view: h, offset: 0, shape: [h.shape[0], h.shape[1]])
                h = f.linear.forward(repeating: compact, times: f.repeats, inputShape: h.shape)
                for j in i..<f.linearIndex { forwardSeconds[j] = 0 }
                repeatedSpan = i..<f.linearIndex
                i = f.linearIndex
            } else if fold, let f = evalFold(units, at: i) {
                // Inference: the batch norm (and ReLU) as the conv's epilogue (ResNet's stem, VGG-bn; the
                // blocks fold their own). The time is the conv's; the others show as 0.
                h = f.conv.forward(h, epilogue: f.epilogue)
                keep(x, in: &foldedInput)
                forwardSeconds[i] = monotonicSeconds() - t0
                for j in (i + 1)..<(i + f.count) { forwardSeconds[j] = 0 }
                i += f.count
                continue
            } else if reluBeforePool[i], let pool = units[i + 1] as? MaxPool2d {
                forwardSeconds[i] = 0
                // After a fold, `backward` reruns the whole forward pass first: no indices needed now.
                h = pool.forwardAfterReLU(h, training: training, recordIndices: foldedInput == nil && !predicting)
                i += 1
            } else {
                h = units[i].forward(h, training: training)
            }
            forwardSeconds[i] = monotonicSeconds() - t0
            i += 1
        }
        return h
    }

    /// Builds another instance of this architecture (set by ModelZoo): the replicas `trainStep` runs.
    var makeReplica: (() -> Network)?
    /// Other instances sharing this network's weights (not its gradients or buffers), one per extra core.
    private var replicas: [Network] = []
    /// (this network's parameter, the replicas' same parameters), in `parameters` order.
    private var parameterGroups: [(Parameter, [Parameter])] = []
    private var slices: [(x: Tensor, lo: Int, hi: Int)] = []
    private weak var slicedInput: Tensor?
    private var sliceResults = UnsafeMutablePointer<CrossEntropyResult>.allocate(capacity: 64)
    private var logitsGradient: Tensor?, probabilities: Tensor?

    deinit { sliceResults.deallocate() }

    /// Parameters above which `splitCount` keeps the batch whole.
    nonisolated(unsafe) static var largestSplitModel = 4_000_000

    /// How many slices `trainStep` cuts a batch of `batch` into. Only models without batch norm are
    /// split (a batch norm would see half-batch statistics, which PyTorch's model does not), and only
    /// with slices big enough to keep a core busy: LeNet-5's ops are too short to pay for a fork/join
    /// each (BENCHMARKS.md has their times), so one fork/join per step beats one per op.
    /// Not models whose weights are large: each replica holds a gradient of every parameter (AlexNet's
    /// 57 M: 228 MB more than PyTorch's whole run), and their wide layers split well op by op.
    func splitCount(_ batch: Int) -> Int {
        guard makeReplica != nil, !Parallel.isSerial, parameterCount <= Network.largestSplitModel else { return 1 }
        return max(1, min(Parallel.maxThreads, batch / 16, 64))
    }

    /// One training step's forward, mean softmax cross-entropy and backward over a batch, leaving
    /// every parameter's gradient (of the batch's mean loss) in `grad`. Models that can be split run
    /// each slice of the batch through a replica on its own core and add the replicas' gradients.
    public func trainStep(_ x: Tensor, labels: UnsafePointer<Int32>) -> CrossEntropyResult {
        let b = x.shape[0], parts = splitCount(b)
        setFirstSample(0)
        guard parts > 1 else { return sliceStep(x, labels, gradientBatch: b) }
        prepareReplicas(parts - 1)
        for (t, r) in replicas.enumerated() { r.step = step; r.setFirstSample(b * (t + 1) / parts) }
        if slicedInput !== x || slices.count != parts {
            let per = x.count / b
            slices = (0..<parts).map { t in
                let lo = b * t / parts, hi = b * (t + 1) / parts
                return (Tensor(view: x, offset: lo * per, shape: [hi - lo] + x.shape.dropFirst()), lo, hi)
            }
            slicedInput = x
        }
        let results = sliceResults, slices = slices, replicas = replicas
        Parallel.run(parts) { t in
            let net = t == 0 ? self : replicas[t - 1], s = slices[t]
            results[t] = Parallel.serial { net.sliceStep(s.x, labels + s.lo, gradientBatch: b) }
        }
        // Gradients of the whole batch's mean (each slice's were divided by b already), each core
        // adding its share of every tensor.
        let groups = parameterGroups
        Parallel.run(parts) { t in
            Parallel.serial {
                for (mine, theirs) in groups {
                    let n = mine.grad.count, lo = n * t / parts, hi = n * (t + 1) / parts
                    for other in theirs { addInPlace(mine.grad.data + lo, other.grad.data + lo, count: hi - lo) }
                }
            }
        }
        var loss = 0.0, correct = 0
        for t in 0..<parts {
            loss += Double(results[t].loss) * Double(slices[t].hi - slices[t].lo)
            correct += results[t].correct
        }
        return CrossEntropyResult(loss: Float(loss / Double(b)), correct: correct)
    }

    /// Eval-mode logits of a batch: split across cores like `trainStep` when the model allows it. The
    /// layers keep nothing for a backward pass: their outputs come from the network's `ActivationArena` and
    /// go back to it once read, leaving the training step's buffers alone, so `backward` may not follow
    /// (it needs `forward(_:training:)`).
    public func predict(_ x: Tensor) -> Tensor {
        let b = x.shape[0], parts = splitCount(b)
        guard parts > 1 else { return activations.activate { forward(x, training: false) } }
        prepareReplicas(parts - 1)
        let per = x.count / b
        let out = Tensor.reuse(predictions, [b, classes]); predictions = out
        let replicas = replicas
        Parallel.run(parts) { t in
            let net = t == 0 ? self : replicas[t - 1], lo = b * t / parts, hi = b * (t + 1) / parts
            let slice = Tensor(view: x, offset: lo * per, shape: [hi - lo] + x.shape.dropFirst())
            let logits = Parallel.serial { net.activations.activate { net.forward(slice, training: false) } }
            (out.data + lo * classes).update(from: logits.data, count: (hi - lo) * classes)
        }
        return out
    }
    private var predictions: Tensor?
    /// The activation buffers `predict` lends its layers (each replica has its own).
    public let activations = ActivationArena()
    /// Whether the last forward pass was `predict`'s, which leaves nothing for `backward`.
    private var predicted = false

    private func sliceStep(_ x: Tensor, _ labels: UnsafePointer<Int32>, gradientBatch: Int) -> CrossEntropyResult {
        let logits = forward(x, training: true)
        let d = Tensor.reuse(logitsGradient, logits.shape); logitsGradient = d
        let p = Tensor.reuse(probabilities, logits.shape); probabilities = p
        let ce = softmaxCrossEntropy(logits: logits.data, labels: labels, batch: x.shape[0], classes: classes,
                                     probs: p.data, dLogits: d.data, gradientBatch: gradientBatch)
        backward(d)
        return ce
    }

    private func prepareReplicas(_ count: Int) {
        guard replicas.count < count, let makeReplica else { return }
        while replicas.count < count {
            let r = makeReplica()
            for (mine, theirs) in zip(parameters, r.parameters) { theirs.value = mine.value }
            replicas.append(r)
        }
        let others = replicas.map(\.parameters)
        parameterGroups = parameters.enumerated().map { i, p in (p, others.map { $0[i] }) }
    }

    /// Back-propagates dL/dlogits, leaving every parameter's gradient in `grad`.
    public func backward(_ dLogits: Tensor) {
        precondition(!predicted, "backward after predict: its layers kept nothing for it")
        if let x = foldedInput { _ = forward(x, training: false, fold: false) }
        var d: Tensor? = dLogits
        for i in units.indices.reversed() {
            if reluBeforePool[i] { backwardSeconds[i] = 0; continue }   // done by the pool's backward
            if repeatedSpan?.contains(i) == true { backwardSeconds[i] = 0; continue }   // done by the linear layer's
            let t0 = monotonicSeconds()
            // A first conv, ReLU and max pool: the conv's gradients straight from the pool's (the time
            // shows as the conv's).
            if let f = plan.inputConvReLUPool, i == f.pool, f.conv.backward(throughPool: d!, f.poolLayer) {
                backwardSeconds[i] = 0
                backwardSeconds[f.convIndex] = monotonicSeconds() - t0
                gradientBuffers.give(d)
                return
            }
            let next = units[i].backward(d!)
            // The gradient just read goes back for the layers below, unless the unit returned it (in place).
            gradientBuffers.give(d, keeping: [next])
            d = next
            backwardSeconds[i] = monotonicSeconds() - t0
        }
        gradientBuffers.give(d)
    }
}

/// Where a network's units allow a fused fast path, found once from the unit list (never from a
/// model's name): each path's condition is what makes it compute the same floats as the layers apart.
struct FusionPlan {
    /// A ReLU followed by a max pool: the pool applies the ReLU to its own output
    /// (MaxPool2d.forwardAfterReLU), saving two passes over the larger tensor; the ReLU's time is 0.
    let reluBeforePool: [Bool]
    /// The input conv (it needs no input gradient), a ReLU and a max pool: the conv's weight gradient
    /// straight from the pool's (Conv2d.backward(throughPool:)), ending the backward pass there.
    let inputConvReLUPool: (conv: Conv2d, convIndex: Int, poolLayer: MaxPool2d, pool: Int)?

    /// An adaptive average pool to more than one cell, a flatten and a linear layer (in evaluation also with
    /// a dropout before the linear layer, then the identity): on a 1×1 map the pool only repeats each value,
    /// and the linear layer can take the values once (Linear.forward(repeating:)); the map's size is
    /// known only in the forward pass, which checks it.
    let poolLinear: [Int: (linear: Linear, linearIndex: Int, repeats: Int, throughDropout: Bool)]

    func repeatingPool(at i: Int, training: Bool) -> (linear: Linear, linearIndex: Int, repeats: Int)? {
        guard let f = poolLinear[i], !(training && f.throughDropout) else { return nil }
        return (f.linear, f.linearIndex, f.repeats)
    }

    init(_ units: [Layer]) {
        var poolLinear: [Int: (linear: Linear, linearIndex: Int, repeats: Int, throughDropout: Bool)] = [:]
        for i in units.indices {
            guard let pool = units[i] as? AdaptiveAvgPool2d, pool.outH * pool.outW > 1, i + 2 < units.count,
                  units[i + 1] is Flatten else { continue }
            if let linear = units[i + 2] as? Linear {
                poolLinear[i] = (linear, i + 2, pool.outH * pool.outW, false)
            } else if units[i + 2] is Dropout, i + 3 < units.count, let linear = units[i + 3] as? Linear {
                poolLinear[i] = (linear, i + 3, pool.outH * pool.outW, true)
            }
        }
        self.poolLinear = poolLinear
        reluBeforePool = units.indices.map { i in units[i] is ReLU && i + 1 < units.count && units[i + 1] is MaxPool2d }
        let relus = reluBeforePool
        inputConvReLUPool = units.indices.lazy.compactMap { i in
            guard let conv = units[i] as? Conv2d, !conv.needsInputGradient, i + 2 < units.count, relus[i + 1],
                  let pool = units[i + 2] as? MaxPool2d else { return nil }
            return (conv, i, pool, i + 2)
        }.first
    }
}

public func monotonicSeconds() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) * 1e-9
}
