import Foundation
import Kernels

/// The result of running a model over a dataset in evaluation mode.
public struct EvaluationResult {
    public var loss: Double = 0
    public var correct = 0
    public var count = 0
    /// confusion[true][predicted]
    public var confusion = Array(repeating: Array(repeating: 0, count: 10), count: 10)
    /// Positions (in the dataset) of wrong predictions, with the predicted class and its probability.
    public var mistakes: [(item: Int, predicted: Int, confidence: Float)] = []
    public var accuracy: Double { count == 0 ? 0 : 100 * Double(correct) / Double(count) }
}

/// One prediction of the model: class and softmax probability.
public struct Prediction: Equatable { public var predicted: Int; public var confidence: Float }

public enum Evaluator {
    /// Runs `net` in eval mode over `data` (or its first `limit` items) in batches of `batchSize`.
    public static func evaluate(_ net: Network, _ data: Dataset, batchSize: Int, keepMistakes: Int = 64,
                                limit: Int? = nil) -> EvaluationResult {
        var r = EvaluationResult()
        let n = min(limit ?? data.count, data.count)
        let labels = UnsafeMutablePointer<Int32>.allocate(capacity: batchSize)
        defer { labels.deallocate() }
        var start = 0
        var x: Tensor?, probs: Tensor?
        while start < n {
            let b = min(batchSize, n - start)
            let xb = Tensor.reuse(x, [b, 1, Dataset.side, Dataset.side]); x = xb
            data.fill(items: (start..<start + b).map { $0 }[...], x: xb, labels: labels)
            let logits = net.predict(xb)
            let pb = Tensor.reuse(probs, logits.shape); probs = pb
            let probs = pb
            let ce = softmaxCrossEntropy(logits: logits.data, labels: labels, batch: b, classes: net.classes,
                                         probs: probs.data, dLogits: nil)
            r.loss += Double(ce.loss) * Double(b)
            r.correct += ce.correct
            for i in 0..<b {
                let p = argmax(probs.data + i * net.classes, net.classes)
                let truth = Int(labels[i])
                if truth < 10 && p.predicted < 10 { r.confusion[truth][p.predicted] += 1 }
                if p.predicted != truth && r.mistakes.count < keepMistakes {
                    r.mistakes.append((start + i, p.predicted, p.confidence))
                }
            }
            start += b
        }
        r.count = n
        r.loss /= Double(max(n, 1))
        return r
    }

    /// Predictions for specific items of `data`.
    public static func predict(_ net: Network, _ data: Dataset, items: [Int]) -> [Prediction] {
        guard !items.isEmpty else { return [] }
        let labels = UnsafeMutablePointer<Int32>.allocate(capacity: items.count)
        defer { labels.deallocate() }
        let x = Tensor(shape: [items.count, 1, Dataset.side, Dataset.side])
        data.fill(items: items[...], x: x, labels: labels)
        let logits = net.predict(x)
        let probs = Tensor(shape: logits.shape)
        _ = softmaxCrossEntropy(logits: logits.data, labels: labels, batch: items.count, classes: net.classes,
                                probs: probs.data, dLogits: nil)
        return (0..<items.count).map { argmax(probs.data + $0 * net.classes, net.classes) }
    }

    static func argmax(_ p: UnsafePointer<Float>, _ n: Int) -> Prediction {
        var best = 0
        for j in 1..<n where p[j] > p[best] { best = j }
        return Prediction(predicted: best, confidence: p[best])
    }
}
