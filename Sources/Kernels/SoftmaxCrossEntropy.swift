import Foundation

public struct CrossEntropyResult {
    public var loss: Float       // mean over the batch
    public var correct: Int      // argmax == label
    public init(loss: Float, correct: Int) { self.loss = loss; self.correct = correct }
}

/// Softmax cross-entropy with mean reduction. Writes the softmax probabilities into `probs` and
/// d(loss)/d(logits) = (probs - onehot) / batch into `dLogits` when given; `gradientBatch` divides the
/// gradient instead when these rows are a slice of a larger batch whose mean loss is the objective.
public func softmaxCrossEntropy(logits: UnsafePointer<Float>, labels: UnsafePointer<Int32>, batch: Int, classes: Int,
                                probs: UnsafeMutablePointer<Float>, dLogits: UnsafeMutablePointer<Float>?,
                                gradientBatch: Int? = nil) -> CrossEntropyResult {
    let divisor = Float(gradientBatch ?? batch)
    var total = 0.0, correct = 0
    for b in 0..<batch {
        let z = logits + b * classes, p = probs + b * classes
        var mx = z[0], arg = 0
        for j in 1..<classes where z[j] > mx { mx = z[j]; arg = j }
        var sum: Float = 0
        for j in 0..<classes { p[j] = expf(z[j] - mx); sum += p[j] }
        for j in 0..<classes { p[j] /= sum }
        let label = Int(labels[b])
        total += Double(mx + logf(sum) - z[label])
        if arg == label { correct += 1 }
        if let dLogits {
            let d = dLogits + b * classes
            for j in 0..<classes { d[j] = (p[j] - (j == label ? 1 : 0)) / divisor }
        }
    }
    return CrossEntropyResult(loss: Float(total / Double(batch)), correct: correct)
}
