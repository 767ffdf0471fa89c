import ArgumentParser
import Foundation
import Models

struct Summary: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Every layer's output shape, parameters and multiply-accumulates, then the totals (like torchsummary + torchstat).",
        discussion: """
        Shapes are for one sample of --input (default 1×32×32, MNIST's padded digits). MACs count as fvcore does: a conv Cout·OH·OW·Cin·K·K, a linear \
        layer in·out, batch norm, ReLU and pooling 0. Activation memory is the float32 bytes of every \
        running layer's output for one sample.
        """)

    @Argument(help: "The model: \(ModelZoo.names.joined(separator: ", ")).")
    var model: String = "lenet5"
    @Flag(name: .customLong("no-residual"), help: "ResNet-18 without its shortcut connections: the projection shortcuts show as unused.")
    var noResidual = false
    @Option(help: ArgumentHelp("One sample's shape, e.g. 3,32,32 for CIFAR (default: 1,32,32).", valueName: "C,H,W"))
    var input: String = "1,32,32"
    @Option(parsing: .unconditional, help: "Classes of the model's head (default: 10).")
    var classes: Int = 10

    func validate() throws {
        guard ModelZoo.names.contains(model) else {
            throw ValidationError("unknown model '\(model)'; choose one of: \(ModelZoo.names.joined(separator: ", "))")
        }
        _ = try parseInputShape(input)
        guard classes >= 2 && classes <= 100_000 else { throw ValidationError("--classes must be between 2 and 100000 (got \(classes))") }
    }

    func run() throws {
        let shape = try parseInputShape(input)
        guard let net = ModelZoo.make(model, inChannels: shape[0], classes: classes, residual: !noResidual) else { fail("unknown model '\(model)'") }
        print(ModelSummary(net, inputShape: shape).table())
    }
}

/// "3,32,32" → [3, 32, 32], for --input.
func parseInputShape(_ s: String) throws -> [Int] {
    let v = s.split(separator: ",", omittingEmptySubsequences: false).map { Int($0.trimmingCharacters(in: .whitespaces)) }
    guard v.count == 3, let c = v[0], let h = v[1], let w = v[2], (1...4096).contains(c), (1...4096).contains(h), (1...4096).contains(w) else {
        throw ValidationError("--input \(s): give channels,height,width, e.g. 3,32,32 (each 1 to 4096)")
    }
    return [c, h, w]
}
