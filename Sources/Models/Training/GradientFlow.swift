import Foundation
import Kernels

/// How gradients flow through a model at one training step, layer by layer from input to output:
/// the gradient norm ‖∇W‖ (of the batch's mean loss, before weight decay), the weight norm ‖W‖ (before
/// the update) and the update-to-weight ratio ‖ΔW‖/‖W‖, ΔW the update the optimizer applied (lr·step,
/// so momentum and Adam count). ~1e-3 is the classic healthy ratio; 1e-6 is a stalled layer, 1e-1 one
/// about to diverge.
///
/// A layer is a module owning parameters (`layer1.0.conv1`: its weight and bias, named as PyTorch's
/// state_dict names them, minus the last component); a unit is one of the network's timed units (a
/// ResNet block `layer1.0`, or a layer of its own). Both come from the network's units and parameter
/// names, never from the model's name.
public struct GradientFlow: Equatable, Sendable, Codable {
    public struct Figures: Equatable, Sendable, Codable {
        public var name: String
        /// The network unit (ResNet block) the layer belongs to; a unit's own name for a unit.
        public var unit: String
        /// Σ of squares over the layer's parameters: gradient, weights before the step, update applied.
        public var gradSquares: Double, weightSquares: Double, updateSquares: Double
        /// A conv or linear layer (a weight of two or more dimensions), as opposed to a batch norm's
        /// per-channel scale and shift: the layers a gradient-flow chart shows.
        public var matrix: Bool
        /// False when none of its parameters took part in the step (a bypassed shortcut projection).
        public var inUse: Bool

        public init(name: String, unit: String, gradSquares: Double, weightSquares: Double, updateSquares: Double,
                    matrix: Bool, inUse: Bool = true) {
            self.name = name; self.unit = unit; self.gradSquares = gradSquares; self.weightSquares = weightSquares
            self.updateSquares = updateSquares; self.matrix = matrix; self.inUse = inUse
        }
        /// From logged norms (metrics.jsonl): the squares back from the norms and the ratio.
        public init(name: String, unit: String, gradNorm: Double, weightNorm: Double, updateRatio: Double, matrix: Bool,
                    inUse: Bool = true) {
            // A layer not in use (null figures in the log) adds nothing to its unit's sums.
            let u = updateRatio.isFinite ? updateRatio * weightNorm : 0
            self.init(name: name, unit: unit, gradSquares: gradNorm * gradNorm, weightSquares: weightNorm * weightNorm,
                      updateSquares: u * u, matrix: matrix, inUse: inUse)
        }

        public var gradNorm: Double { gradSquares.squareRoot() }
        public var weightNorm: Double { weightSquares.squareRoot() }
        /// ‖ΔW‖/‖W‖ (NaN for weights that are all zero).
        public var updateRatio: Double { weightSquares > 0 ? (updateSquares / weightSquares).squareRoot() : .nan }
    }

    /// The step these figures were measured at (after its update).
    public var step: Int
    /// Every layer with parameters, in state_dict order (input to output).
    public var layers: [Figures]

    public init(step: Int, layers: [Figures]) { self.step = step; self.layers = layers }

    /// The layers summed per unit (ResNet blocks), in order: norms of all the unit's parameters together.
    public var units: [Figures] {
        var out: [Figures] = []
        for l in layers {
            if let last = out.last, last.unit == l.unit {
                out[out.count - 1].gradSquares += l.gradSquares
                out[out.count - 1].weightSquares += l.weightSquares
                out[out.count - 1].updateSquares += l.updateSquares
                out[out.count - 1].matrix = last.matrix || l.matrix
                out[out.count - 1].inUse = last.inUse || l.inUse
            } else {
                var u = l; u.name = l.unit
                out.append(u)
            }
        }
        return out
    }
}

/// Which parameters make which layer and which unit, worked out once per network; turns the
/// optimizer's per-parameter sums (`Optimizer.measured`) into `GradientFlow` figures.
public struct GradientGroups: Sendable {
    public let layerNames: [String]
    public let layerUnits: [String]
    public let layerIsMatrix: [Bool]
    /// Per parameter (in `Network.parameters` order), the index of its layer.
    public let parameterLayer: [Int]

    public init(_ net: Network) {
        var names: [String] = [], units: [String] = [], matrix: [Bool] = [], owner: [Int] = []
        for unit in net.units {
            for p in unit.parameters {
                let layer = p.name.split(separator: ".").dropLast().joined(separator: ".")
                let name = layer.isEmpty ? p.name : layer
                if names.last != name || units.last != unit.name {
                    names.append(name); units.append(unit.name); matrix.append(false)
                }
                if p.value.shape.count >= 2 { matrix[matrix.count - 1] = true }
                owner.append(names.count - 1)
            }
        }
        layerNames = names; layerUnits = units; layerIsMatrix = matrix; parameterLayer = owner
    }

    /// The figures of one measured step: `sums` and `inUse` per parameter.
    public func figures(_ sums: [UpdateSums], inUse: [Bool], step: Int) -> GradientFlow {
        precondition(sums.count == parameterLayer.count && inUse.count == sums.count, "one sum per parameter")
        var layers = layerNames.indices.map {
            GradientFlow.Figures(name: layerNames[$0], unit: layerUnits[$0], gradSquares: 0, weightSquares: 0,
                                 updateSquares: 0, matrix: layerIsMatrix[$0], inUse: false)
        }
        for (i, s) in sums.enumerated() {
            let l = parameterLayer[i]
            layers[l].gradSquares += s.grad
            layers[l].weightSquares += s.weight
            layers[l].updateSquares += s.update
            if inUse[i] { layers[l].inUse = true }
        }
        return GradientFlow(step: step, layers: layers)
    }
}

/// Text already in JSON form, written into a metrics line as it is.
struct RawJSON { var text: String; init(_ t: String) { text = t } }

extension GradientFlow {
    /// metrics.jsonl's `"grad"` object: one array per figure, aligned with `layers` (input to output;
    /// JSON objects have no key order, so the layers are a list): `{"layers":[…],"unit":[…],"matrix":[…],
    /// "grad_norm":[…],"weight_norm":[…],"update_ratio":[…]}`; a layer not in use has null figures.
    var json: String {
        func num(_ v: Double, _ l: Figures) -> String { l.inUse && v.isFinite ? String(format: "%.6g", v) : "null" }
        func str(_ s: String) -> String { "\"" + s.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"") + "\"" }
        let parts = [
            "\"layers\":[" + layers.map { str($0.name) }.joined(separator: ",") + "]",
            "\"unit\":[" + layers.map { str($0.unit) }.joined(separator: ",") + "]",
            "\"matrix\":[" + layers.map { $0.matrix ? "true" : "false" }.joined(separator: ",") + "]",
            "\"grad_norm\":[" + layers.map { num($0.gradNorm, $0) }.joined(separator: ",") + "]",
            "\"weight_norm\":[" + layers.map { num($0.weightNorm, $0) }.joined(separator: ",") + "]",
            "\"update_ratio\":[" + layers.map { num($0.updateRatio, $0) }.joined(separator: ",") + "]",
        ]
        return "{" + parts.joined(separator: ",") + "}"
    }

    /// TensorBoard's `grad_norm/LAYER` and `update_ratio/LAYER` of every layer in use.
    var tensorBoardScalars: [(String, Double)] {
        layers.filter(\.inUse).flatMap { [("grad_norm/\($0.name)", $0.gradNorm), ("update_ratio/\($0.name)", $0.updateRatio)] }
    }

    /// Reads metrics.jsonl's `"grad"` object back (nil: missing or malformed).
    public init?(json o: [String: Any], step: Int) {
        guard let names = o["layers"] as? [String], let units = o["unit"] as? [String], units.count == names.count,
              let g = o["grad_norm"] as? [Any], let w = o["weight_norm"] as? [Any], let r = o["update_ratio"] as? [Any],
              g.count == names.count, w.count == names.count, r.count == names.count else { return nil }
        let matrix = (o["matrix"] as? [Bool]) ?? names.map { _ in true }
        guard matrix.count == names.count else { return nil }
        self.init(step: step, layers: names.indices.map { i in
            // A whole number may come back from JSON as an Int.
            func number(_ v: Any) -> Double? { (v as? Double) ?? (v as? Int).map(Double.init) }
            let gn = number(g[i]), wn = number(w[i]), ur = number(r[i])
            return Figures(name: names[i], unit: units[i], gradNorm: gn ?? 0, weightNorm: wn ?? 0, updateRatio: ur ?? .nan,
                           matrix: matrix[i], inUse: gn != nil)
        })
    }
}
