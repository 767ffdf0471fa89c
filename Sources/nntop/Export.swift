import ArgumentParser
import Foundation
import Models

struct Export: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Write a weights-only copy of a checkpoint (no optimizer state), as best.safetensors is.",
        discussion: """
        Every tensor but the optimizer's (`optimizer.*`) is copied byte for byte, with the file's \
        metadata (model, data, options) but the optimizer's kind, so PyTorch's \
        model.load_state_dict(safetensors.torch.load_file(OUT)) takes it with strict=True, and nntop \
        eval, predict and --weights read it. --resume refuses it: it has no optimizer state. OUT is \
        written to a temporary file and renamed: never half-written. An existing OUT is refused \
        unless --force.
        """)

    @Argument(help: "The checkpoint: last.safetensors, a step-N snapshot, or any safetensors file.")
    var checkpoint: String
    @Argument(help: "The weights-only file to write.")
    var out: String
    @Flag(help: "Replace OUT if it exists.")
    var force = false

    func run() throws {
        let source: SafetensorsFile
        do { source = try SafetensorsFile(path: checkpoint) } catch { fail("\(error)") }
        var isDir: ObjCBool = false
        if FileManager.default.fileExists(atPath: out, isDirectory: &isDir) {
            if isDir.boolValue { fail("\(out) is a folder: give the file to write, e.g. \(out)/weights.safetensors") }
            if !force { fail("\(out) exists: pass --force to replace it") }
        }
        let parent = (out as NSString).deletingLastPathComponent
        if !parent.isEmpty && !FileManager.default.fileExists(atPath: parent) { fail("cannot write \(out): no folder \(parent)") }
        do {
            let (kept, dropped) = try Checkpoint.exportWeights(source, to: out)
            print("wrote \(out): \(kept) weight tensors" + (dropped > 0 ? ", \(dropped) optimizer tensors left out" : ", no optimizer state was there"))
        } catch let e as AtomicFile.WriteError {
            fail("cannot write \(out): \(e.reason)")
        } catch { fail("\(error)") }
    }
}
