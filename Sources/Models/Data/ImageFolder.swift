import Foundation
import Kernels

/// Thrown when `isCancelled` turned true during a load (Ctrl-C while images decode).
public struct LoadCancelled: Error, CustomStringConvertible {
    public var description: String { "data loading was cancelled" }
}

/// A folder of PNG and JPEG images, one subfolder per class: `DIR/train/<class>/*` with
/// `DIR/test/<class>/*` (or `DIR/val/<class>/*`), or a single `DIR/<class>/*` from which a test
/// share is held out by seed. Every image is decoded once, on all cores, resized to one size.
public enum ImageFolder {
    public static let extensions: Set<String> = ["png", "jpg", "jpeg"]

    /// Where the test images came from.
    public enum TestSource: Equatable {
        case folder(String)                          // "test" or "val"
        case heldOut(fraction: Double, seed: UInt64)
    }

    public struct Loaded {
        public let train: ImageSet, test: ImageSet
        public let testSource: TestSource
        /// The decoded sizes before resizing (smallest and largest width × height) and the formats seen.
        public let smallest: (width: Int, height: Int), largest: (width: Int, height: Int)
        public let formats: [String]
    }

    /// True when `dir` looks like an image folder: a train/ folder, or at least one class folder holding an image.
    public static func looksLikeImageFolder(_ dir: String) -> Bool {
        if isDirectory(join(dir, "train")) { return true }
        let classes = (try? subfolders(dir)) ?? []
        return classes.contains { ((try? images(in: join(dir, $0))) ?? []).isEmpty == false }
    }

    public static func load(directory dir: String, imageSize: Int, testFraction: Double = 0.1, seed: UInt64 = 0,
                            progress: ((Double) -> Void)? = nil, isCancelled: (() -> Bool)? = nil) throws -> Loaded {
        guard imageSize >= 1 && imageSize <= 4096 else { throw DataError("--image-size \(imageSize): must be between 1 and 4096") }
        let trainRoot = isDirectory(join(dir, "train")) ? join(dir, "train") : dir
        let testFolder = trainRoot == dir ? nil : ["test", "val"].first { isDirectory(join(dir, $0)) }
        let classNames = try classFolders(trainRoot)
        var files: [(path: String, label: Int32)] = []
        for (label, name) in classNames.enumerated() {
            files += try images(in: join(trainRoot, name)).map { (join(join(trainRoot, name), $0), Int32(label)) }
        }
        var trainIndices: [Int], testIndices: [Int]
        let testSource: TestSource
        if let testFolder {
            let root = join(dir, testFolder)
            let testClasses = try subfolders(root)
            if let stray = testClasses.first(where: { !classNames.contains($0) }) {
                throw DataError("\(join(root, stray)): class \(stray) is not among the training classes in \(trainRoot)")
            }
            trainIndices = Array(files.indices)
            for name in testClasses {
                let names = try images(in: join(root, name))
                guard !names.isEmpty else { throw DataError("\(join(root, name)): class folder holds no PNG or JPEG files") }
                files += names.map { (join(join(root, name), $0), Int32(classNames.firstIndex(of: name)!)) }
            }
            testIndices = Array(trainIndices.count..<files.count)
            guard !testIndices.isEmpty else { throw DataError("\(root): holds no class folders with images") }
            testSource = .folder(testFolder)
        } else {
            guard testFraction > 0 && testFraction < 1 else { throw DataError("test fraction \(testFraction) must be between 0 and 1 (exclusive)") }
            (trainIndices, testIndices) = heldOut(labels: files.map(\.label), classes: classNames.count, fraction: testFraction, seed: seed)
            testSource = .heldOut(fraction: testFraction, seed: seed)
        }

        // The training images in one fixed mixed order, as MNIST's and CIFAR's files hold theirs: read
        // class by class, --val-size's last N (and --train-limit's first N) would be one or two classes.
        var mixing = SeededRandom(seed: 0x5EED_F01D)
        trainIndices.shuffle(using: &mixing)
        let decoded = try decodeAll(files.map(\.path), side: imageSize, progress: progress, isCancelled: isCancelled)
        let labels = files.map(\.label)
        func subset(_ idx: [Int]) -> ImageSet {
            let per = decoded.channels * imageSize * imageSize
            var px = [UInt8](); px.reserveCapacity(idx.count * per)
            for i in idx { px += decoded.pixels[i * per..<(i + 1) * per] }
            return ImageSet(images: px, labels: idx.map { labels[$0] }, channels: decoded.channels,
                            rows: imageSize, cols: imageSize, classNames: classNames)
        }
        return Loaded(train: subset(trainIndices), test: subset(testIndices), testSource: testSource,
                      smallest: decoded.smallest, largest: decoded.largest, formats: decoded.formats)
    }

    /// Holds out round(fraction × n) of each class's n images (at least one, and at least one left
    /// to train on when the class has two or more), chosen by a shuffle seeded with `seed`.
    /// Returns sorted train and test indices.
    public static func heldOut(labels: [Int32], classes: Int, fraction: Double, seed: UInt64) -> (train: [Int], test: [Int]) {
        var rng = SeededRandom(seed: seed)
        var train = [Int](), test = [Int]()
        for c in 0..<classes {
            let members = labels.indices.filter { labels[$0] == Int32(c) }.shuffled(using: &rng)
            var k = Int((Double(members.count) * fraction).rounded())
            k = min(max(k, 1), max(members.count - 1, 1))
            if members.count == 1 { k = 0 }
            test += members[..<k]; train += members[k...]
        }
        return (train.sorted(), test.sorted())
    }

    struct Decoded {
        let pixels: [UInt8], channels: Int
        let smallest: (width: Int, height: Int), largest: (width: Int, height: Int)
        let formats: [String]
    }

    /// Decodes and resizes every file on all cores into a slot of 3 planes each, then packs them as
    /// 1 plane each when every image is grey, or 3 (grey ones copied to R, G and B) when any is colour.
    static func decodeAll(_ paths: [String], side: Int, progress: ((Double) -> Void)?, isCancelled: (() -> Bool)?) throws -> Decoded {
        let n = paths.count, plane = side * side, slot = 3 * plane
        var pixels = [UInt8](repeating: 0, count: n * slot)
        var channels = [UInt8](repeating: 0, count: n)
        var sizes = [(Int, Int)](repeating: (0, 0), count: n)
        var isPNG = [Bool](repeating: false, count: n)
        let lock = NSLock()
        var firstError: Error?, done = 0, lastReport = 0.0
        let start = Date()
        let workers = ProcessInfo.processInfo.activeProcessorCount
        let chunks = min(n, workers * 16), per = (n + chunks - 1) / max(chunks, 1)
        pixels.withUnsafeMutableBufferPointer { px in
            channels.withUnsafeMutableBufferPointer { ch in
                sizes.withUnsafeMutableBufferPointer { sz in
                    isPNG.withUnsafeMutableBufferPointer { png in
                        DispatchQueue.concurrentPerform(iterations: chunks) { c in
                            // The last chunks can start past the end (n = 48 on 2 cores: 32 chunks of 2).
                            let items = min(n, c * per)..<min(n, (c + 1) * per)
                            for i in items {
                                lock.lock(); let stop = firstError != nil; lock.unlock()
                                if stop { return }
                                if isCancelled?() == true { lock.lock(); firstError = firstError ?? LoadCancelled(); lock.unlock(); return }
                                do {
                                    let bytes = try DataFile.read(paths[i])
                                    let image: DecodedImage
                                    if PNGDecode.isPNG(bytes) { image = try PNGDecode.decode(bytes, path: paths[i]); png[i] = true }
                                    else if JPEGDecode.isJPEG(bytes) { image = try JPEGDecode.decode(bytes, path: paths[i], minSide: 2 * side) }
                                    else { throw DataError("\(paths[i]): not a PNG or JPEG image (\(bytes.isEmpty ? "empty file" : "unknown signature"))") }
                                    let (planes, c) = image.planar()
                                    planes.withUnsafeBufferPointer { p in
                                        Resize.planes(p.baseAddress!, planes: c, width: image.width, height: image.height,
                                                      into: px.baseAddress! + i * slot, toWidth: side, toHeight: side)
                                    }
                                    ch[i] = UInt8(c); sz[i] = (image.fileWidth, image.fileHeight)
                                } catch {
                                    lock.lock(); firstError = firstError ?? error; lock.unlock(); return
                                }
                            }
                            lock.lock()
                            done += items.count
                            let elapsed = Date().timeIntervalSince(start)
                            // Only a decode that takes more than a second reports, about ten times a second.
                            if let progress, elapsed > 1, elapsed - lastReport >= 0.1 { lastReport = elapsed; progress(Double(done) / Double(n)) }
                            lock.unlock()
                        }
                    }
                }
            }
        }
        if let firstError { throw firstError }
        let colour = channels.contains(3), out = colour ? 3 : 1
        pixels.withUnsafeMutableBufferPointer { px in
            let p = px.baseAddress!
            for i in 0..<n {
                if colour {
                    if channels[i] == 1 { (p + i * slot + plane).update(from: p + i * slot, count: plane); (p + i * slot + 2 * plane).update(from: p + i * slot, count: plane) }
                } else {
                    (p + i * plane).update(from: p + i * slot, count: plane)   // packing forwards: i·plane ≤ i·slot
                }
            }
        }
        if !colour { pixels.removeLast(pixels.count - n * plane) }
        let areas = sizes.map { $0.0 * $0.1 }
        let small = sizes[areas.indices.min { areas[$0] < areas[$1] } ?? 0], large = sizes[areas.indices.max { areas[$0] < areas[$1] } ?? 0]
        let formats = [isPNG.contains(true) ? "PNG" : nil, isPNG.contains(false) ? "JPEG" : nil].compactMap { $0 }
        return Decoded(pixels: pixels, channels: out, smallest: small, largest: large, formats: formats)
    }

    /// The class folders of `dir`, sorted; refuses none or one.
    static func classFolders(_ dir: String) throws -> [String] {
        let names = try subfolders(dir)
        guard !names.isEmpty else { throw DataError("\(dir): holds no class folders (expected \(dir)/<class>/*.png or *.jpg)") }
        guard names.count >= 2 else { throw DataError("\(dir): holds only one class folder (\(names[0])); a classifier needs at least two classes") }
        for name in names where try images(in: join(dir, name)).isEmpty {
            throw DataError("\(join(dir, name)): class folder holds no PNG or JPEG files")
        }
        return names
    }

    static func subfolders(_ dir: String) throws -> [String] {
        do {
            return try FileManager.default.contentsOfDirectory(atPath: dir)
                .filter { !$0.hasPrefix(".") && isDirectory(join(dir, $0)) }.sorted()
        } catch { throw DataError("\(dir): cannot be listed (\((error as NSError).localizedDescription))") }
    }

    /// The files of `dir` with an image extension (any case), sorted; hidden files and others are skipped.
    static func images(in dir: String) throws -> [String] {
        do {
            return try FileManager.default.contentsOfDirectory(atPath: dir)
                .filter { !$0.hasPrefix(".") && extensions.contains(($0 as NSString).pathExtension.lowercased()) }.sorted()
        } catch { throw DataError("\(dir): cannot be listed (\((error as NSError).localizedDescription))") }
    }

    static func isDirectory(_ path: String) -> Bool {
        var d: ObjCBool = false
        return FileManager.default.fileExists(atPath: path, isDirectory: &d) && d.boolValue
    }

    static func join(_ a: String, _ b: String) -> String { (a as NSString).appendingPathComponent(b) }
}
