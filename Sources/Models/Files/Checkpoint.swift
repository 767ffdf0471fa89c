import Foundation
import Kernels

/// What is wrong with a checkpoint, naming the file and the tensor.
public struct CheckpointError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// Checkpoints as safetensors with PyTorch's state_dict names and dtypes (float32 tensors,
/// num_batches_tracked as int64), so `safetensors.torch.load_file` + `load_state_dict(strict=True)`
/// reads them. Optimizer state goes in `optimizer.<parameter>.<buffer>` tensors (PyTorch's buffer
/// names), the run's position and options in `__metadata__`. A weights-only checkpoint
/// (best.safetensors, `nntop export`'s) has no optimizer tensors and no `optimizer` metadata, so
/// `model.load_state_dict(load_file(path))` takes it bare.
public enum Checkpoint {
    /// Whether a checkpoint holds optimizer state to resume from: nntop writes the optimizer's kind
    /// (even plain SGD's, which has no tensors) into every checkpoint that has it.
    public static func hasOptimizerState(_ file: SafetensorsFile) -> Bool { file.metadata["optimizer"] != nil }

    /// Writes `source`'s weights alone to `path` (atomically): every tensor but the `optimizer.` ones,
    /// byte for byte, and the metadata but the optimizer's kind. Refuses a file with nothing else.
    public static func exportWeights(_ source: SafetensorsFile, to path: String) throws -> (kept: Int, dropped: Int) {
        let kept = source.names.filter { !$0.hasPrefix("optimizer.") }
        guard !kept.isEmpty else { throw CheckpointError("\(source.path): holds no weights (\(source.names.isEmpty ? "no tensors" : "only optimizer state"))") }
        var w = SafetensorsWriter()
        for name in kept {
            let e = source.entries[name]!
            w.add(name, dtype: e.dtype, shape: e.shape, bytes: source.rawBytes(name))
        }
        var meta = source.metadata
        meta["optimizer"] = nil
        w.metadata = meta
        try w.write(to: path)
        return (kept.count, source.names.count - kept.count)
    }

    static func bufferNames(_ kind: OptimizerKind) -> [String] {
        switch kind {
        case .sgd: []
        case .momentum, .nesterov: ["momentum_buffer"]
        case .adam: ["exp_avg", "exp_avg_sq"]
        }
    }

    public static func save(_ net: Network, optimizer: Optimizer? = nil, metadata: [String: String] = [:],
                            to path: String) throws {
        var w = SafetensorsWriter()
        for e in net.state {
            if e.isCounter { w.add(e.name, shape: [], int64s: [Int64(e.tensor[0])]) }
            else { w.add(e.name, shape: e.tensor.shape, tensor: e.tensor, layout: e.layout) }
        }
        if let optimizer {
            let names = bufferNames(optimizer.kind)
            for (i, p) in optimizer.parameters.enumerated() {
                for (b, name) in names.enumerated() {
                    let t = optimizer.buffers[i][b]
                    w.add("optimizer.\(p.name).\(name)", shape: t.shape, tensor: t, layout: p.layout)
                }
                if !names.isEmpty { w.add("optimizer.\(p.name).step", shape: [], int64s: [Int64(optimizer.steps[i])]) }
            }
        }
        var meta = metadata
        meta["model"] = net.name
        meta["residual"] = net.residual.map { $0 ? "1" : "0" } ?? "-"
        meta["nntop_version"] = meta["nntop_version"] ?? "unknown"
        if let optimizer { meta["optimizer"] = optimizer.kind.rawValue }
        w.metadata = meta
        try w.write(to: path)
    }

    /// Checks the whole file against `net` (and `optimizer`, when resuming) before changing anything:
    /// a checkpoint of another model, a missing, extra or misshapen tensor leaves the model untouched.
    /// Returns the file's metadata.
    @discardableResult
    public static func load(_ path: String, into net: Network, optimizer: Optimizer? = nil) throws -> [String: String] {
        let file: SafetensorsFile
        do { file = try SafetensorsFile(path: path) } catch { throw CheckpointError("\(error)") }
        return try load(file: file, into: net, optimizer: optimizer)
    }

    /// Refuses, with one line, a checkpoint nntop trained on data of another class count or channel
    /// count than `spec`'s (its metadata says); checkpoints without that metadata (PyTorch's, older
    /// nntop's) are caught by their tensors' shapes in `load`.
    public static func checkFits(_ file: SafetensorsFile, spec: ImageSpec) throws {
        guard let json = file.metadata["data"], let trained = ImageSpec.fromJSON(json) else { return }
        if trained.classes != spec.classes || trained.channels != spec.channels {
            throw CheckpointError("\(file.path): trained on \(trained.classes) classes of \(ImageSpec.shapeText(trained.inputShape)) images (\(trained.dataset)), the data has \(spec.classes) classes of \(ImageSpec.shapeText(spec.inputShape)) (\(spec.dataset))")
        }
    }

    /// The data spec a checkpoint was trained with: nntop's metadata, else MNIST's (PyTorch's
    /// state_dicts of the reference models and checkpoints from before issue 16 were MNIST's).
    public static func spec(of file: SafetensorsFile) -> ImageSpec {
        file.metadata["data"].flatMap(ImageSpec.fromJSON) ?? .mnist
    }

    @discardableResult
    public static func load(file: SafetensorsFile, into net: Network, optimizer: Optimizer? = nil) throws -> [String: String] {
        let path = file.path
        if let model = file.metadata["model"], model != net.name {
            throw CheckpointError("\(path): a checkpoint of \(model), not \(net.name)")
        }
        let state = net.state
        var expected = [String: (shape: [Int], dtype: SafetensorsFile.DType)]()
        for e in state { expected[e.name] = (e.isCounter ? [] : e.tensor.shape, e.isCounter ? .i64 : .f32) }
        if let optimizer {
            let names = bufferNames(optimizer.kind)
            guard file.metadata["optimizer"] == optimizer.kind.rawValue || names.isEmpty else {
                throw CheckpointError("\(path): holds no \(optimizer.kind.rawValue) optimizer state (it has \(file.metadata["optimizer"] ?? "none")); load it with --weights to start a new run from its weights")
            }
            for p in optimizer.parameters {
                for n in names { expected["optimizer.\(p.name).\(n)"] = (p.value.shape, .f32) }
                if !names.isEmpty { expected["optimizer.\(p.name).step"] = ([], .i64) }
            }
        }
        // Name, shape and dtype of everything first.
        for e in state where file.entries[e.name] == nil {
            let known = Set(state.map(\.name)).intersection(file.names).count
            throw CheckpointError("\(path): tensor \(e.name) is missing" + (known < state.count / 2
                ? " (only \(known) of \(net.name)'s \(state.count) tensors are there: a checkpoint of another model?)" : ""))
        }
        for (name, want) in expected {
            guard let have = file.entries[name] else { throw CheckpointError("\(path): tensor \(name) is missing") }
            guard have.shape == want.shape || (want.shape.isEmpty && have.shape == [1]) else {
                // The input conv and the head are where data of another shape shows: say so.
                if name == net.parameters.first?.name, have.shape.count == 4, want.shape.count == 4, have.shape[1] != want.shape[1] {
                    throw CheckpointError("\(path): takes \(have.shape[1])-channel images (tensor \(name) \(have.shape)), the data has \(want.shape[1]) channel(s)")
                }
                // Only the head's class dimension differs (not its rank or other sizes): another class count.
                if net.parameters.suffix(2).contains(where: { $0.name == name }), have.shape.count == want.shape.count,
                   have.shape.dropFirst() == want.shape.dropFirst(), let h = have.shape.first, let w = want.shape.first {
                    throw CheckpointError("\(path): has \(h) classes (tensor \(name) \(have.shape)), the data has \(w)")
                }
                throw CheckpointError("\(path): tensor \(name) has shape \(have.shape), \(net.name) expects \(want.shape) (a checkpoint of another model?)")
            }
            let ok = have.dtype == want.dtype || (want.dtype == .i64 && have.dtype == .f32)
            guard ok else { throw CheckpointError("\(path): tensor \(name) is \(have.dtype.rawValue), expected \(want.dtype.rawValue)") }
        }
        for name in file.names where expected[name] == nil && !name.hasPrefix("optimizer.") {
            throw CheckpointError("\(path): unexpected tensor \(name) (not part of \(net.name))")
        }
        // Then read everything before writing anything.
        var values = [String: [Float]]()
        for name in expected.keys { values[name] = try file.floats(name) }
        for (name, v) in values where v.contains(where: { !$0.isFinite }) {
            throw CheckpointError("\(path): tensor \(name) holds NaN or infinite values")
        }
        for e in state { e.layout.setTorchOrder(values[e.name]!, into: e.tensor) }
        if let optimizer {
            let names = bufferNames(optimizer.kind)
            for (i, p) in optimizer.parameters.enumerated() {
                for (b, n) in names.enumerated() { p.layout.setTorchOrder(values["optimizer.\(p.name).\(n)"]!, into: optimizer.buffers[i][b]) }
                if !names.isEmpty { optimizer.steps[i] = Int(values["optimizer.\(p.name).step"]![0]) }
            }
            optimizer.buffersReplaced()
        }
        if let r = file.metadata["residual"], r == "0" || r == "1" { net.residual = r == "1" }
        return file.metadata
    }
}
