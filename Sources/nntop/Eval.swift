import ArgumentParser
import Foundation
import Kernels
import Models

struct Eval: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Evaluate a checkpoint on the 10,000 MNIST test images: per-class accuracy, confusion matrix, loss.",
        discussion: """
        The weights can be any nntop checkpoint or a PyTorch state_dict saved with \
        safetensors.torch.save_file(model.state_dict(), path). The last line reads \
        test_acc=98.91% test_loss=0.0345 n=10000.
        """)

    @Argument(help: "The model: \(ModelZoo.names.joined(separator: ", ")).")
    var model: String
    @Option(help: "The checkpoint (.safetensors) to evaluate.")
    var weights: String
    @Option(help: "Folder with the MNIST idx files, raw or .gz (default: the bundled assets/mnist).")
    var data: String?
    @Flag(name: .customLong("no-residual"), help: "A ResNet without its shortcuts, whatever the checkpoint says.")
    var noResidual = false
    @Option(name: .customLong("batch-size"), help: "Images per forward pass.")
    var batchSize: Int = 256
    @Option(help: "Worker threads for the kernels (default: all cores).")
    var threads: Int?

    func validate() throws {
        guard ModelZoo.names.contains(model) else {
            throw ValidationError("unknown model '\(model)'; choose one of: \(ModelZoo.names.joined(separator: ", "))")
        }
        guard batchSize > 0 else { throw ValidationError("--batch-size must be a positive number (got \(batchSize))") }
        if let threads, !(threads > 0 && threads <= 256) { throw ValidationError("--threads must be between 1 and 256 (got \(threads))") }
    }

    func run() throws {
        Parallel.maxThreads = threads ?? ProcessInfo.processInfo.activeProcessorCount
        guard let net = ModelZoo.make(model) else { fail("unknown model '\(model)'") }
        do { try Checkpoint.load(weights, into: net) } catch { fail("\(error)") }
        if noResidual {
            guard net.residual != nil else { fail("--no-residual: \(model) has no residual connections to turn off (\(residualModels) have)") }
            net.residual = false
        }
        let test = loadTest()
        let r = Evaluator.evaluate(net, test, batchSize: batchSize, keepMistakes: 0)
        print(report(r, residual: net.residual))
    }

    /// Only the test images (the training set is not needed).
    func loadTest() -> Dataset {
        guard let dir = data ?? MNIST.defaultDirectory() else {
            fail("cannot find the bundled assets/mnist; run from the repository or pass --data DIR (a folder with the MNIST idx files)")
        }
        do { return Dataset(try MNIST.loadTest(directory: dir)) } catch { fail("\(error)") }
    }

    func report(_ r: EvaluationResult, residual: Bool?) -> String {
        var lines: [String] = []
        lines.append("\(model) \(weights)" + (residual.map { $0 ? " (residual on)" : " (residual off)" } ?? ""))
        lines.append("")
        lines.append("class   count  correct  accuracy")
        for c in 0..<10 {
            let count = r.confusion[c].reduce(0, +), correct = r.confusion[c][c]
            let acc = count == 0 ? "-" : String(format: "%.2f%%", 100 * Double(correct) / Double(count))
            lines.append("\(c)".padded(to: 5) + "\(count)".padded(to: 8, right: true) + "\(correct)".padded(to: 9, right: true)
                         + acc.padded(to: 10, right: true))
        }
        lines.append("all".padded(to: 5) + "\(r.count)".padded(to: 8, right: true) + "\(r.correct)".padded(to: 9, right: true)
                     + String(format: "%.2f%%", r.accuracy).padded(to: 10, right: true))
        lines.append("")
        lines.append("confusion matrix (rows: true class, columns: predicted)")
        lines.append("true\\pred" + (0..<10).map { "\($0)".padded(to: 6, right: true) }.joined())
        for c in 0..<10 {
            lines.append("\(c)".padded(to: 9) + r.confusion[c].map { "\($0)".padded(to: 6, right: true) }.joined())
        }
        lines.append("")
        lines.append(String(format: "test_acc=%.2f%% test_loss=%.4f n=%d", r.accuracy, r.loss, r.count))
        return lines.joined(separator: "\n")
    }
}
