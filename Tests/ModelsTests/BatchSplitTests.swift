import XCTest
@testable import Kernels
@testable import Models

/// Network.trainStep cuts a batch-norm-free model's batch into one slice per core, runs each through a
/// replica sharing the weights, and adds the replicas' gradients: loss, accuracy and every gradient
/// must match the unsplit step (only the order of the float additions differs), step after step as
/// the shared weights change.
final class BatchSplitTests: XCTestCase {
    func testSplitStepMatchesWholeBatch() {
        var rng = SeededRandom(seed: 3)
        let b = 37                                  // odd: slices of 18 and 19
        let x = Tensor(shape: [b, 1, 32, 32])
        for i in 0..<x.count { x[i] = rng.uniform(-1, 1) }
        let labels = UnsafeMutablePointer<Int32>.allocate(capacity: b)
        defer { labels.deallocate() }
        for i in 0..<b { labels[i] = Int32(rng.next() % 10) }
        let whole = ModelZoo.make("lenet5", seed: 7)!, split = ModelZoo.make("lenet5", seed: 7)!
        let optWhole = Optimizer(.momentum, parameters: whole.parameters, lr: 0.05)
        let optSplit = Optimizer(.momentum, parameters: split.parameters, lr: 0.05)
        let saved = Parallel.maxThreads
        defer { Parallel.maxThreads = saved }
        for _ in 0..<3 {
            Parallel.maxThreads = 1
            XCTAssertEqual(whole.splitCount(b), 1)
            let a = whole.trainStep(x, labels: labels)
            Parallel.maxThreads = 2
            XCTAssertEqual(split.splitCount(b), 2)
            let s = split.trainStep(x, labels: labels)
            XCTAssertEqual(a.correct, s.correct)
            XCTAssertEqual(a.loss, s.loss, accuracy: 1e-5)
            for (p, q) in zip(whole.parameters, split.parameters) {
                let scale = (0..<p.grad.count).reduce(Float(0)) { max($0, abs(p.grad[$1])) }
                for i in 0..<p.grad.count {
                    XCTAssertEqual(p.grad[i], q.grad[i], accuracy: 1e-5 * max(1, scale), "\(p.name)[\(i)]")
                }
            }
            optWhole.step(); optSplit.step()
        }
        // Batch norm's statistics need the whole batch: ResNet-18 is never split.
        XCTAssertEqual(ModelZoo.make("resnet18")!.splitCount(64), 1)
    }
}
