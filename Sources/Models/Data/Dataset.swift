import Foundation
import Kernels

/// The normalisation of ../shared/reference/torch_models.py.
public let mnistMean: Float = 0.1307, mnistStd: Float = 0.3081

/// A view of some images of an ImageSet (the training part, the validation split, the test set) that
/// fills network-ready batches of the spec's C×H×W: scaled to [0,1], normalised per channel, images
/// smaller than the input centred with background around them (MNIST's 28×28 in 32×32).
public struct Dataset {
    public let source: ImageSet
    public let indices: [Int]
    public let spec: ImageSpec
    public var count: Int { indices.count }
    public var inputShape: [Int] { spec.inputShape }

    public init(_ source: ImageSet, indices: [Int], spec: ImageSpec) {
        precondition(source.channels == spec.channels && source.rows <= spec.height && source.cols <= spec.width,
                     "images \(source.channels)×\(source.rows)×\(source.cols) do not fit the input \(spec.inputShape)")
        self.source = source; self.indices = indices; self.spec = spec
    }
    /// With the spec data built in code gets (`ImageSpec.inferred`).
    public init(_ source: ImageSet, indices: [Int]) { self.init(source, indices: indices, spec: .inferred(for: source)) }
    public init(_ source: ImageSet) { self.init(source, indices: Array(0..<source.count)) }
    public init(_ source: ImageSet, spec: ImageSpec) { self.init(source, indices: Array(0..<source.count), spec: spec) }

    public func label(_ i: Int) -> Int { Int(source.labels[indices[i]]) }

    /// The stored pixels of item i, channel-planar (for the dashboard's sample images).
    public func pixels(_ i: Int) -> [UInt8] {
        let n = source.bytesPerImage, start = indices[i] * n
        return Array(source.images[start..<start + n])
    }

    /// Fills x[b] (shape [B,C,H,W]) and labels[b] with the items at `items[b]` (positions in this
    /// dataset). With `augmentation` (training only), item b's crop and flip are drawn from
    /// (epoch, firstPosition + b): its position in the epoch's order.
    public func fill(items: ArraySlice<Int>, x: Tensor, labels: UnsafeMutablePointer<Int32>,
                     augmentation: Augmentation? = nil, epoch: Int = 0, firstPosition: Int = 0) {
        let (c, h, w) = (spec.channels, spec.height, spec.width), (rows, cols) = (source.rows, source.cols)
        let plane = h * w, per = c * plane
        precondition(x.count == items.count * per, "batch tensor \(x.shape) for \(items.count) items of \(spec.inputShape)")
        let padTop = (h - rows) / 2, padLeft = (w - cols) / 2
        // x = p·scale + background: (p/255 − mean)/std, with background the value of a 0 pixel.
        let scale = spec.std.map { 1 / (255 * $0) }, background = zip(spec.mean, spec.std).map { -$0 / $1 }
        let aug = augmentation.flatMap { $0.isNone ? nil : $0 }
        source.images.withUnsafeBufferPointer { img in
            for (b, item) in items.enumerated() {
                let src = indices[item]
                labels[b] = source.labels[src]
                // Output (y, x) reads stored pixel (y + offY, x' + offX), x' = x or mirrored w−1−x.
                var offY = -padTop, offX = -padLeft, flip = false
                if let aug {
                    let d = aug.draw(epoch: epoch, position: firstPosition + b)
                    offY += d.dy - aug.pad; offX += d.dx - aug.pad; flip = d.flip
                }
                // The columns whose stored pixel exists: [x0, x1).
                let x0 = flip ? max(0, w + offX - cols) : max(0, -offX)
                let x1 = flip ? min(w, w + offX) : min(w, cols - offX)
                for ch in 0..<c {
                    let sc = scale[ch], bg = background[ch]
                    let dst = x.data + b * per + ch * plane
                    dst.update(repeating: bg, count: plane)
                    guard x0 < x1 else { continue }
                    let srcPlane = img.baseAddress! + (src * c + ch) * rows * cols
                    for y in 0..<h {
                        let r = y + offY
                        guard r >= 0 && r < rows else { continue }
                        let s = srcPlane + r * cols, d = dst + y * w
                        if flip {
                            for x in x0..<x1 { d[x] = Float(s[w - 1 - x + offX]) * sc + bg }
                        } else {
                            let s0 = s + x0 + offX, d0 = d + x0
                            for k in 0..<(x1 - x0) { d0[k] = Float(s0[k]) * sc + bg }
                        }
                    }
                }
            }
        }
    }
}

extension ImageSpec {
    /// The spec of images built in code, with no data set named: 1×28×28 ones are MNIST's (padded
    /// to 32×32, MNIST's normalization), others are used at their size with their own statistics.
    public static func inferred(for images: ImageSet) -> ImageSpec {
        let mnistLike = images.channels == 1 && images.rows == 28 && images.cols == 28
        // Fixed-normalization data sets never call the statistics.
        return try! make(dataset: mnistLike ? "mnist" : "custom", images: images,
                         statistics: { ChannelStatistics.of(images, items: Array(0..<images.count)) })
    }
}

/// The three splits a run uses.
public struct DataSplits {
    public let train: Dataset, validation: Dataset, test: Dataset
    /// What the network is fed, the same for all three.
    public var spec: ImageSpec { train.spec }

    /// Holds out the last `validationSize` training images for validation; trains on the first
    /// `trainLimit` of the rest (all of them when nil). The spec is `dataset`'s (inferred from the
    /// images when nil); `mean`/`std` override its normalization, else data sets without a fixed
    /// one use the per-channel statistics of the images trained on.
    public init(train all: ImageSet, test: ImageSet, validationSize: Int, trainLimit: Int?,
                dataset: String? = nil, mean: [Float]? = nil, std: [Float]? = nil) throws {
        guard validationSize >= 0, validationSize < all.count else {
            throw DataError("--val-size \(validationSize) must be at least 0 and less than the \(all.count) training images")
        }
        let available = all.count - validationSize
        let n = trainLimit ?? available
        guard n > 0, n <= available else {
            throw DataError("--train-limit \(n) must be between 1 and \(available) (\(all.count) training images minus --val-size \(validationSize))")
        }
        guard test.channels == all.channels, test.rows == all.rows, test.cols == all.cols else {
            throw DataError("the test images are \(test.channels)×\(test.rows)×\(test.cols), the training images \(all.channels)×\(all.rows)×\(all.cols)")
        }
        guard all.classes >= 2 else { throw DataError("the data has \(all.classes) class(es); training needs at least 2") }
        guard test.classNames == all.classNames else {
            throw DataError("the test set's \(test.classes) classes are not the training set's \(all.classes)")
        }
        for (set, name) in [(all, "training"), (test, "test")] {
            if let bad = set.labels.first(where: { $0 < 0 || Int($0) >= all.classes }) {
                throw DataError("a \(name) label is \(bad), outside the \(all.classes) classes 0...\(all.classes - 1)")
            }
        }
        let trainItems = Array(0..<n)
        let name = dataset ?? (all.channels == 1 && all.rows == 28 && all.cols == 28 ? "mnist" : "custom")
        let spec = try ImageSpec.make(dataset: name, images: all,
                                      statistics: { ChannelStatistics.of(all, items: trainItems) },
                                      mean: ImageSpec.perChannel(mean, channels: all.channels),
                                      std: ImageSpec.perChannel(std, channels: all.channels))
        train = Dataset(all, indices: trainItems, spec: spec)
        validation = Dataset(all, indices: Array(available..<all.count), spec: spec)
        self.test = Dataset(test, spec: spec)
    }
}
