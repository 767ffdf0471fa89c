import Foundation
import Kernels

/// The normalisation of ../shared/reference/torch_models.py.
public let mnistMean: Float = 0.1307, mnistStd: Float = 0.3081

/// A view of some images of an ImageSet (the training part, the validation split, the test set) that
/// fills network-ready batches: zero-padded 28×28 → 32×32, scaled to [0,1], normalised.
public struct Dataset {
    public let source: ImageSet
    public let indices: [Int]
    public var count: Int { indices.count }
    public static let side = 32

    public init(_ source: ImageSet, indices: [Int]) { self.source = source; self.indices = indices }
    public init(_ source: ImageSet) { self.init(source, indices: Array(0..<source.count)) }

    public func label(_ i: Int) -> Int { Int(source.labels[indices[i]]) }

    /// The raw 28×28 pixels of item i (for the dashboard's digits).
    public func pixels(_ i: Int) -> [UInt8] {
        let n = source.rows * source.cols, start = indices[i] * n
        return Array(source.images[start..<start + n])
    }

    /// Fills x[b] (shape [B,1,32,32]) and labels[b] with the items at `items[b]` (positions in this dataset).
    public func fill(items: ArraySlice<Int>, x: Tensor, labels: UnsafeMutablePointer<Int32>) {
        let side = Dataset.side, rows = source.rows, cols = source.cols
        precondition(source.channels == 1, "only 1-channel images are filled so far")
        let padTop = (side - rows) / 2, padLeft = (side - cols) / 2
        let background = -mnistMean / mnistStd, scale = 1 / (255 * mnistStd)
        precondition(x.count == items.count * side * side, "batch tensor \(x.shape) for \(items.count) items")
        source.images.withUnsafeBufferPointer { img in
            for (b, item) in items.enumerated() {
                let src = indices[item]
                labels[b] = source.labels[src]
                let dst = x.data + b * side * side
                dst.update(repeating: background, count: side * side)
                for r in 0..<rows {
                    let s = img.baseAddress! + (src * rows + r) * cols, d = dst + (r + padTop) * side + padLeft
                    for c in 0..<cols { d[c] = Float(s[c]) * scale + background }
                }
            }
        }
    }
}

/// The three splits a run uses.
public struct DataSplits {
    public let train: Dataset, validation: Dataset, test: Dataset

    /// Holds out the last `validationSize` training images for validation; trains on the first
    /// `trainLimit` of the rest (all of them when nil).
    public init(train all: ImageSet, test: ImageSet, validationSize: Int, trainLimit: Int?) throws {
        guard validationSize >= 0, validationSize < all.count else {
            throw DataError("--val-size \(validationSize) must be at least 0 and less than the \(all.count) training images")
        }
        let available = all.count - validationSize
        let n = trainLimit ?? available
        guard n > 0, n <= available else {
            throw DataError("--train-limit \(n) must be between 1 and \(available) (\(all.count) training images minus --val-size \(validationSize))")
        }
        train = Dataset(all, indices: Array(0..<n))
        validation = Dataset(all, indices: Array(available..<all.count))
        self.test = Dataset(test)
    }
}
