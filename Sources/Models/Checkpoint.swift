import Foundation
import Kernels

/// Model weights as safetensors with PyTorch's state_dict names, so PyTorch loads them directly.
public enum Checkpoint {
    public static func save(_ net: Network, to path: String, metadata: [String: String] = [:]) throws {
        var w = SafetensorsWriter()
        for e in net.state {
            if e.isCounter { w.add(e.name, shape: [], int64s: [Int64(e.tensor[0])]) }
            else { w.add(e.name, shape: e.tensor.shape, floats: UnsafeBufferPointer(start: e.tensor.data, count: e.tensor.count)) }
        }
        w.metadata = metadata.merging(["model": net.name, "residual": net.residual.map { $0 ? "1" : "0" } ?? "-"]) { a, _ in a }
        try w.write(to: path)
    }
}
