import Foundation
import XCTest
@testable import Models

/// Issue 16 through the binary: predict against the evaluator, checkpoints trained on other data
/// refused with one line, summary/bench at other input shapes, the data options' help and errors.
final class DataCLITests: XCTestCase {
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("ModelsTests/Fixtures")
    static let torchLeNet = fixtures.appendingPathComponent("torch_lenet5_trained.safetensors").path

    func tempDir() -> String {
        let d = NSTemporaryDirectory() + "nntop-data-cli-\(UUID().uuidString)"
        try! FileManager.default.createDirectory(atPath: d, withIntermediateDirectories: true)
        addTeardownBlock { try? FileManager.default.removeItem(atPath: d) }
        return d
    }

    /// Five MNIST test digits written as PGM files; `predict --json` gives, for each, the
    /// probabilities the evaluator computes for the same images in-process (eval's code path), to the bit.
    func testPredictGivesTheEvaluatorsProbabilities() throws {
        let dir = tempDir()
        let test = try MNIST.loadTest(directory: MNIST.defaultDirectory()!)
        let items = [0, 1, 2, 3, 4]
        var paths: [String] = []
        for i in items {
            let path = dir + "/digit\(i).pgm"
            try (Data("P5\n# test digit\n28 28\n255\n".utf8) + Data(test.images[i * 784..<(i + 1) * 784])).write(to: URL(fileURLWithPath: path))
            paths.append(path)
        }
        let r = try NntopBinary.run(["predict", "lenet5", "--weights", Self.torchLeNet, "--top", "10", "--json", "--threads", "1"] + paths)
        XCTAssertEqual(r.status, 0, r.err)
        let net = try XCTUnwrap(ModelZoo.make("lenet5"))
        try Checkpoint.load(Self.torchLeNet, into: net)
        let subset = ImageSet(images: Array(test.images[0..<5 * 784]), labels: Array(test.labels[0..<5]), rows: 28, cols: 28)
        let expected = Evaluator.probabilities(net, Dataset(subset, spec: .mnist))
        let lines = r.out.split(separator: "\n")
        XCTAssertEqual(lines.count, 5, r.out)
        for (k, line) in lines.enumerated() {
            let o = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
            XCTAssertEqual(o["image"] as? String, paths[k])
            let top = try XCTUnwrap(o["top"] as? [[String: Any]])
            XCTAssertEqual(top.count, 10)
            // Every class's probability as printed (Float's shortest text) is the evaluator's.
            for entry in top {
                let c = try XCTUnwrap(entry["class"] as? Int)
                let text = String(line[line.range(of: "\"class\":\(c),")!.upperBound...])
                let p = try XCTUnwrap(text.range(of: #"(?<="probability":)[^}]+"#, options: .regularExpression)).map { Float(text[$0]) }
                XCTAssertEqual(p, expected[k][c], "image \(k) class \(c)")
                XCTAssertEqual(entry["name"] as? String, "\(c)")
            }
            let first = try XCTUnwrap(top.first?["class"] as? Int)
            XCTAssertEqual(first, expected[k].indices.max { expected[k][$0] < expected[k][$1] })
        }
        // Text: one block per image, its name then ranked lines.
        let text = try NntopBinary.run(["predict", "lenet5", "--weights", Self.torchLeNet, "--threads", "1"] + paths)
        XCTAssertEqual(text.status, 0, text.err)
        let blocks = text.out.components(separatedBy: "\n\n")
        XCTAssertEqual(blocks.count, 5, text.out)
        XCTAssertTrue(blocks[0].hasPrefix(paths[0] + "\n  1. \(test.labels[0]) "), blocks[0])
        XCTAssertEqual(blocks[0].split(separator: "\n").count, 6)
    }

    func testPredictRefusesImagesItCannotFeedWithOneLine() throws {
        let dir = tempDir()
        // A PNG cut short after its signature and the start of its header, and a GIF.
        try Data([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 0, 0, 0, 13, 0x49, 0x48]).write(to: URL(fileURLWithPath: dir + "/cut.png"))
        try Data("GIF89a".utf8).write(to: URL(fileURLWithPath: dir + "/x.gif"))
        for (file, needle) in [("cut.png", dir + "/cut.png"), ("x.gif", "not an image nntop reads")] {
            let r = try NntopBinary.run(["predict", "lenet5", "--weights", Self.torchLeNet, dir + "/" + file])
            XCTAssertNotEqual(r.status, 0)
            XCTAssertEqual(r.out, "")
            XCTAssertEqual(r.err.split(separator: "\n").count, 1, r.err)
            XCTAssertTrue(r.err.contains(needle), r.err)
        }
    }

    /// A checkpoint trained on 100 classes of colour images, used with MNIST: one line, exit ≠ 0,
    /// no run folder written.
    func testACheckpointOfOtherDataIsRefusedWithOneLineAndNothingWritten() throws {
        let dir = tempDir()
        let spec = ImageSpec(dataset: "cifar100", channels: 3, height: 32, width: 32, storedHeight: 32, storedWidth: 32,
                             classNames: (0..<100).map { "c\($0)" }, mean: [0.5, 0.5, 0.5], std: [0.25, 0.25, 0.25])
        let net = try XCTUnwrap(ModelZoo.make("lenet5", inChannels: 3, classes: 100))
        let ckpt = dir + "/cifar100.safetensors"
        try Checkpoint.save(net, metadata: ["data": spec.json], to: ckpt)
        let eval = try NntopBinary.run(["eval", "lenet5", "--weights", ckpt, "--dataset", "mnist"])
        XCTAssertNotEqual(eval.status, 0)
        XCTAssertEqual(eval.out, "")
        XCTAssertEqual(eval.err.split(separator: "\n").count, 1, eval.err)
        XCTAssertTrue(eval.err.contains("100 classes") && eval.err.contains("10 classes"), eval.err)
        let train = try NntopBinary.run(["lenet5", "--headless", "--weights", ckpt, "--train-limit", "640", "--run-dir", dir + "/run"], cwd: dir)
        XCTAssertNotEqual(train.status, 0)
        XCTAssertEqual(train.err.split(separator: "\n").count, 1, train.err)
        XCTAssertTrue(train.err.contains("trained on 100 classes"), train.err)
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir + "/run"), "a refused run writes no folder")
    }

    func testSummaryAndBenchTakeOtherInputShapesAndClassCounts() throws {
        let s = try NntopBinary.run(["summary", "lenet5", "--input", "3,32,32", "--classes", "100"])
        XCTAssertEqual(s.status, 0, s.err)
        // conv1 3→6 5×5: 6·3·25 + 6 = 456 parameters; fc3 84→100: 8,500; output [100].
        for needle in ["input 3×32×32", "456", "8,500", "[100]"] { XCTAssertTrue(s.out.contains(needle), "\(needle):\n\(s.out)") }
        let b = try NntopBinary.run(["bench", "lenet5", "--input", "3,32,32", "--classes", "100", "--steps", "2", "--no-peak", "--threads", "1"])
        XCTAssertEqual(b.status, 0, b.err)
        XCTAssertTrue(b.out.contains("nntop lenet5 train"), b.out)
        let bad = try NntopBinary.run(["summary", "lenet5", "--input", "3x32x32"])
        XCTAssertNotEqual(bad.status, 0)
        XCTAssertTrue(bad.err.contains("--input 3x32x32"), bad.err)
    }

    func testDataOptionsExplainThemselvesAndRefuseBadValues() throws {
        let help = try NntopBinary.run(["train", "--help"])
        for needle in ["--dataset", "--image-size", "--mean", "--std", "--augment", "--pad", "Flip is wrong for digits"] {
            XCTAssertTrue(help.out.contains(needle), "help lacks \(needle)")
        }
        for (args, needle) in [(["--dataset", "imagenet"], "unknown dataset 'imagenet'"),
                               (["--augment", "rotate"], "unknown 'rotate'"),
                               (["--pad", "-1"], "--pad"),
                               (["--mean", "0.1,x"], "--mean 0.1,x"),
                               (["--mean", "0.1,0.2"], "--mean has 2 value(s), the images have 1 channel(s)"),
                               (["--std", "0"], "--std values must be positive")] {
            let dir = tempDir()
            let r = try NntopBinary.run(["lenet5", "--headless", "--train-limit", "640", "--run-dir", dir + "/run"] + args, cwd: dir)
            XCTAssertNotEqual(r.status, 0, "\(args)")
            XCTAssertTrue(r.err.contains(needle), "\(args): \(r.err)")
            XCTAssertFalse(FileManager.default.fileExists(atPath: dir + "/run/metrics.jsonl"), "\(args)")
        }
    }

    /// The run's normalization and augmentation land in config.json; `runs` names the data set.
    func testConfigRecordsTheDataAndRunsShowsIt() throws {
        let dir = tempDir()
        let r = try NntopBinary.run(["lenet5", "--headless", "--train-limit", "320", "--val-size", "100", "--epochs", "1",
                                    "--augment", "crop", "--pad", "2", "--threads", "1"], cwd: dir)
        XCTAssertEqual(r.status, 0, r.err)
        let run = try XCTUnwrap(try FileManager.default.contentsOfDirectory(atPath: dir + "/runs").first)
        XCTAssertTrue(run.hasSuffix("-lenet5-mnist"), run)
        let config = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: dir + "/runs/\(run)/config.json"))) as? [String: Any])
        XCTAssertEqual(config["dataset"] as? String, "mnist")
        XCTAssertEqual((config["mean"] as? [Double])?.map { Float($0) }, [0.1307])
        XCTAssertEqual((config["std"] as? [Double])?.map { Float($0) }, [0.3081])
        XCTAssertEqual(config["augment"] as? [String], ["crop"])
        XCTAssertEqual(config["pad"] as? Int, 2)
        let runs = try NntopBinary.run(["runs", dir + "/runs"])
        XCTAssertTrue(runs.out.split(separator: "\n").first?.contains("DATA") ?? false, runs.out)
        XCTAssertTrue(runs.out.contains("lenet5  mnist"), runs.out)
    }
}
