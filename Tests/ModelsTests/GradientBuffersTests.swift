import XCTest
@testable import Kernels
@testable import Models

/// The network's input-gradient buffers: a gradient's buffer is reused once its reader gives it back,
/// so a backward pass holds the few gradients alive at once rather than one per layer.
final class GradientBuffersTests: XCTestCase {
    func testGivenBuffersAreTakenAgainSmallestFirst() {
        let pool = GradientBuffers()
        let a = pool.take([2, 8]), b = pool.take([4])
        XCTAssertEqual(a.shape, [2, 8])
        XCTAssertEqual(pool.allocatedFloats, 20)
        XCTAssertNotEqual(a.data, b.data, "two lent buffers share memory")
        pool.give(Tensor(view: a, shape: [16]))            // a reshaped view gives its buffer back
        pool.give(b)
        XCTAssertEqual(pool.lentCount, 0)
        let c = pool.take([3]), d = pool.take([10])
        XCTAssertEqual(c.data, b.data, "the 3 floats should take the 4-float buffer, leaving the 16 for the 10")
        XCTAssertEqual(d.data, a.data)
        XCTAssertEqual(pool.allocatedFloats, 20, "a request that fits a free buffer allocated")
        pool.give(c); pool.give(d)
        let e = pool.take([30])                        // fits neither: the 16 is replaced, the 4 kept
        XCTAssertEqual(pool.allocatedFloats, 34)
        XCTAssertEqual(pool.take([4]).data, b.data)
        XCTAssertNotEqual(e.data, a.data)
    }

    func testKeptForeignAndTwiceGivenBuffersAreNotReused() {
        let pool = GradientBuffers()
        let a = pool.take([5])
        pool.give(a, keeping: [Tensor(view: a, shape: [1, 5])])   // an in-place layer returned it
        XCTAssertNotEqual(pool.take([5]).data, a.data, "a buffer still in use was lent again")
        let foreign = Tensor(shape: [100])
        pool.give(foreign)
        XCTAssertNotEqual(pool.take([50]).data, foreign.data, "a tensor the pool never lent was adopted")
        let b = pool.take([7])
        pool.give(b); pool.give(b)
        let c = pool.take([7]), d = pool.take([7])
        XCTAssertNotEqual(c.data, d.data, "a buffer given twice was lent to two users at once")
    }

    /// Every gradient is given back by the end of a step (none leaks, so after the second step, whose
    /// buffers may still grow to fit the first's order of requests, no step allocates), and the pool
    /// holds far less than a buffer per layer would.
    func testATrainingStepGivesEveryGradientBackAndHoldsFewBuffers() {
        for (name, channels, side) in [("resnet18", 1, 32), ("resnet50", 3, 32), ("googlenet", 3, 32),
                                       ("vgg11-bn", 3, 32), ("alexnet", 3, 64), ("lenet5", 1, 32)] {
            let net = ModelZoo.make(name, inChannels: channels, seed: 1)!
            let b = 4
            var rng = SeededRandom(seed: 2)
            let x = Tensor(shape: [b, channels, side, side])
            for i in 0..<x.count { x[i] = rng.uniform(-1, 1) }
            let labels: [Int32] = (0..<b).map { Int32($0 % 10) }
            var allocated: [Int] = []
            for _ in 0..<4 {
                _ = labels.withUnsafeBufferPointer { net.trainStep(x, labels: $0.baseAddress!) }
                XCTAssertEqual(net.gradientBuffers.lentCount, 0, "\(name): gradients not given back")
                allocated.append(net.gradientBuffers.allocatedFloats)
            }
            XCTAssertEqual(allocated[2], allocated[1], "\(name): the third step allocated gradient buffers")
            XCTAssertEqual(allocated[3], allocated[1], "\(name): the fourth step allocated gradient buffers")
            // One buffer per layer: every leaf that computes an input gradient, at its input's size.
            var shape = Array(x.shape.dropFirst())
            let trace = net.units.flatMap { unit -> [LayerTrace] in
                let t = unit.trace(shape)
                shape = t.last(where: \.used)?.output ?? shape
                return t
            }.dropFirst()                                   // the first layer computes no input gradient
            let perLayer = trace.filter(\.used).reduce(0) { $0 + b * $1.input.reduce(1, *) }
            let largest = trace.map { b * $0.input.reduce(1, *) }.max()!
            print("\(name): pool \(allocated[3]) floats, per layer \(perLayer), largest input \(largest)")
            XCTAssertGreaterThan(allocated[3], 0, "\(name): no gradient came from the pool")
            XCTAssertLessThanOrEqual(allocated[3], 4 * largest, "\(name): the pool holds more than four of the largest gradient")
        }
    }
}
