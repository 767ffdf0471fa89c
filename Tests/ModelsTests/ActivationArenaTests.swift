import XCTest
@testable import Kernels
@testable import Models

/// Inference's activation buffers: a layer's output is lent from the network's arena while something
/// still reads it, so `predict` holds the few activations alive at once rather than one per layer, and
/// leaves the training step's buffers alone.
final class ActivationArenaTests: XCTestCase {
    func testABufferIsLentAgainOnlyOnceNothingReadsIt() {
        let arena = ActivationArena()
        var a: Tensor? = arena.take([2, 8])
        let b = arena.take([4])
        XCTAssertEqual(arena.allocatedFloats, 20)
        XCTAssertNotEqual(a!.data, b.data, "two live outputs share memory")
        let aData = a!.data
        var reshaped: Tensor? = Tensor(view: a!, shape: [16])
        a = nil
        let tenData = arena.take([10]).data              // lent and dropped at once
        XCTAssertNotEqual(tenData, aData, "a buffer a reshaped view still reads was lent again")
        XCTAssertEqual(arena.allocatedFloats, 30)
        reshaped = nil
        _ = reshaped
        let c = arena.take([3]), d = arena.take([12])
        XCTAssertEqual(c.data, tenData, "the 3 floats should take the smallest free buffer that fits (10 floats)")
        XCTAssertEqual(d.data, aData, "the 12 floats should take the 16-float buffer, free once its view went")
        XCTAssertNotEqual(d.data, b.data)
        XCTAssertEqual(arena.allocatedFloats, 30, "requests that fit free buffers allocated")
    }

    /// The largest free buffer is replaced when none fits, so the arena keeps a buffer per live
    /// activation, not per size.
    func testAFreeBufferTooSmallIsReplaced() {
        let arena = ActivationArena()
        do { _ = arena.take([8]) }
        XCTAssertEqual(arena.allocatedFloats, 8)
        let big = arena.take([100])
        XCTAssertEqual(arena.allocatedFloats, 100, "the free 8-float buffer should have been replaced")
        XCTAssertEqual(big.count, 100)
    }

    /// predict on every kind of model: the same logits on every call (no output lent while it was read),
    /// no allocation after the first call, at most four of the largest activation held, and a training
    /// step after it the same, bit for bit, as on a network that never predicted.
    func testPredictHoldsFewActivationsAndLeavesTrainingAlone() {
        for (name, channels, side, batch) in [("resnet18", 1, 32, 4), ("resnet50", 3, 32, 4), ("googlenet", 3, 32, 4),
                                              ("vgg11-bn", 3, 32, 4), ("alexnet", 3, 64, 4), ("resnet20-cifar", 3, 32, 4),
                                              ("lenet5", 1, 32, 64)] {
            let net = ModelZoo.make(name, inChannels: channels, seed: 1)!
            let twin = ModelZoo.make(name, inChannels: channels, seed: 1)!
            var rng = SeededRandom(seed: 2)
            let x = Tensor(shape: [batch, channels, side, side])
            for i in 0..<x.count { x[i] = rng.uniform(-1, 1) }
            let labels: [Int32] = (0..<batch).map { Int32($0 % 10) }

            let expected = net.forward(x, training: false).array
            XCTAssertEqual(net.activations.allocatedFloats, 0, "\(name): the arena lent outside predict")
            let first = net.predict(x).array
            let allocated = net.activations.allocatedFloats
            let second = net.predict(x).array
            XCTAssertEqual(first, expected, "\(name): predict's logits differ from the layer-by-layer forward's")
            XCTAssertEqual(second, expected, "\(name): the second predict's logits differ")
            XCTAssertEqual(net.activations.allocatedFloats, allocated, "\(name): the second predict allocated")

            // Every unit's output at this batch: one buffer per layer would hold about their sum.
            var shape = Array(x.shape.dropFirst())
            let trace = net.units.flatMap { unit -> [LayerTrace] in
                let t = unit.trace(shape)
                shape = t.last(where: \.used)?.output ?? shape
                return t
            }
            let perSlice = batch / net.splitCount(batch)
            let largest = trace.map { perSlice * $0.output.reduce(1, *) }.max()!
            let perLayer = trace.filter(\.used).reduce(0) { $0 + perSlice * $1.output.reduce(1, *) }
            print("\(name): arena \(allocated) floats, per layer \(perLayer), largest output \(largest)")
            XCTAssertGreaterThan(allocated, 0, "\(name): no output came from the arena")
            XCTAssertLessThanOrEqual(allocated, 4 * largest, "\(name): the arena holds more than four of the largest output")

            let ours = labels.withUnsafeBufferPointer { net.trainStep(x, labels: $0.baseAddress!) }
            let theirs = labels.withUnsafeBufferPointer { twin.trainStep(x, labels: $0.baseAddress!) }
            XCTAssertEqual(ours.loss, theirs.loss, "\(name): a training step after predict lost differently")
            for (p, q) in zip(net.parameters, twin.parameters) {
                XCTAssertEqual(p.grad.array, q.grad.array, "\(name) \(p.name): gradient after predict differs")
            }
        }
    }
}
