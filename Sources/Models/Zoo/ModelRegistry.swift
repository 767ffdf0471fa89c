import Foundation
import Kernels

/// One model nntop can build: a new architecture is a file in Zoo/ with its builder plus one line in
/// `ModelZoo.specs`; summary, checkpoints, the layer panel and the residual toggle work from the
/// network it builds (its layer tree), never from its name.
public struct ModelSpec: @unchecked Sendable {
    public let name: String
    /// Builds the layers (weights not yet initialised) for `inChannels` input channels and `classes`
    /// outputs, shortcuts on or off when the model has them.
    public let build: (_ inChannels: Int, _ classes: Int, _ residual: Bool) -> Network
    /// The input it was designed for, C×H×W (what `nntop summary` shows unless told otherwise).
    public let input: [Int]
    /// Training defaults that reach the README's accuracies (a placeholder where none was tuned yet).
    public let recipe: Recipe
    /// Whether its shortcuts can be switched off (`--no-residual`, the `r` key): what the built
    /// network's `residual != nil` says, known here without building it (for run folders' configs).
    public let hasResidualSwitch: Bool
}

/// A model's default training options (TrainConfig.defaults(for:)).
public struct Recipe: Sendable {
    public var epochs = 5
    public var lr: Float = 0.05
    public var logEvery = 100
    public init(epochs: Int = 5, lr: Float = 0.05, logEvery: Int = 100) {
        self.epochs = epochs; self.lr = lr; self.logEvery = logEvery
    }
    /// Short runs for the deep ResNets, whose steps are slow (not tuned: a placeholder).
    public static let resnet = Recipe(epochs: 1, lr: 0.05, logEvery: 20)
}

/// The models nntop trains, built exactly as ../shared/reference/torch_models.py defines them.
public enum ModelZoo {
    public static let specs: [ModelSpec] = [
        ModelSpec(name: "lenet5", build: { c, k, _ in lenet5(inChannels: c, classes: k) },
                  input: [1, 32, 32], recipe: Recipe(), hasResidualSwitch: false),
        ModelSpec(name: "resnet18", build: { c, k, r in resnet18(inChannels: c, classes: k, residual: r) },
                  input: [1, 32, 32], recipe: .resnet, hasResidualSwitch: true),
        ModelSpec(name: "alexnet", build: { c, k, _ in alexnet(inChannels: c, classes: k) },
                  input: [3, 224, 224], recipe: .resnet, hasResidualSwitch: false),
    ] + [34, 50, 101, 152].map { d in
        ModelSpec(name: "resnet\(d)", build: { c, k, r in resnet(depth: d, inChannels: c, classes: k, residual: r) },
                  input: [3, 224, 224], recipe: .resnet, hasResidualSwitch: true)
    } + [20, 32, 44, 56, 110].map { d in
        ModelSpec(name: "resnet\(d)-cifar", build: { c, k, r in cifarResNet(depth: d, inChannels: c, classes: k, residual: r) },
                  input: [3, 32, 32], recipe: .resnet, hasResidualSwitch: true)
    } + [11, 13, 16, 19].flatMap { d in [false, true].map { bn in
        ModelSpec(name: "vgg\(d)" + (bn ? "-bn" : ""), build: { c, k, _ in vgg(d, batchNorm: bn, inChannels: c, classes: k) },
                  input: [3, 224, 224], recipe: .resnet, hasResidualSwitch: false)
    } } + [
        ModelSpec(name: "googlenet", build: { c, k, _ in googlenet(inChannels: c, classes: k) },
                  input: [3, 224, 224], recipe: .resnet, hasResidualSwitch: false),
    ]

    public static var names: [String] { specs.map(\.name) }

    public static func spec(_ name: String) -> ModelSpec? { specs.first { $0.name == name } }

    /// Builds a model with PyTorch's default initialisation drawn from `seed`.
    public static func make(_ name: String, inChannels: Int = 1, classes: Int = 10, residual: Bool = true,
                            seed: UInt64 = 0) -> Network? {
        guard let spec = spec(name) else { return nil }
        let net = spec.build(inChannels, classes, residual)
        var rng = SeededRandom(seed: seed)
        initialize(net, rng: &rng)
        for case let d as Dropout in net.units.flatMap(\.subtree) { d.seed = seed }
        // Batch norm needs the whole batch's statistics: only models without it are split across cores.
        if !net.leaves.contains(where: { $0 is BatchNorm2d }) {
            net.makeReplica = { make(name, inChannels: inChannels, classes: classes, residual: residual, seed: seed)! }
        }
        return net
    }

    /// PyTorch's defaults: conv and linear weights kaiming_uniform(a=√5), i.e. U(±1/√fan_in), biases
    /// U(±1/√fan_in); batch norm weight 1, bias 0 (set by BatchNorm2d itself).
    static func initialize(_ net: Network, rng: inout SeededRandom) {
        for layer in net.leaves {
            let (w, b): (Parameter?, Parameter?)
            if let c = layer as? Conv2d { (w, b) = (c.weight, c.bias) }
            else if let l = layer as? Linear { (w, b) = (l.weight, l.bias) }
            else { continue }
            guard let w else { continue }
            let bound = 1 / Float(w.value.count / w.value.shape[0]).squareRoot()
            // Drawn in PyTorch's order, whatever the layout in memory, so a seed gives the same model.
            w.layout.setTorchOrder((0..<w.value.count).map { _ in rng.uniform(-bound, bound) }, into: w.value)
            if let b { for i in 0..<b.value.count { b.value[i] = rng.uniform(-bound, bound) } }
        }
    }

    /// Every leaf layer, in state_dict order (inside blocks too).
    public static func allLayers(_ net: Network) -> [Layer] { net.leaves }
}
