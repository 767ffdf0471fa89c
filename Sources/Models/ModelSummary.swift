import Foundation
import Kernels

/// A torchsummary/torchstat-style description of a model: every leaf layer in execution order with
/// its PyTorch name, output shape for one sample, parameter count and multiply-accumulates, then totals.
///
/// Conventions (fvcore's): a conv counts Cout·OH·OW·Cin·K·K MACs, a linear layer in·out; batch norm,
/// ReLU, pooling and flatten count 0 (their work is not multiply-accumulates). Shapes are propagated
/// from the input shape by each layer's own geometry (no kernel runs).
public struct ModelSummary: Equatable, Sendable {
    public struct Row: Equatable, Sendable {
        /// The layer's name: the module's state_dict prefix (`layer1.0.conv1`), or nntop's name for what
        /// PyTorch does functionally (`relu1`, `pool1`, `layer1.0.relu2`).
        public var name: String
        /// What it is, e.g. `Conv2d(1→6, 5×5)`.
        public var kind: String
        /// Output shape for one sample (no batch dimension).
        public var outputShape: [Int]
        public var parameters: Int
        public var macs: Int
        /// False for the projection shortcuts of a ResNet with residuals off: they hold weights but do not run.
        public var used: Bool
        /// True when the output is a view of the input (Flatten): no memory of its own.
        public var isView: Bool
        public var outputElements: Int { outputShape.reduce(1, *) }
    }

    public let model: String
    public let residual: Bool?
    public let inputShape: [Int]
    public let rows: [Row]

    /// Every parameter of the model, used or not (as `sum(p.numel() for p in model.parameters())`).
    public var totalParameters: Int { rows.reduce(0) { $0 + $1.parameters } }
    /// Parameters of layers that do not run (the unused shortcuts).
    public var unusedParameters: Int { rows.filter { !$0.used }.reduce(0) { $0 + $1.parameters } }
    /// Multiply-accumulates of one forward pass of one sample (layers that run).
    public var totalMACs: Int { rows.filter(\.used).reduce(0) { $0 + $1.macs } }
    /// Float32 bytes of the outputs of every layer that runs, for one sample. Views (Flatten) hold no
    /// memory of their own; the input and the residual add's sum are not counted.
    public var activationBytes: Int {
        rows.filter { $0.used && !$0.isView }.reduce(0) { $0 + 4 * $1.outputElements }
    }

    public init(_ net: Network, inputShape: [Int] = [1, 32, 32]) {
        model = net.name; residual = net.residual; self.inputShape = inputShape
        var rows: [Row] = []
        var shape = inputShape
        // Each unit traces the leaves it runs (a block: its main path, its shortcut, its last ReLU).
        for unit in net.units {
            let trace = unit.trace(shape)
            rows += trace.map(Self.describe)
            shape = unit.outputShape(for: shape)
        }
        self.rows = rows
    }

    static func describe(_ t: LayerTrace) -> Row {
        Row(name: t.layer.name, kind: t.layer.kind, outputShape: t.output,
            parameters: t.layer.parameters.reduce(0) { $0 + $1.value.count },
            macs: t.layer.multiplyAccumulates(for: t.input), used: t.used, isView: t.layer is Flatten)
    }

    /// The table `nntop summary` prints.
    public func table() -> String {
        func group(_ n: Int) -> String {
            let s = String(n.magnitude)
            var out = ""
            for (i, ch) in s.enumerated() {
                if i > 0 && (s.count - i) % 3 == 0 { out.append(",") }
                out.append(ch)
            }
            return (n < 0 ? "-" : "") + out
        }
        func shape(_ s: [Int]) -> String { "[" + s.map(String.init).joined(separator: ", ") + "]" }
        let nameW = max(5, rows.map(\.name.count).max() ?? 0) + 2
        let kindW = max(4, rows.map(\.kind.count).max() ?? 0) + 2
        let shapeW = max(12, rows.map { shape($0.outputShape).count }.max() ?? 0) + 2
        var lines: [String] = []
        let res = residual.map { $0 ? "on" : "off" }
        lines.append("\(model): input \(inputShape.map(String.init).joined(separator: "×")) (one sample)"
                     + (res.map { ", residual connections \($0)" } ?? ""))
        let header = "Layer".padded(to: nameW) + "Type".padded(to: kindW) + "Output shape".padded(to: shapeW)
            + "Params".padded(to: 12, right: true) + "MACs".padded(to: 15, right: true)
        lines.append(header)
        lines.append(String(repeating: "-", count: header.count + 9))
        for r in rows {
            lines.append(r.name.padded(to: nameW) + r.kind.padded(to: kindW) + shape(r.outputShape).padded(to: shapeW)
                         + group(r.parameters).padded(to: 12, right: true) + (r.used ? group(r.macs) : "-").padded(to: 15, right: true)
                         + (r.used ? "" : "  unused"))
        }
        lines.append(String(repeating: "-", count: header.count + 9))
        let unused = unusedParameters
        lines.append("Total parameters:  \(group(totalParameters))"
                     + (unused > 0 ? " (\(group(unused)) of them in unused shortcuts)" : ""))
        lines.append("Total MACs:        \(group(totalMACs)) (\(String(format: "%.2f", Double(totalMACs) / 1e6)) M) per sample;"
                     + " conv and linear multiply-accumulates as fvcore counts them")
        lines.append("Activations:       \(group(activationBytes)) bytes (\(String(format: "%.1f", Double(activationBytes) / 1024)) KiB)"
                     + " per sample; float32 outputs of every layer that runs (Flatten is a view; the input and the residual add are not counted)")
        return lines.joined(separator: "\n")
    }
}
