import ArgumentParser
import Foundation
import Kernels
import Models

struct Predict: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Classify image files with a checkpoint: the top classes and their probabilities, one block per image.",
        discussion: """
        Each image is fed as the checkpoint's training data was: its size, channels and normalization \
        come from the checkpoint (an MNIST model for PyTorch's state_dicts). Grey images given to a \
        colour model are repeated into each channel; colour ones given to a grey model are made grey. \
        Reads PNG, JPEG and binary PGM/PPM (P5/P6, 8-bit) images, resized to the training size.
        """)

    @Argument(help: "The model: \(ModelZoo.names.joined(separator: ", ")).")
    var model: String
    @Option(help: "The checkpoint (.safetensors).")
    var weights: String
    @Argument(help: ArgumentHelp("Image files.", valueName: "image"))
    var images: [String] = []
    @Option(parsing: .unconditional, help: "How many classes to show per image (default: 5, or every class when there are fewer).")
    var top: Int = 5
    @Flag(help: "One JSON object per image and line: {\"image\":…,\"top\":[{\"class\":i,\"name\":…,\"probability\":p},…]}.")
    var json = false
    @Option(help: "Worker threads for the kernels (default: all cores).")
    var threads: Int?

    /// How a file becomes channel planes: PNG and JPEG through the image readers, else PGM/PPM.
    static func decode(_ path: String) throws -> PlanarImage {
        guard let data = FileManager.default.contents(atPath: path) else { throw DataError("\(path): cannot be read (missing?)") }
        let bytes = [UInt8](data)
        guard PNGDecode.isPNG(bytes) || JPEGDecode.isJPEG(bytes) else { return try PNM.decode(bytes, path: path) }
        let image = PNGDecode.isPNG(bytes) ? try PNGDecode.decode(bytes, path: path) : try JPEGDecode.decode(bytes, path: path)
        let (pixels, channels) = image.planar()
        return PlanarImage(channels: channels, rows: image.height, cols: image.width, pixels: pixels)
    }

    func validate() throws {
        guard ModelZoo.names.contains(model) else {
            throw ValidationError("unknown model '\(model)'; choose one of: \(ModelZoo.names.joined(separator: ", "))")
        }
        guard !images.isEmpty else { throw ValidationError("name at least one image file") }
        guard top > 0 else { throw ValidationError("--top must be a positive number (got \(top))") }
        if let threads, !(threads > 0 && threads <= 256) { throw ValidationError("--threads must be between 1 and 256 (got \(threads))") }
    }

    func run() throws {
        Parallel.maxThreads = threads ?? ProcessInfo.processInfo.activeProcessorCount
        let (net, spec) = loadModel(model, weights: weights)
        let set: ImageSet
        do { set = try spec.imageSet(try images.map { ($0, try Self.decode($0)) }) } catch { fail("\(error)") }
        let probabilities = Evaluator.probabilities(net, Dataset(set, spec: spec))
        var blocks: [String] = []
        for (path, p) in zip(images, probabilities) {
            let best = topClasses(p, k: min(top, spec.classes))
            func name(_ i: Int) -> String { spec.classNames.indices.contains(i) ? spec.classNames[i] : "\(i)" }
            if json {
                // Float's shortest text: a script reads back exactly the probability computed.
                let entries = best.map { "{\"class\":\($0.index),\"name\":\(jsonQuoted(name($0.index))),\"probability\":\($0.probability)}" }
                blocks.append("{\"image\":\(jsonQuoted(path)),\"top\":[\(entries.joined(separator: ","))]}")
            } else {
                let w = best.map { name($0.index).count }.max() ?? 0
                blocks.append(([path] + best.enumerated().map { k, c in
                    "  \(k + 1). " + name(c.index).padded(to: w) + String(format: " %7.2f%%", 100 * Double(c.probability))
                }).joined(separator: "\n"))
            }
        }
        print(blocks.joined(separator: json ? "\n" : "\n\n"))
    }
}

func jsonQuoted(_ s: String) -> String {
    let data = try? JSONSerialization.data(withJSONObject: [s], options: [.withoutEscapingSlashes])
    return data.map { String(decoding: $0.dropFirst().dropLast(), as: UTF8.self) } ?? "\"\""
}

/// Binary PGM (P5, grey) and PPM (P6, RGB) with maxval 255: a format any image tool writes and a
/// test can write byte by byte.
enum PNM {
    static func decode(_ b: [UInt8], path: String) throws -> PlanarImage {
        var i = 0
        // Header: magic, width, height, maxval, separated by whitespace (and # comments), then one whitespace byte.
        func token() -> String? {
            while i < b.count {
                if b[i] == UInt8(ascii: "#") { while i < b.count && b[i] != 10 { i += 1 } }
                else if [9, 10, 13, 32].contains(b[i]) { i += 1 } else { break }
            }
            let start = i
            while i < b.count && ![9, 10, 13, 32, UInt8(ascii: "#")].contains(b[i]) { i += 1 }
            return i > start && i - start < 12 ? String(decoding: b[start..<i], as: UTF8.self) : nil
        }
        let magic = token()
        guard magic == "P5" || magic == "P6" else {
            throw DataError("\(path): not an image nntop reads (PNG, JPEG, or binary PGM/PPM P5/P6)")
        }
        guard let w = token().flatMap(Int.init), let h = token().flatMap(Int.init), let maxval = token().flatMap(Int.init),
              w > 0, h > 0, w <= 16384, h <= 16384 else { throw DataError("\(path): damaged PGM/PPM header") }
        guard maxval == 255 else { throw DataError("\(path): maxval \(maxval); only 8-bit (255) PGM/PPM is read") }
        i += 1
        let c = magic == "P5" ? 1 : 3
        guard b.count - i >= w * h * c else { throw DataError("\(path): truncated (\(b.count - i) of \(w * h * c) pixel bytes)") }
        let interleaved = b[i..<i + w * h * c]
        // Interleaved RGB to channel planes.
        var planar = [UInt8](repeating: 0, count: w * h * c)
        for (k, v) in interleaved.enumerated() { planar[(k % c) * w * h + k / c] = v }
        return PlanarImage(channels: c, rows: h, cols: w, pixels: planar)
    }
}
