// Fuzz targets for the readers that take files from users: MNIST idx (raw or gzip), safetensors,
// a run folder's config.json and metrics.jsonl (`nntop view`, `runs`, `--compare`, `--resume`),
// TensorBoard event files (`nntop view` of any writer's log), CIFAR-10/100 binary records, and PNG
// and JPEG images (libpng and libjpeg behind their C shims).
// Built with -sanitize=fuzzer and -DFUZZING (scripts/fuzz.sh), libFuzzer drives them; built
// normally this is a replay tool that runs files through a target: CI builds it with
// AddressSanitizer and replays the committed corpus (scripts/fuzz.sh replay), since Models is
// compiled -Ounchecked and only a sanitizer sees an out-of-bounds read there.
import Foundation
import Models

/// Splits the input at a position taken from its first two bytes: an image file and a label file.
func fuzzIDX(_ bytes: [UInt8]) {
    guard bytes.count >= 2 else { return }
    let cut = min(bytes.count, 2 + (Int(bytes[0]) << 8 | Int(bytes[1])))
    var images = Array(bytes[2..<cut]), labels = Array(bytes[cut...])
    if images.starts(with: [0x1f, 0x8b]) { guard let x = try? MNIST.gunzip(images, path: "images", limit: 1 << 24) else { return }; images = x }
    if labels.starts(with: [0x1f, 0x8b]) { guard let x = try? MNIST.gunzip(labels, path: "labels", limit: 1 << 24) else { return }; labels = x }
    if let set = try? MNIST.parse(images: images, imagePath: "images", labels: labels, labelPath: "labels") {
        precondition(set.images.count == set.count * 28 * 28 && set.labels.allSatisfy { $0 <= 9 })
    }
}

/// Parses a safetensors file, reads every tensor, and tries it as a LeNet-5 checkpoint.
func fuzzSafetensors(_ bytes: [UInt8]) {
    guard let file = try? SafetensorsFile(data: Data(bytes), path: "input") else { return }
    for name in file.names {
        let e = file.entries[name]!
        guard e.shape.reduce(1, { $0.multipliedReportingOverflow(by: $1).partialValue }) <= 1 << 20 else { continue }
        let v = try? file.floats(name)
        precondition(v == nil || v!.count == e.shape.reduce(1, *))
    }
    if let net = ModelZoo.make("lenet5") { _ = try? Checkpoint.load(file: file, into: net) }
}

/// A run folder this process rewrites for every input.
let fuzzRunFolder: String = {
    let dir = NSTemporaryDirectory() + "nntop-fuzz-runlog-\(getpid())/run"
    try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    atexit { try? FileManager.default.removeItem(atPath: NSTemporaryDirectory() + "nntop-fuzz-runlog-\(getpid())") }
    return dir
}()

/// Splits the input at a position taken from its first two bytes: config.json and metrics.jsonl of
/// one run folder; reads it the ways nntop does (the summary `runs` lists, the history `view` and
/// `--compare` draw).
func fuzzRunLog(_ bytes: [UInt8]) {
    guard bytes.count >= 2 else { return }
    let cut = min(bytes.count, 2 + (Int(bytes[0]) << 8 | Int(bytes[1])))
    let dir = fuzzRunFolder
    // Plain writes (createFile writes a temporary file and renames it: several times slower).
    try? Data(bytes[2..<cut]).write(to: URL(fileURLWithPath: dir + "/config.json"))
    try? Data(bytes[cut...]).write(to: URL(fileURLWithPath: dir + "/metrics.jsonl"))
    let metrics = RunLog.readMetrics(atPath: dir + "/metrics.jsonl")
    precondition(metrics.lines.count <= bytes.count)
    _ = RunLog.readConfig(directory: dir)
    if let summary = RunSummary(directory: dir) { precondition(summary.lastStep == 0 || !metrics.lines.isEmpty) }
    _ = RunSummary.list(in: (dir as NSString).deletingLastPathComponent)
    if let history = try? RunHistory(directory: dir) {
        precondition(history.confusion.map { $0.count == 10 && $0.allSatisfy { $0.count == 10 } } ?? true)
        precondition(history.trainLoss.count <= metrics.lines.count)
    }
}

/// A TensorBoard log folder this process rewrites for every input.
let fuzzEventsFolder: String = {
    let dir = NSTemporaryDirectory() + "nntop-fuzz-tfevents-\(getpid())"
    try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    atexit { try? FileManager.default.removeItem(atPath: NSTemporaryDirectory() + "nntop-fuzz-tfevents-\(getpid())") }
    return dir
}()

/// An event file as `nntop view` follows it: the input's first byte says where to cut it; the part
/// before the cut is read first, the rest appended and read again (a writer mid-record), and the
/// result must equal reading the whole file at once.
func fuzzTFEvents(_ bytes: [UInt8]) {
    guard !bytes.isEmpty else { return }
    let body = Array(bytes.dropFirst())
    let cut = body.isEmpty ? 0 : Int(bytes[0]) * body.count / 255
    let path = fuzzEventsFolder + "/events.out.tfevents.1.fuzz"
    try? Data(body[..<cut]).write(to: URL(fileURLWithPath: path))
    let followed = TensorBoardRun(directory: fuzzEventsFolder, name: "f")
    if let h = FileHandle(forWritingAtPath: path) { h.seekToEndOfFile(); h.write(Data(body[cut...])); h.closeFile() }
    followed.refresh()
    let whole = TensorBoardRun(directory: fuzzEventsFolder, name: "w")
    precondition(followed.tags == whole.tags && followed.points == whole.points, "reading in two parts differs from reading at once")
    precondition(whole.points.reduce(0) { $0 + $1.count } <= body.count / 16, "more scalars than records could hold")
    for i in whole.tags.indices { _ = whole.summary(of: i) }
}

/// The first byte picks CIFAR-10 (even) or CIFAR-100 (odd); the rest is one batch file.
func fuzzCIFAR(_ bytes: [UInt8]) {
    guard let first = bytes.first else { return }
    let cifar100 = first & 1 == 1
    guard let r = try? CIFARBinary.parse(Array(bytes.dropFirst()), path: "input", cifar100: cifar100) else { return }
    precondition(r.images.count == r.labels.count * CIFARBinary.imageBytes && r.labels.allSatisfy { $0 >= 0 && $0 < (cifar100 ? 100 : 10) })
}

/// Decodes, composites and resizes an image as an image folder does (to 8×8, and to a size from the
/// data, up to 64, so both shrinking and growing run).
func fuzzImage(_ bytes: [UInt8], decode: ([UInt8]) throws -> DecodedImage) {
    guard let image = try? decode(bytes) else { return }
    precondition(image.width >= 1 && image.height >= 1 && image.pixels.count == image.width * image.height * image.channels)
    let (planes, c) = image.planar()
    let side = 1 + Int(bytes.last ?? 0) % 64
    for s in [8, side] {
        let out = Resize.planes(planes, planes: c, width: image.width, height: image.height, toWidth: s, toHeight: s)
        precondition(out.count == c * s * s)
    }
}

func fuzzPNG(_ bytes: [UInt8]) { fuzzImage(bytes) { try PNGDecode.decode($0, path: "input") } }
/// Half the inputs with libjpeg's scaled IDCT (as a folder shrinking to 8×8 would ask).
func fuzzJPEG(_ bytes: [UInt8]) { fuzzImage(bytes) { try JPEGDecode.decode($0, path: "input", minSide: $0.count % 2 == 0 ? 0 : 16) } }

let targets: [String: ([UInt8]) -> Void] = ["idx": fuzzIDX, "safetensors": fuzzSafetensors, "runlog": fuzzRunLog,
                                           "tfevents": fuzzTFEvents, "cifar": fuzzCIFAR, "png": fuzzPNG, "jpeg": fuzzJPEG]

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOne(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let name = ProcessInfo.processInfo.environment["NNTOP_FUZZ_TARGET"] ?? "idx"
    guard let target = targets[name] else { fatalError("NNTOP_FUZZ_TARGET must be one of \(targets.keys.sorted().joined(separator: ", "))") }
    target(Array(UnsafeBufferPointer(start: data, count: size)))
    return 0
}

#if FUZZING
/// libFuzzer's driver, entered from our own main (SwiftPM renames an executable's entry point, so
/// libFuzzer's `main` cannot be used).
@_silgen_name("LLVMFuzzerRunDriver")
func runFuzzerDriver(_ argc: UnsafeMutablePointer<CInt>,
                     _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>>,
                     _ callback: @convention(c) (UnsafePointer<UInt8>, Int) -> CInt) -> CInt

@main
struct FuzzMain {
    static func main() {
        var argc = CommandLine.argc
        var argv = CommandLine.unsafeArgv
        exit(runFuzzerDriver(&argc, &argv, fuzzOne))
    }
}
#else
@main
struct Replay {
    /// nntop-fuzz TARGET FILE|DIR...: runs every file through the target; a crash is a failure.
    static func main() {
        let args = CommandLine.arguments.dropFirst()
        guard let name = args.first, let target = targets[name] else {
            FileHandle.standardError.write(Data("usage: nntop-fuzz \(targets.keys.sorted().joined(separator: "|")) FILE|DIR...\n".utf8))
            exit(2)
        }
        var count = 0
        for path in args.dropFirst() {
            var isDir: ObjCBool = false
            _ = FileManager.default.fileExists(atPath: path, isDirectory: &isDir)
            let files = isDir.boolValue
                ? ((try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []).sorted().map { path + "/" + $0 }
                : [path]
            for f in files {
                guard let d = FileManager.default.contents(atPath: f) else { continue }
                target([UInt8](d)); count += 1
            }
        }
        print("replayed \(count) inputs through \(name): no crash")
    }
}
#endif
