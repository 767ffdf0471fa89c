import Foundation

/// `--preset NAME`: the options of a textbook experiment, for any model (options given as well
/// override them). Each is plain data, printed by `--help` as it is applied.
public struct TrainPreset: Sendable {
    public let name: String
    /// What the tutorial did, in a few words (for --help and the README's table).
    public let summary: String
    public var epochs: Int? = nil, batchSize: Int? = nil, lr: Float? = nil, optimizer: String? = nil
    public var momentum: Float? = nil, weightDecay: Float? = nil
    public var schedule: String? = nil, milestones: [Double]? = nil, gamma: Float? = nil
    public var trainLimit: Int? = nil, valSize: Int? = nil, logEvery: Int? = nil
    public var augment: [String]? = nil
    /// The side images are resized to: the model's natural input side, at most this.
    public var maxImageSize: Int? = nil

    public static let all: [TrainPreset] = [
        TrainPreset(name: "textbook", summary: "the residual experiment at a small scale",
                    epochs: 5, batchSize: 64, lr: 0.005, optimizer: "sgd", schedule: "constant",
                    trainLimit: 1000, valSize: 200, logEvery: 5),
        TrainPreset(name: "cifar-momentum", summary: "ResNet-50 on CIFAR-10: Momentum 0.01/0.9, crop 4 + flip",
                    epochs: 10, batchSize: 32, lr: 0.01, optimizer: "momentum", momentum: 0.9, schedule: "constant",
                    augment: ["crop", "flip"]),
        // PyTorch's transfer-learning tutorial's StepLR(step_size=7, gamma=0.1), with Adam.
        TrainPreset(name: "folder-adam", summary: "an image folder: Adam, flip, LR ×0.1 at epoch 7",
                    epochs: 10, batchSize: 32, lr: 0.001, optimizer: "adam", schedule: "step", milestones: [7], gamma: 0.1,
                    augment: ["flip"], maxImageSize: 224),
        TrainPreset(name: "two-class", summary: "LeNet/AlexNet/VGG/GoogLeNet/ResNet side by side on a 2-class folder",
                    epochs: 10, batchSize: 32, lr: 0.0001, optimizer: "adam", schedule: "constant",
                    augment: ["flip"], maxImageSize: 64),
        // He et al. 2016 §4.2: batch 128 on a 45k/5k split (351 steps per epoch), LR 0.1 divided by 10 at
        // 32k and 48k iterations (32000/351, 48000/351 epochs), ended at 64k (182 epochs: 63,882 steps).
        TrainPreset(name: "he2016", summary: "He et al.'s CIFAR-10 plain/ResNet-20…110: SGD 0.1/0.9, wd 1e-4, ÷10 at 32k/48k iterations",
                    epochs: 182, batchSize: 128, lr: 0.1, optimizer: "momentum", momentum: 0.9, weightDecay: 0.0001,
                    schedule: "step", milestones: [91.1681, 136.7521], gamma: 0.1, valSize: 5000,
                    augment: ["crop", "flip"]),
    ]

    public static var names: [String] { all.map(\.name) }
    public static func named(_ name: String) -> TrainPreset? { all.first { $0.name == name } }

    /// Sets the preset's options on `c` (a model's defaults).
    public func apply(to c: inout TrainConfig) {
        if let epochs { c.epochs = epochs }
        if let batchSize { c.batchSize = batchSize }
        if let lr { c.lr = lr }
        if let optimizer { c.optimizer = optimizer }
        if let momentum { c.momentum = momentum }
        if let weightDecay { c.weightDecay = weightDecay }
        if let schedule { c.schedule = schedule; c.milestones = milestones; c.gamma = gamma }
        if let trainLimit { c.trainLimit = trainLimit }
        if let valSize { c.valSize = valSize }
        if let logEvery { c.logEvery = logEvery }
        if let augment { c.augment = augment }
        if let maxImageSize, let side = ModelZoo.spec(c.model)?.input.last { c.imageSize = min(side, maxImageSize) }
    }

    /// The options it sets, as command-line options ("--epochs 10 --batch-size 32 ...").
    public var options: String {
        var o: [String] = []
        if let epochs { o.append("--epochs \(epochs)") }
        if let batchSize { o.append("--batch-size \(batchSize)") }
        if let optimizer { o.append("--optimizer \(optimizer)") }
        if let lr { o.append("--lr \(formatLR(lr))") }
        if let momentum { o.append("--momentum \(formatLR(momentum))") }
        if let weightDecay { o.append("--weight-decay \(formatLR(weightDecay))") }
        if let schedule { o.append("--schedule \(schedule)") }
        if let milestones { o.append("--milestones " + milestones.map(formatEpochs).joined(separator: ",")) }
        if let gamma { o.append("--gamma \(formatLR(gamma))") }
        if let trainLimit { o.append("--train-limit \(trainLimit)") }
        if let valSize { o.append("--val-size \(valSize)") }
        if let logEvery { o.append("--log-every \(logEvery)") }
        if let augment { o.append("--augment " + augment.joined(separator: ",")) }
        if let maxImageSize { o.append("--image-size \(maxImageSize) (or the model's input, if smaller)") }
        return o.joined(separator: " ")
    }
}
