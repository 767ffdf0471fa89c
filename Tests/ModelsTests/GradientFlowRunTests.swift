import Foundation
import XCTest
@testable import Models

/// The textbook lesson as a measurement: the same seeded run of ResNet-18 on MNIST, plain and with its
/// shortcuts, comparing the first stage's gradient (layer1's two blocks). The textbook expects the plain
/// network's to fade; measured here (batch norm after every conv, 18 layers) it is the other way round:
/// the plain first stage gets about twice the residual one's gradient at every step (e.g. 54 vs 25 on
/// average over these six steps), and the textbook preset's full runs show the same at every logged
/// step. Only the direction is asserted; the figures are printed.
final class GradientFlowRunTests: XCTestCase {
    func firstStageNorms(residual: Bool) throws -> [Double] {
        let mnist = TrainerTests.mnist
        let data = try DataSplits(train: mnist.train, test: mnist.test, validationSize: 0, trainLimit: 192)
        var c = TrainConfig.defaults(for: "resnet18")
        // The textbook preset's optimizer (plain SGD, LR 0.005), a few steps of batch 32; every step logged.
        c.epochs = 1; c.batchSize = 32; c.seed = 7; c.threads = 2; c.logEvery = 1
        c.optimizer = "sgd"; c.lr = 0.005; c.schedule = "constant"; c.residual = residual
        let t = try Trainer(config: c, data: data)
        let lock = NSLock()
        var norms: [Double] = []
        t.onEvent = { e in
            guard case .progress(let s) = e, let g = s.gradients, g.step == s.step else { return }
            // layer1.0 and layer1.1 together: √Σ of their layers' squares.
            let stage = g.units.filter { $0.name.hasPrefix("layer1.") }
            lock.lock(); norms.append(stage.map(\.gradSquares).reduce(0, +).squareRoot()); lock.unlock()
        }
        t.start()
        XCTAssertTrue(t.wait(timeout: 300), "the run did not end")
        return norms
    }

    func testPlainFirstStageGetsLargerGradientsThanResidual() throws {
        let plain = try firstStageNorms(residual: false), residual = try firstStageNorms(residual: true)
        XCTAssertEqual(plain.count, 6); XCTAssertEqual(residual.count, 6)
        let mp = plain.reduce(0, +) / Double(plain.count), mr = residual.reduce(0, +) / Double(residual.count)
        print(String(format: "first-stage ‖∇W‖ per step, plain: %@; residual: %@; means %.4g vs %.4g (ratio %.3f)",
                     plain.map { String(format: "%.3g", $0) }.joined(separator: " "),
                     residual.map { String(format: "%.3g", $0) }.joined(separator: " "), mp, mr, mp / mr))
        XCTAssertGreaterThan(mp, mr, "measured: the plain first stage gets the larger gradient (batch norm keeps it from fading)")
    }
}
