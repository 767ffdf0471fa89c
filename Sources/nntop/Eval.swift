import ArgumentParser
import Foundation
import Kernels
import Models

struct Eval: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Evaluate a checkpoint on a data set's test images: per-class accuracy, confusion matrix, loss, top-5.",
        discussion: """
        The weights can be any nntop checkpoint or a PyTorch state_dict saved with \
        safetensors.torch.save_file(model.state_dict(), path) (fed as --dataset's test images are: \
        their channels and classes, the data set's normalization; an MNIST model without --dataset). An nntop \
        checkpoint says which data set, input size, classes and normalization it was trained with: \
        the test images are fed the same way. The last line reads test_acc=98.91% test_loss=0.0345 n=10000.
        """)

    @Argument(help: "The model: \(ModelZoo.names.joined(separator: ", ")).")
    var model: String
    @Option(help: "The checkpoint (.safetensors) to evaluate.")
    var weights: String
    @Option(help: "The data folder (default: the bundled assets/mnist for MNIST checkpoints).")
    var data: String?
    @Option(help: "What --data holds: \(DataSets.names.joined(separator: ", ")) (default: the data set the checkpoint was trained on).")
    var dataset: String?
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
        if let dataset, !DataSets.names.contains(dataset) {
            throw ValidationError("unknown dataset '\(dataset)'; choose one of: \(DataSets.names.joined(separator: ", "))")
        }
    }

    func run() throws {
        Parallel.maxThreads = threads ?? ProcessInfo.processInfo.activeProcessorCount
        let (net, spec) = loadModel(model, weights: weights, bareSpec: dataset.map { name in { try bareStateDictSpec(name) } })
        if noResidual {
            guard net.residual != nil else { fail("--no-residual: \(model) has no residual connections to turn off (\(residualModels) have)") }
            net.residual = false
        }
        let test = loadTest(spec)
        let r = Evaluator.evaluate(net, test, batchSize: batchSize, keepMistakes: 0)
        print(report(r, residual: net.residual, classNames: spec.classNames))
    }

    /// A bare state_dict (PyTorch's, no nntop metadata) says nothing of its data: --dataset's test images
    /// say it (their channels and classes; the data set's normalization, else their own statistics).
    func bareStateDictSpec(_ name: String) throws -> ImageSpec {
        let test = try DataSets.load(dataset: name, directory: data, imageSize: nil, testOnly: true).test
        return try ImageSpec.make(dataset: name, images: test, statistics: { ChannelStatistics.of(test, items: Array(0..<test.count)) })
    }

    /// Only the test images (the training set is not needed), fed as the checkpoint was trained.
    func loadTest(_ trained: ImageSpec) -> Dataset {
        let name = dataset ?? (DataSets.names.contains(trained.dataset) ? trained.dataset : "mnist")
        do {
            // A folder was resized when it was trained: its test images must be too.
            let test = try DataSets.load(dataset: name, directory: data, imageSize: name == "folder" ? trained.storedHeight : nil,
                                         testOnly: true).test
            try checkData(test, fits: trained, checkpoint: weights)
            return Dataset(test, spec: trained)
        } catch { fail("\(error)") }
    }

    func report(_ r: EvaluationResult, residual: Bool?, classNames: [String]) -> String {
        var lines: [String] = []
        let n = r.classes
        let names = (0..<n).map { classNames.indices.contains($0) ? classNames[$0] : "\($0)" }
        let nameW = max(5, (names.map(\.count).max() ?? 0) + 2)
        lines.append("\(model) \(weights)" + (residual.map { $0 ? " (residual on)" : " (residual off)" } ?? ""))
        lines.append("")
        lines.append("class".padded(to: nameW) + "   count  correct  accuracy")
        for c in 0..<n {
            let count = r.confusion[c].reduce(0, +), correct = r.confusion[c][c]
            let acc = count == 0 ? "-" : String(format: "%.2f%%", 100 * Double(correct) / Double(count))
            lines.append(names[c].padded(to: nameW) + "\(count)".padded(to: 8, right: true) + "\(correct)".padded(to: 9, right: true)
                         + acc.padded(to: 10, right: true))
        }
        lines.append("all".padded(to: nameW) + "\(r.count)".padded(to: 8, right: true) + "\(r.correct)".padded(to: 9, right: true)
                     + String(format: "%.2f%%", r.accuracy).padded(to: 10, right: true))
        lines.append("")
        if n <= 20 {
            lines.append("confusion matrix (rows: true class, columns: predicted)")
            // Columns by class index (names can be long); the rows say which index is which name.
            lines.append("true\\pred".padded(to: nameW + 4) + (0..<n).map { "\($0)".padded(to: 6, right: true) }.joined())
            for c in 0..<n {
                lines.append("\(c) \(names[c])".padded(to: nameW + 4) + r.confusion[c].map { "\($0)".padded(to: 6, right: true) }.joined())
            }
        } else {
            // A 100×100 matrix does not fit a terminal: its largest off-diagonal cells instead.
            var pairs: [(Int, Int, Int)] = []
            for t in 0..<n { for p in 0..<n where p != t && r.confusion[t][p] > 0 { pairs.append((r.confusion[t][p], t, p)) } }
            pairs.sort { $0.0 != $1.0 ? $0.0 > $1.0 : ($0.1, $0.2) < ($1.1, $1.2) }
            lines.append("confusion matrix: \(n)×\(n); the most frequent confusions (true → predicted: images)")
            for (k, t, p) in pairs.prefix(10) { lines.append("  \(names[t]) → \(names[p]): \(k)") }
        }
        lines.append("")
        if let t5 = r.top5Accuracy { lines.append(String(format: "top-5 accuracy %.2f%%", t5)) }
        lines.append(String(format: "test_acc=%.2f%% test_loss=%.4f n=%d", r.accuracy, r.loss, r.count))
        return lines.joined(separator: "\n")
    }
}

/// Reads a checkpoint for inference: the model built for the classes and input channels it was
/// trained on (its metadata; when it has none, `bareSpec`'s, else MNIST's), with its weights. One line
/// and exit 1 on any problem.
func loadModel(_ model: String, weights: String, bareSpec: (() throws -> ImageSpec)? = nil) -> (Network, ImageSpec) {
    let file: SafetensorsFile
    do { file = try SafetensorsFile(path: weights) } catch { fail("\(error)") }
    var spec = Checkpoint.spec(of: file)
    if file.metadata["data"] == nil, file.metadata["model"] == nil, let bareSpec {
        do { spec = try bareSpec() } catch { fail("\(error)") }
    }
    guard let net = ModelZoo.make(model, inChannels: spec.channels, classes: spec.classes) else { fail("unknown model '\(model)'") }
    do { try Checkpoint.load(file: file, into: net) } catch { fail("\(error)") }
    return (net, spec)
}

/// Refuses data the checkpoint was not trained for: another class count, channel count or image size.
func checkData(_ images: ImageSet, fits trained: ImageSpec, checkpoint: String) throws {
    if images.classes != trained.classes || images.channels != trained.channels {
        throw DataError("\(checkpoint): trained on \(trained.classes) classes of \(trained.channels)-channel images, the data has \(images.classes) classes of \(images.channels)-channel images")
    }
    if images.rows != trained.storedHeight || images.cols != trained.storedWidth {
        throw DataError("\(checkpoint): trained on \(trained.storedHeight)×\(trained.storedWidth) images, the data's are \(images.rows)×\(images.cols) (--image-size resizes them)")
    }
}
