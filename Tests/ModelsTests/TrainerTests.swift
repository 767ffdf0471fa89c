import Foundation
import XCTest
@testable import Kernels
@testable import Models

/// Short seeded runs on the bundled MNIST: the loss falls, a seed reproduces its losses, commands
/// arrive between steps, and residual connections switch on the live model.
final class TrainerTests: XCTestCase {
    static let mnist: (train: ImageSet, test: ImageSet) = {
        try! MNIST.load(directory: MNIST.defaultDirectory()!)
    }()

    func splits(train: Int = 2048, val: Int = 256) throws -> DataSplits {
        try DataSplits(train: Self.mnist.train, test: Self.mnist.test, validationSize: val, trainLimit: train)
    }

    func config(_ model: String = "lenet5", seed: UInt64 = 5) -> TrainConfig {
        var c = TrainConfig.defaults(for: model)
        c.epochs = 1; c.batchSize = 32; c.seed = seed; c.logEvery = 1000; c.threads = 2
        return c
    }

    func losses(_ t: Trainer) -> [Double] { t.latest().trainLoss.map(\.value) }

    func testLossFallsAndTheSameSeedGivesTheSameLosses() throws {
        let data = try splits()
        let a = try Trainer(config: config(), data: data)
        a.start(); a.wait()
        let la = losses(a)
        XCTAssertEqual(la.count, 2048 / 32)
        let early = la.prefix(8).reduce(0, +) / 8, late = la.suffix(8).reduce(0, +) / 8
        XCTAssertLessThan(late, early * 0.6, "loss should fall: \(early) → \(late)")
        XCTAssertEqual(a.latest().state, .done)
        XCTAssertGreaterThan(try XCTUnwrap(a.latest().finalTest).accuracy, 70)
        XCTAssertEqual(a.latest().validationAccuracy.count, 1)

        let b = try Trainer(config: config(), data: data)
        b.start(); b.wait()
        XCTAssertEqual(la, losses(b))
        let c = try Trainer(config: config(seed: 6), data: data)
        c.start(); c.wait()
        XCTAssertNotEqual(la, losses(c))
    }

    func testCommandsArriveBetweenSteps() throws {
        let t = try Trainer(config: config(), data: try splits())
        t.send(.pause)
        t.start()
        // Paused before the first step: nothing moves until resumed.
        Thread.sleep(forTimeInterval: 0.3)
        XCTAssertEqual(t.latest().state, .paused)
        XCTAssertEqual(t.latest().step, 0)
        t.send(.setLR(0.0123))
        t.send(.resume)
        t.wait()
        let s = t.latest()
        XCTAssertEqual(s.events.map(\.label), ["pause", "lr 0.0123", "resume"])
        XCTAssertEqual(s.step, 64)
        XCTAssertLessThanOrEqual(s.lr, 0.0123)   // the cosine schedule scales the LR the user set
    }

    func testStopEndsTheRunEarly() throws {
        let t = try Trainer(config: config(), data: try splits())
        t.send(.pause)
        t.start()
        t.send(.stop)
        t.wait()
        XCTAssertEqual(t.latest().state, .stopped)
        XCTAssertEqual(t.latest().step, 0)
    }

    func testDivergenceStopsWithAClearMessage() throws {
        var c = config(); c.lr = 1e6; c.schedule = "constant"
        let t = try Trainer(config: c, data: try splits())
        t.start(); t.wait()
        XCTAssertEqual(t.latest().state, .diverged)
        XCTAssertTrue(t.latest().message.contains("lower --lr"), t.latest().message)
        XCTAssertLessThan(t.latest().step, 64)
    }

    func testResidualTogglesOnTheLiveModelKeepingProjectionWeights() throws {
        let net = try XCTUnwrap(ModelZoo.make("resnet18", seed: 3))
        let block = try XCTUnwrap(net.units.compactMap { $0 as? BasicBlock }.first { $0.downsample != nil })
        let before = block.downsample!.conv.weight.value.array
        let x = Tensor(shape: [2, 1, 32, 32])
        for i in 0..<x.count { x[i] = Float(i % 7) - 3 }
        let on = net.forward(x, training: false).array
        net.residual = false
        XCTAssertFalse(block.downsample!.conv.weight.inUse)
        let off = net.forward(x, training: false).array
        XCTAssertNotEqual(on, off)
        net.residual = true
        XCTAssertEqual(net.forward(x, training: false).array, on)
        XCTAssertEqual(block.downsample!.conv.weight.value.array, before)
        XCTAssertNil(ModelZoo.make("lenet5")!.residual)
    }

    func testModelZooShapesAndParameterCounts() {
        XCTAssertEqual(ModelZoo.make("resnet18")!.parameterCount, 11_175_434)
        XCTAssertEqual(ModelZoo.make("lenet5")!.parameterCount, 6 * 25 + 6 + 16 * 150 + 16 + 400 * 120 + 120 + 120 * 84 + 84 + 84 * 10 + 10)
        XCTAssertNil(ModelZoo.make("vgg"))
        // Default init: U(±1/√fan_in) for conv weights (fan_in 25 for LeNet's conv1).
        let w = ModelZoo.make("lenet5", seed: 1)!.parameters[0].value.array
        XCTAssertTrue(w.allSatisfy { abs($0) <= 0.2 })
        XCTAssertGreaterThan(w.map(abs).max()!, 0.15)
    }
}
