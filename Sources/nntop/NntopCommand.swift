import ArgumentParser
import Foundation
import Models

/// When the command started: the final line's wall time counts data loading too.
let processStart = Date()

@main
struct Nntop: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "nntop",
        abstract: "htop for training a CNN: trains LeNet-5 or ResNet-18 on MNIST on the CPU and shows it live.",
        discussion: """
        Examples:
          nntop                               train LeNet-5 on the bundled MNIST (dashboard in a terminal)
          nntop resnet18 --no-residual        ResNet-18 without its shortcuts; run again with them and compare
          nntop lenet5 --headless --epochs 3  progress lines instead of the dashboard
          nntop resnet18 --compare runs/20261126-100200-resnet18-nores
                                              train with shortcuts, that earlier run's curves behind
          nntop view runs/A runs/B            finished runs on the dashboard, no training
        """,
        version: nntopVersion,
        subcommands: [Train.self, Bench.self, Eval.self, Summary.self, Runs.self, View.self],
        defaultSubcommand: Train.self)
}


/// Prints `message` as one line on stderr and exits with `code` (no usage dump, no stack trace).
func fail(_ message: String, code: Int32 = 1) -> Never {
    FileHandle.standardError.write(Data("nntop: \(message)\n".utf8))
    exit(code)
}
