import CZlib
import Foundation

/// A problem with the data files, phrased for the person who ran the command.
public struct DataError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// Decoded 8-bit images of one stored size with their labels: image i is `channels` planes of
/// rows × cols bytes (channel-planar, as CIFAR's binary files and the network's NCHW input hold
/// them), labels are class indices into `classNames`.
public struct ImageSet {
    public let images: [UInt8]
    public let labels: [Int32]
    public let channels: Int, rows: Int, cols: Int
    public let classNames: [String]
    public var count: Int { labels.count }
    public var classes: Int { classNames.count }
    public var bytesPerImage: Int { channels * rows * cols }

    public init(images: [UInt8], labels: [Int32], channels: Int = 1, rows: Int, cols: Int,
                classNames: [String] = ImageSet.digitNames) {
        precondition(images.count == labels.count * channels * rows * cols, "image bytes do not match the labels")
        self.images = images; self.labels = labels; self.channels = channels; self.rows = rows; self.cols = cols
        self.classNames = classNames
    }

    /// MNIST's classes.
    public static let digitNames = (0..<10).map(String.init)
}

/// Reads MNIST's idx files, raw or gzipped.
public enum MNIST {
    public static let fileStems = (trainImages: "train-images-idx3-ubyte", trainLabels: "train-labels-idx1-ubyte",
                                   testImages: "t10k-images-idx3-ubyte", testLabels: "t10k-labels-idx1-ubyte")

    public static func load(directory: String) throws -> (train: ImageSet, test: ImageSet) {
        try checkFolder(directory)
        let train = try loadPair(directory, fileStems.trainImages, fileStems.trainLabels)
        let test = try loadPair(directory, fileStems.testImages, fileStems.testLabels)
        return (train, test)
    }

    /// Only the 10,000 test images (`nntop eval` needs no training set).
    public static func loadTest(directory: String) throws -> ImageSet {
        try checkFolder(directory)
        return try loadPair(directory, fileStems.testImages, fileStems.testLabels)
    }

    static func checkFolder(_ directory: String) throws {
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: directory, isDirectory: &isDir), isDir.boolValue else {
            throw DataError("data folder \(directory) does not exist; pass --data DIR with the four MNIST idx files")
        }
    }

    static func loadPair(_ dir: String, _ imageStem: String, _ labelStem: String) throws -> ImageSet {
        let (imagePath, imageBytes) = try readFile(dir, imageStem)
        let (labelPath, labelBytes) = try readFile(dir, labelStem)
        return try parse(images: imageBytes, imagePath: imagePath, labels: labelBytes, labelPath: labelPath)
    }

    /// Parses an image idx file and a label idx file into an ImageSet, checking everything a broken file can get wrong.
    public static func parse(images: [UInt8], imagePath: String, labels: [UInt8], labelPath: String) throws -> ImageSet {
        let (imageDims, imageOffset) = try header(images, path: imagePath, expectedRank: 3)
        let (labelDims, labelOffset) = try header(labels, path: labelPath, expectedRank: 1)
        let (n, rows, cols) = (imageDims[0], imageDims[1], imageDims[2])
        guard rows == 28 && cols == 28 else {
            throw DataError("\(imagePath): images are \(rows)×\(cols), MNIST digits are 28×28")
        }
        guard images.count - imageOffset == n * rows * cols else {
            throw DataError("\(imagePath): header says \(n) images of \(rows)×\(cols) = \(n * rows * cols) bytes, file has \(images.count - imageOffset) (truncated or corrupt)")
        }
        guard labels.count - labelOffset == labelDims[0] else {
            throw DataError("\(labelPath): header says \(labelDims[0]) labels, file has \(labels.count - labelOffset) (truncated or corrupt)")
        }
        guard labelDims[0] == n else {
            throw DataError("\(imagePath) has \(n) images but \(labelPath) has \(labelDims[0]) labels")
        }
        guard n > 0 else { throw DataError("\(imagePath): holds no images") }
        let labelArray = Array(labels[labelOffset...])
        if let bad = labelArray.firstIndex(where: { $0 > 9 }) {
            throw DataError("\(labelPath): label \(labelArray[bad]) at index \(bad) is not a digit 0-9")
        }
        return ImageSet(images: Array(images[imageOffset...]), labels: labelArray.map(Int32.init), rows: rows, cols: cols)
    }

    /// idx header: two zero bytes, type 0x08 (unsigned byte), rank, then rank big-endian uint32 sizes.
    static func header(_ b: [UInt8], path: String, expectedRank: Int) throws -> ([Int], Int) {
        guard b.count >= 4 else { throw DataError("\(path): file is empty or too short to be an idx file") }
        guard b[0] == 0, b[1] == 0, b[2] == 0x08, Int(b[3]) == expectedRank else {
            let magic = b[0..<4].map { String(format: "%02x", $0) }.joined()
            throw DataError("\(path): not an idx file of rank \(expectedRank) bytes (magic 0x\(magic), expected 0x0000080\(expectedRank))")
        }
        let offset = 4 + 4 * expectedRank
        guard b.count >= offset else { throw DataError("\(path): idx header is truncated") }
        let dims = (0..<expectedRank).map { d -> Int in
            (0..<4).reduce(0) { $0 << 8 | Int(b[4 + 4 * d + $1]) }
        }
        return (dims, offset)
    }

    /// Finds `stem` or `stem.gz` in `dir` and returns its (decompressed) bytes.
    static func readFile(_ dir: String, _ stem: String) throws -> (String, [UInt8]) {
        let fm = FileManager.default
        for name in [stem + ".gz", stem] {
            let path = (dir as NSString).appendingPathComponent(name)
            guard fm.fileExists(atPath: path) else { continue }
            guard let data = fm.contents(atPath: path) else { throw DataError("\(path): cannot be read (permissions?)") }
            let bytes = [UInt8](data)
            if bytes.count >= 2 && bytes[0] == 0x1f && bytes[1] == 0x8b { return (path, try gunzip(bytes, path: path)) }
            return (path, bytes)
        }
        throw DataError("\((dir as NSString).appendingPathComponent(stem))[.gz] is missing; the data folder needs the four MNIST idx files (pass --data DIR)")
    }

    /// Inflates a whole gzip stream through zlib, refusing to grow past `limit` bytes (a gzip bomb
    /// must not eat the machine's memory; MNIST's largest file inflates to 47 MB).
    public static func gunzip(_ input: [UInt8], path: String, limit: Int = 1 << 28) throws -> [UInt8] {
        var stream = z_stream()
        guard nntop_inflateInit2(&stream, 16 + MAX_WBITS) == Z_OK else { throw DataError("\(path): zlib failed to start") }
        defer { inflateEnd(&stream) }
        var output = [UInt8]()
        output.reserveCapacity(input.count * 4)
        var chunk = [UInt8](repeating: 0, count: 1 << 20)
        var status: Int32 = Z_OK
        try input.withUnsafeBufferPointer { inBuf in
            stream.next_in = UnsafeMutablePointer(mutating: inBuf.baseAddress)
            stream.avail_in = uInt(inBuf.count)
            repeat {
                try chunk.withUnsafeMutableBufferPointer { outBuf in
                    stream.next_out = outBuf.baseAddress
                    stream.avail_out = uInt(outBuf.count)
                    status = inflate(&stream, Z_NO_FLUSH)
                    guard status == Z_OK || status == Z_STREAM_END else {
                        throw DataError("\(path): corrupt gzip data (zlib error \(status))")
                    }
                    output.append(contentsOf: outBuf[0..<(outBuf.count - Int(stream.avail_out))])
                    guard output.count <= limit else {
                        throw DataError("\(path): inflates to more than \(limit >> 20) MB, not an MNIST file")
                    }
                }
                if status == Z_OK && stream.avail_in == 0 && stream.avail_out != 0 {
                    throw DataError("\(path): gzip stream is truncated")
                }
            } while status != Z_STREAM_END
        }
        return output
    }

    /// Where the bundled assets/mnist is: the working directory, the executable's ancestors
    /// (`.build/release/nntop`), or the source checkout this binary was built from.
    public static func defaultDirectory() -> String? {
        var candidates = [FileManager.default.currentDirectoryPath]
        var dir = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent()
        for _ in 0..<6 { candidates.append(dir.path); dir.deleteLastPathComponent() }
        // This file is Sources/Models/Data/MNIST.swift: four levels up is the checkout.
        candidates.append(URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().deletingLastPathComponent().path)
        let fm = FileManager.default
        for c in candidates {
            let path = (c as NSString).appendingPathComponent("assets/mnist")
            if fm.fileExists(atPath: (path as NSString).appendingPathComponent(fileStems.trainImages + ".gz"))
                || fm.fileExists(atPath: (path as NSString).appendingPathComponent(fileStems.trainImages)) { return path }
        }
        return nil
    }
}
