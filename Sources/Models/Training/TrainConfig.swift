import Foundation

public let nntopVersion = "0.2.0"

/// Every option a training run uses (the CLI fills it; checkpoints and run folders record it).
public struct TrainConfig: Codable, Equatable {
    public var model = "lenet5"
    public var epochs = 5
    public var batchSize = 64
    public var lr: Float = 0.05
    public var optimizer = "momentum"
    public var momentum: Float = 0.9
    public var weightDecay: Float = 0
    /// "constant", "cosine" (decays the LR to 0 over the run, from whatever LR is set) or "step"
    /// (multiplies it by `gamma` at each of `milestones`): LRSchedule.swift.
    public var schedule = "cosine"
    /// The step schedule's epochs (fractional allowed) and factor; linear warmup in epochs for any
    /// schedule. Optional so that configs written before these existed still read (as none, 0.1, none).
    public var milestones: [Double]? = nil
    public var gamma: Float? = nil
    public var warmup: Double? = nil
    public var residual = true
    public var trainLimit: Int? = nil
    public var valSize = 5000
    /// Validate every N steps (0: only at each epoch's end).
    public var evalEvery = 0
    /// Progress line / snapshot history every N steps.
    public var logEvery = 100
    /// Write checkpoints/step-NNNNNN.safetensors every N steps (0: never).
    public var saveEvery = 0
    /// End the run once test accuracy reaches this percentage (checked at each evaluation).
    public var stopAtAccuracy: Double? = nil
    public var threads = ProcessInfo.processInfo.activeProcessorCount
    public var seed: UInt64 = 1
    // The data (issue 16). Optional so that configs written before these existed still read
    // (as MNIST, unaugmented); a new run records every one.
    /// mnist, fashion-mnist, cifar10, cifar100 or folder.
    public var dataset: String? = nil
    /// --image-size: the side images were resized to (nil: their stored size).
    public var imageSize: Int? = nil
    /// The per-channel normalization the run used (x = (p/255 − mean)/std): given by --mean/--std,
    /// else fixed for MNIST and CIFAR-10, else computed once from the training split.
    public var mean: [Float]? = nil
    public var std: [Float]? = nil
    /// --augment: any of "crop", "flip" (training split only); --pad: the crop's zero padding.
    public var augment: [String]? = nil
    public var pad: Int? = nil

    public var datasetName: String { dataset ?? "mnist" }
    /// The training split's augmentation (nil: none).
    public var augmentation: Augmentation? {
        let a = augment ?? []
        guard !a.isEmpty else { return nil }
        return Augmentation(crop: a.contains("crop"), flip: a.contains("flip"), pad: pad ?? 4, seed: seed)
    }

    public init() {}

    /// Per-model defaults that reach the README's accuracies: the model's recipe (ModelZoo).
    public static func defaults(for model: String) -> TrainConfig {
        var c = TrainConfig()
        c.model = model
        if let r = ModelZoo.spec(model)?.recipe { c.epochs = r.epochs; c.lr = r.lr; c.logEvery = r.logEvery }
        return c
    }

    /// Whether the model's shortcuts can be switched, so `residual` means something for this run.
    public var hasResidualSwitch: Bool { ModelZoo.spec(model)?.hasResidualSwitch ?? false }
}
