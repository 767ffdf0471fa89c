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
        // Each example line fits in 80 columns: ArgumentParser wraps longer ones mid-sentence.
        discussion: """
        Examples:
          nntop                            LeNet-5 on the bundled MNIST, live dashboard
          nntop resnet18 --no-residual     ResNet-18 without its shortcuts ...
          nntop resnet18 --compare RUN     ... with them, that run's curves behind
          nntop lenet5 --headless          progress lines instead of the dashboard
          nntop runs                       the runs so far, newest first
          nntop view RUN [RUN ...]         finished runs on the dashboard
          nntop attach [RUN]               the dashboard on a running training
          nntop ls                         runs; live ones with pid, state, who is attached
          nntop stop RUN                   stop a running training (pause, resume,
                                           snap and lr RUN 0.01 steer it)
          nntop train --help               every training option
        """,
        version: nntopVersion,
        subcommands: [Train.self, Bench.self, Eval.self, Predict.self, Summary.self, Export.self, Runs.self, View.self, DataInfo.self,
                      Attach.self, Stop.self, Pause.self, Resume.self, LR.self, Snap.self],
        defaultSubcommand: Train.self)
}


/// Prints `message` as one line on stderr and exits with `code` (no usage dump, no stack trace).
func fail(_ message: String, code: Int32 = 1) -> Never {
    FileHandle.standardError.write(Data("nntop: \(message)\n".utf8))
    exit(code)
}
