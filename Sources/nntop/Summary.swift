import ArgumentParser
import Foundation
import Models

struct Summary: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Every layer's output shape, parameters and multiply-accumulates, then the totals (like torchsummary + torchstat).",
        discussion: """
        Shapes are for one 1×32×32 sample. MACs count as fvcore does: a conv Cout·OH·OW·Cin·K·K, a linear \
        layer in·out, batch norm, ReLU and pooling 0. Activation memory is the float32 bytes of every \
        running layer's output for one sample.
        """)

    @Argument(help: "The model: \(ModelZoo.names.joined(separator: ", ")).")
    var model: String = "lenet5"
    @Flag(name: .customLong("no-residual"), help: "ResNet-18 without its shortcut connections: the projection shortcuts show as unused.")
    var noResidual = false

    func validate() throws {
        guard ModelZoo.names.contains(model) else {
            throw ValidationError("unknown model '\(model)'; choose one of: \(ModelZoo.names.joined(separator: ", "))")
        }
    }

    func run() throws {
        guard let net = ModelZoo.make(model, residual: !noResidual) else { fail("unknown model '\(model)'") }
        print(ModelSummary(net).table())
    }
}
