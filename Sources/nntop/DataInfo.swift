import ArgumentParser
import Foundation
import Models

/// `nntop data DIR`: what nntop finds in a data folder and how long reading it takes (BENCHMARKS.md
/// measures startup with it). Shows the pattern training uses: progress on stderr, Ctrl-C cancels.
struct DataInfo: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "data",
        abstract: "Read a data folder as training would and say what it holds, in one line, with the time it took.")

    @Argument(help: "The folder (MNIST/Fashion-MNIST idx, CIFAR-10/100 binary, or class folders of PNG/JPEG images).")
    var directory: String
    @Option(help: "What it holds when detection could be wrong: mnist, fashion-mnist, cifar10, cifar100, folder.")
    var dataset: String?
    @Option(name: .customLong("image-size"), help: "Resize images to N×N (default: image folders 32, other sets their own size).")
    var imageSize: Int?

    func validate() throws {
        if let dataset, DataKind(rawValue: dataset) == nil {
            throw ValidationError("unknown dataset '\(dataset)'; choose one of: \(DataKind.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        if let imageSize, !(1...4096).contains(imageSize) { throw ValidationError("--image-size must be between 1 and 4096 (got \(imageSize))") }
    }

    func run() throws {
        let cancel = CancelOnInterrupt()
        let start = Date()
        let tty = isatty(STDERR_FILENO) == 1
        do {
            let d = try DataSource.load(directory: directory, kind: dataset.flatMap(DataKind.init(rawValue:)), imageSize: imageSize,
                                        progress: { f in
                                            if tty { FileHandle.standardError.write(Data(String(format: "\rdecoding %3.0f%%", f * 100).utf8)) }
                                        }, isCancelled: cancel.isSet)
            if tty { FileHandle.standardError.write(Data("\r\u{1B}[K".utf8)) }
            print(d.description)
            print(String(format: "read in %.2f s", Date().timeIntervalSince(start)))
        } catch is LoadCancelled {
            fail("interrupted while reading \(directory)", code: 130)
        } catch { fail("\(error)") }
    }
}

/// Ctrl-C sets a flag the decoders poll (a second one exits at once).
final class CancelOnInterrupt: @unchecked Sendable {
    private let lock = NSLock()
    private var flag = false
    private var source: DispatchSourceSignal?

    init() {
        signal(SIGINT, SIG_IGN)
        let s = DispatchSource.makeSignalSource(signal: SIGINT, queue: .global())
        s.setEventHandler { [weak self] in
            guard let self else { return }
            self.lock.lock(); let again = self.flag; self.flag = true; self.lock.unlock()
            if again { exit(130) }
        }
        s.resume()
        source = s
    }

    func isSet() -> Bool { lock.lock(); defer { lock.unlock() }; return flag }
}
