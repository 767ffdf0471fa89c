import Foundation
import XCTest

/// The ResNets beyond ResNet-18 train from the command line on MNIST (1 channel): a few steps with
/// falling loss, one model per block kind (the deeper ones of a family run the same code). The data is
/// a slice of the bundled MNIST (192 training images, 100 test images), so the final evaluation is
/// short too. The LR is the models' recipe's, except for the ImageNet ResNets, set low enough that
/// four momentum steps do not overshoot (their recipe is a placeholder).
final class ZooTrainCLITests: XCTestCase {
    static let tinyMNIST = SmallMNIST.make(train: 192, test: 100)

    override class func tearDown() { try? FileManager.default.removeItem(atPath: tinyMNIST) }

    /// The training losses of a short headless run (one line per step), checking it ends cleanly.
    func losses(_ model: String, _ extra: [String] = [], file: StaticString = #filePath, line: UInt = #line) throws -> [Double] {
        let dir = NSTemporaryDirectory() + "nntop-zoo-cli-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: dir) }
        // One batch of 32 images, four steps on it: the loss on the same images must fall.
        let r = try NntopBinary.run([model, "--headless", "--data", Self.tinyMNIST, "--train-limit", "32", "--val-size", "64",
                                     "--batch-size", "32", "--epochs", "4", "--log-every", "1", "--seed", "1",
                                     "--schedule", "constant", "--run-dir", dir] + extra, timeout: 300)
        XCTAssertEqual(r.status, 0, r.err, file: file, line: line)
        XCTAssertTrue(r.out.contains("final test_acc="), r.out, file: file, line: line)
        let re = try NSRegularExpression(pattern: #"^epoch \d/4 step \d+/\d+ loss (\d+\.\d+)"#, options: .anchorsMatchLines)
        let out = r.out
        return re.matches(in: out, range: NSRange(out.startIndex..., in: out)).map { Double(out[Range($0.range(at: 1), in: out)!])! }
    }

    func assertFalls(_ l: [Double], _ what: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(l.count, 4, what, file: file, line: line)
        guard let first = l.first, let last = l.last else { return }
        XCTAssertLessThan(last, first, "\(what): loss should fall, got \(l)", file: file, line: line)
        XCTAssertTrue(l.allSatisfy(\.isFinite), what, file: file, line: line)
    }

    func testCifarResNetTrainsWithAndWithoutShortcuts() throws {
        assertFalls(try losses("resnet20-cifar"), "resnet20-cifar")
        assertFalls(try losses("resnet20-cifar", ["--no-residual"]), "resnet20-cifar --no-residual")
    }

    func testBasicBlockImageNetResNetTrains() throws {
        assertFalls(try losses("resnet34", ["--lr", "0.002"]), "resnet34")
    }

    func testBottleneckResNetTrains() throws {
        assertFalls(try losses("resnet50", ["--lr", "0.002"]), "resnet50")
    }

    /// nntop summary at the model's natural input and at --input/--classes prints PyTorch's totals
    /// (scripts/torch_summary.py); a malformed --input is refused.
    func testSummaryOfResNet50AtItsInputAndImageNetClasses() throws {
        let natural = try NntopBinary.run(["summary", "resnet50"])
        XCTAssertEqual(natural.status, 0, natural.err)
        for needle in ["input 3×224×224", "23,528,522", "4,087,156,736", "layer4.2.conv3"] {
            XCTAssertTrue(natural.out.contains(needle), "summary lacks \(needle)")
        }
        let imagenet = try NntopBinary.run(["summary", "resnet50", "--input", "3,224,224", "--classes", "1000"])
        XCTAssertTrue(imagenet.out.contains("25,557,032") && imagenet.out.contains("4,089,184,256"), imagenet.out)
        let cifar = try NntopBinary.run(["summary", "resnet20-cifar", "--no-residual"])
        XCTAssertTrue(cifar.out.contains("272,474") && cifar.out.contains("40,551,040"), cifar.out)
        let bad = try NntopBinary.run(["summary", "resnet50", "--input", "3,32"])
        XCTAssertNotEqual(bad.status, 0)
        XCTAssertTrue(bad.err.contains("--input"), bad.err)
    }
}
