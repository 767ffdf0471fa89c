import Foundation

/// What the network is fed: C×H×W input, the class names, the per-channel normalization, and the
/// stored image size it is made from. Decided once per run (from the data and the options), then
/// carried in config.json and checkpoint metadata so `eval` and `predict` feed a checkpoint the
/// same way without being told.
public struct ImageSpec: Codable, Equatable, Sendable {
    /// mnist, fashion-mnist, cifar10, cifar100, folder (or "custom" for data built in code).
    public var dataset: String
    /// The network's input.
    public var channels: Int, height: Int, width: Int
    /// The images as stored (MNIST: 28×28, centred in the 32×32 input with background around them).
    public var storedHeight: Int, storedWidth: Int
    public var classNames: [String]
    /// Per channel, on pixels scaled to [0,1]: x = (p/255 − mean) / std.
    public var mean: [Float], std: [Float]

    public var classes: Int { classNames.count }
    public var inputShape: [Int] { [channels, height, width] }

    public init(dataset: String, channels: Int, height: Int, width: Int, storedHeight: Int, storedWidth: Int,
                classNames: [String], mean: [Float], std: [Float]) {
        self.dataset = dataset; self.channels = channels; self.height = height; self.width = width
        self.storedHeight = storedHeight; self.storedWidth = storedWidth; self.classNames = classNames
        self.mean = mean; self.std = std
    }

    /// The normalisation of ../shared/reference/torch_models.py (MNIST's training-set statistics).
    public static let mnistNormalization: (mean: [Float], std: [Float]) = ([0.1307], [0.3081])
    /// The PyTorch CIFAR-10 tutorial's per-channel values (RGB).
    public static let cifar10Normalization: (mean: [Float], std: [Float]) = ([0.4914, 0.4822, 0.4465], [0.2023, 0.1994, 0.2010])

    /// Data sets whose 28×28 digits-style images are centred in a 32×32 input, as LeNet-5 expects.
    static let paddedTo32 = ["mnist", "fashion-mnist"]

    /// The spec for `dataset` with images of `train`'s size: the fixed normalization MNIST and
    /// CIFAR-10 are known by, else per-channel statistics of `statistics` (the training split:
    /// computed only when needed). `mean`/`std` given override either.
    public static func make(dataset: String, images: ImageSet, statistics: () -> (mean: [Float], std: [Float]),
                            mean: [Float]? = nil, std: [Float]? = nil) throws -> ImageSpec {
        let c = images.channels
        var (h, w) = (images.rows, images.cols)
        if paddedTo32.contains(dataset) && h <= 32 && w <= 32 && c == 1 { (h, w) = (32, 32) }
        var norm: (mean: [Float], std: [Float])
        switch dataset {
        case "mnist" where c == 1: norm = mnistNormalization
        case "cifar10" where c == 3: norm = cifar10Normalization
        default:
            // Only computed when an override does not already give both.
            norm = mean != nil && std != nil ? (mean!, std!) : statistics()
        }
        if let mean { norm.mean = mean }
        if let std { norm.std = std }
        try checkNormalization(mean: norm.mean, std: norm.std, channels: c)
        return ImageSpec(dataset: dataset, channels: c, height: h, width: w, storedHeight: images.rows, storedWidth: images.cols,
                         classNames: images.classNames, mean: norm.mean, std: norm.std)
    }

    /// One value per channel (or one for all), std positive, all finite.
    public static func checkNormalization(mean: [Float], std: [Float], channels: Int) throws {
        guard mean.count == channels else {
            throw DataError("--mean has \(mean.count) value(s), the images have \(channels) channel(s): give one per channel")
        }
        guard std.count == channels else {
            throw DataError("--std has \(std.count) value(s), the images have \(channels) channel(s): give one per channel")
        }
        guard mean.allSatisfy(\.isFinite) else { throw DataError("--mean values must be finite numbers") }
        guard std.allSatisfy({ $0.isFinite && $0 > 0 }) else {
            throw DataError("--std values must be positive (a channel with std 0 holds one value everywhere: give --std for it)")
        }
    }

    /// A value given for all channels stretched to `channels` ("--mean 0.5" on RGB data).
    public static func perChannel(_ v: [Float]?, channels: Int) -> [Float]? {
        guard let v else { return nil }
        return v.count == 1 && channels > 1 ? Array(repeating: v[0], count: channels) : v
    }

    /// The spec that old checkpoints (and PyTorch's, without nntop's metadata) were trained with.
    public static let mnist = ImageSpec(dataset: "mnist", channels: 1, height: 32, width: 32, storedHeight: 28, storedWidth: 28,
                                        classNames: ImageSet.digitNames, mean: mnistNormalization.mean, std: mnistNormalization.std)

    /// As JSON, for checkpoint metadata.
    public var json: String { (try? JSONEncoder().encode(self)).map { String(decoding: $0, as: UTF8.self) } ?? "{}" }

    public static func fromJSON(_ s: String) -> ImageSpec? { try? JSONDecoder().decode(ImageSpec.self, from: Data(s.utf8)) }

    /// "3×32×32": how a shape is said in messages.
    public static func shapeText(_ s: [Int]) -> String { s.map(String.init).joined(separator: "×") }
}

/// Per-channel statistics of 8-bit images, in double precision over exact pixel counts.
public enum ChannelStatistics {
    /// Mean and (population) standard deviation of p/255 per channel over `items` of `images`
    /// (every pixel of those images): a 256-bin histogram per channel, so the sums are exact.
    public static func of(_ images: ImageSet, items: [Int]) -> (mean: [Float], std: [Float]) {
        let c = images.channels, plane = images.rows * images.cols
        var hist = [Int](repeating: 0, count: c * 256)
        images.images.withUnsafeBufferPointer { img in
            hist.withUnsafeMutableBufferPointer { h in
                for i in items {
                    for ch in 0..<c {
                        let p = img.baseAddress! + (i * c + ch) * plane, hc = h.baseAddress! + ch * 256
                        for k in 0..<plane { hc[Int(p[k])] += 1 }
                    }
                }
            }
        }
        var mean = [Float](), std = [Float]()
        for ch in 0..<c {
            var n = 0.0, s = 0.0
            for v in 0..<256 { let k = Double(hist[ch * 256 + v]); n += k; s += k * Double(v) / 255 }
            let m = n > 0 ? s / n : 0
            var sq = 0.0
            for v in 0..<256 { let d = Double(v) / 255 - m; sq += Double(hist[ch * 256 + v]) * d * d }
            mean.append(Float(m)); std.append(Float(n > 0 ? (sq / n).squareRoot() : 0))
        }
        return (mean, std)
    }
}
