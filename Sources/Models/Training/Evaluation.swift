import Foundation
import Kernels

/// The result of running a model over a dataset in evaluation mode.
public struct EvaluationResult {
    public var loss: Double = 0
    public var correct = 0
    public var count = 0
    /// Items whose true class is among the five most probable (counted only with more than 5 classes).
    public var top5Correct = 0
    /// confusion[true][predicted], classes × classes.
    public var confusion: [[Int]]
    public var classes: Int { confusion.count }
    /// Positions (in the dataset) of wrong predictions, with the predicted class and its probability.
    public var mistakes: [(item: Int, predicted: Int, confidence: Float)] = []
    public var accuracy: Double { count == 0 ? 0 : 100 * Double(correct) / Double(count) }
    /// Top-5 accuracy in percent, nil with 5 classes or fewer (where it is always 100 %).
    public var top5Accuracy: Double? {
        classes > 5 ? (count == 0 ? 0 : 100 * Double(top5Correct) / Double(count)) : nil
    }

    public init(classes: Int) { confusion = Array(repeating: Array(repeating: 0, count: classes), count: classes) }
}

/// One prediction of the model: class and softmax probability.
public struct Prediction: Equatable { public var predicted: Int; public var confidence: Float }

public enum Evaluator {
    /// Runs `net` in eval mode over `data` (or its first `limit` items) in batches of `batchSize`.
    public static func evaluate(_ net: Network, _ data: Dataset, batchSize: Int, keepMistakes: Int = 64,
                                limit: Int? = nil) -> EvaluationResult {
        var r = EvaluationResult(classes: net.classes)
        let n = min(limit ?? data.count, data.count)
        let labels = UnsafeMutablePointer<Int32>.allocate(capacity: batchSize)
        defer { labels.deallocate() }
        var start = 0
        var x: Tensor?, probs: Tensor?
        while start < n {
            let b = min(batchSize, n - start)
            let xb = Tensor.reuse(x, [b] + data.inputShape); x = xb
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
                r.confusion[truth][p.predicted] += 1
                if net.classes > 5 && rank(of: truth, probs.data + i * net.classes, net.classes) < 5 { r.top5Correct += 1 }
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
        let x = Tensor(shape: [items.count] + data.inputShape)
        data.fill(items: items[...], x: x, labels: labels)
        let logits = net.predict(x)
        let probs = Tensor(shape: logits.shape)
        _ = softmaxCrossEntropy(logits: logits.data, labels: labels, batch: items.count, classes: net.classes,
                                probs: probs.data, dLogits: nil)
        return (0..<items.count).map { argmax(probs.data + $0 * net.classes, net.classes) }
    }

    /// Eval-mode softmax probabilities of every item of `data`, item after item (`predict` prints these).
    public static func probabilities(_ net: Network, _ data: Dataset, batchSize: Int = 64) -> [[Float]] {
        var out: [[Float]] = []
        let labels = UnsafeMutablePointer<Int32>.allocate(capacity: batchSize)
        defer { labels.deallocate() }
        var start = 0
        while start < data.count {
            let b = min(batchSize, data.count - start)
            let x = Tensor(shape: [b] + data.inputShape)
            data.fill(items: (start..<start + b).map { $0 }[...], x: x, labels: labels)
            let logits = net.predict(x)
            let probs = Tensor(shape: logits.shape)
            _ = softmaxCrossEntropy(logits: logits.data, labels: labels, batch: b, classes: net.classes,
                                    probs: probs.data, dLogits: nil)
            for i in 0..<b { out.append(Array(UnsafeBufferPointer(start: probs.data + i * net.classes, count: net.classes))) }
            start += b
        }
        return out
    }

    /// How many classes come before `c` when sorted by probability, highest first (ties in class
    /// order, as argmax breaks them): 0 is the top-1 prediction.
    static func rank(of c: Int, _ p: UnsafePointer<Float>, _ n: Int) -> Int {
        var above = 0
        for j in 0..<n where p[j] > p[c] || (p[j] == p[c] && j < c) { above += 1 }
        return above
    }

    static func argmax(_ p: UnsafePointer<Float>, _ n: Int) -> Prediction {
        var best = 0
        for j in 1..<n where p[j] > p[best] { best = j }
        return Prediction(predicted: best, confidence: p[best])
    }
}
