import Foundation
import XCTest

/// GoogLeNet and VGG-11-bn train from the command line on MNIST digits (1 channel, 32×32): a few
/// steps over a small folder of the bundled digits, and the training loss falls. (AlexNet needs 63×63
/// or more and the data is 32×32: its training is checked in ZooTrainingTests on 64×64 inputs.)
final class ConcatAndVGGTrainCLITests: XCTestCase {
    static let smallMNIST = SmallMNIST.make(train: 64, test: 32)

    override class func tearDown() { try? FileManager.default.removeItem(atPath: smallMNIST) }

    /// 12 steps of 8 images (3 epochs of 32, 32 more held out for validation), every step logged; the
    /// mean loss of the last three steps must be below the first three's.
    func trainsWithFallingLoss(_ model: String, lr: String) throws {
        let runDir = FileManager.default.temporaryDirectory.appendingPathComponent("nntop-zoo-run-\(model)-\(getpid())").path
        defer { try? FileManager.default.removeItem(atPath: runDir) }
        let r = try NntopBinary.run([model, "--headless", "--data", Self.smallMNIST, "--train-limit", "32", "--val-size", "32",
                                     "--epochs", "3", "--batch-size", "8", "--log-every", "1", "--lr", lr, "--seed", "3",
                                     "--run-dir", runDir], timeout: 900)
        XCTAssertEqual(r.status, 0, r.err)
        XCTAssertTrue(r.out.contains("final test_acc="), r.out)
        let losses = try RunFiles.metrics(runDir).filter { $0["split"] as? String == "train" }.compactMap { $0["loss"] as? Double }
        XCTAssertEqual(losses.count, 12)
        let first = losses.prefix(3).reduce(0, +) / 3, last = losses.suffix(3).reduce(0, +) / 3
        XCTAssertLessThan(last, first, "\(model): loss should fall: \(losses)")
    }

    func testGoogLeNetTrainsFromTheCommandLine() throws { try trainsWithFallingLoss("googlenet", lr: "0.01") }
    func testVGG11BatchNormTrainsFromTheCommandLine() throws { try trainsWithFallingLoss("vgg11-bn", lr: "0.001") }
}
