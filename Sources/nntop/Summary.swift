import ArgumentParser
import Foundation
import Models

struct Summary: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Every layer's output shape, parameters and multiply-accumulates, then the totals (like torchsummary + torchstat).",
        discussion: """
        Shapes are for one sample of the model's natural input (LeNet-5 and ResNet-18 1×32×32, the \
        ImageNet ResNets 3×224×224, the CIFAR ResNets 3×32×32) unless --input says otherwise. MACs count as fvcore does: a conv Cout·OH·OW·Cin·K·K, a linear \
        layer in·out, batch norm, ReLU and pooling 0. Activation memory is the float32 bytes of every \
        running layer's output for one sample.
        """)

    @Argument(help: "The model: \(ModelZoo.names.joined(separator: ", ")).")
    var model: String = "lenet5"
    @Flag(name: .customLong("no-residual"), help: "A ResNet without its shortcut connections: the projection shortcuts show as unused.")
    var noResidual = false
    @Option(help: "The input shape C,H,W of one sample (default: the model's natural input).")
    var input: String?
    @Option(help: "Output classes of the last layer.")
    var classes = 10

    /// --input as [C, H, W] (the model's natural input when not given), nil when malformed.
    var inputShape: [Int]? {
        guard let input else { return ModelZoo.spec(model)?.input }
        return try? parseInputShape(input)
    }

    func validate() throws {
        guard ModelZoo.names.contains(model) else {
            throw ValidationError("unknown model '\(model)'; choose one of: \(ModelZoo.names.joined(separator: ", "))")
        }
        guard classes >= 2 && classes <= 100_000 else { throw ValidationError("--classes must be between 2 and 100000 (got \(classes))") }
        if let input { _ = try parseInputShape(input) }
    }

    func run() throws {
        let shape = inputShape!
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
