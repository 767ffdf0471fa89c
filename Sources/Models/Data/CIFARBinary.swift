import Foundation

/// CIFAR-10 and CIFAR-100 in their "binary version": fixed-size records of label byte(s), then the
/// red, green and blue planes of a 32×32 image (already channel-planar, as ImageSet holds them).
public enum CIFARBinary {
    public static let side = 32, imageBytes = 3 * 32 * 32

    public static let cifar10Names = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]
    public static let cifar10Train = (1...5).map { "data_batch_\($0).bin" }, cifar10Test = "test_batch.bin"
    public static let cifar100Train = "train.bin", cifar100Test = "test.bin"

    /// Parses one file of records: CIFAR-10 has one label byte (`labelBytes` 1, < 10 classes),
    /// CIFAR-100 a coarse (< 20) then a fine (< 100) label byte; the fine label is used.
    public static func parse(_ bytes: [UInt8], path: String, cifar100: Bool) throws -> (images: [UInt8], labels: [Int32]) {
        let header = cifar100 ? 2 : 1, record = header + imageBytes
        guard !bytes.isEmpty else { throw DataError("\(path): file is empty") }
        guard bytes.count % record == 0 else {
            throw DataError("\(path): \(bytes.count) bytes is not a whole number of \(record)-byte \(cifar100 ? "CIFAR-100" : "CIFAR-10") records (truncated, or not this format)")
        }
        let n = bytes.count / record
        var images = [UInt8](repeating: 0, count: n * imageBytes), labels = [Int32](repeating: 0, count: n)
        try bytes.withUnsafeBufferPointer { b in
            try images.withUnsafeMutableBufferPointer { img in
                for i in 0..<n {
                    let r = b.baseAddress! + i * record
                    if cifar100 && r[0] >= 20 {
                        throw DataError("\(path): record \(i) has coarse label \(r[0]), CIFAR-100 has 20 coarse classes (0-19)")
                    }
                    let label = r[header - 1], classes = cifar100 ? 100 : 10
                    guard Int(label) < classes else {
                        throw DataError("\(path): record \(i) has label \(label), \(cifar100 ? "CIFAR-100" : "CIFAR-10") has \(classes) classes (0-\(classes - 1))")
                    }
                    labels[i] = Int32(label)
                    (img.baseAddress! + i * imageBytes).update(from: r + header, count: imageBytes)
                }
            }
        }
        return (images, labels)
    }

    /// CIFAR-10: the data_batch_N.bin files present (1 first, in order) and test_batch.bin; class
    /// names from batches.meta.txt when it is there (one per line), else CIFAR-10's own.
    public static func loadCIFAR10(directory dir: String) throws -> (train: ImageSet, test: ImageSet) {
        let batches = cifar10Train.map { path(dir, $0) }.filter { FileManager.default.fileExists(atPath: $0) }
        guard !batches.isEmpty else { throw DataError("\(path(dir, cifar10Train[0])) is missing (CIFAR-10 binary needs data_batch_1.bin … and test_batch.bin)") }
        let names = try classNames(path(dir, "batches.meta.txt"), count: 10) ?? cifar10Names
        var images = [UInt8](), labels = [Int32]()
        // Reserved up front: appending five 30 MB batches to a growing array would peak at twice the set.
        let bytes = batches.compactMap { try? FileManager.default.attributesOfItem(atPath: $0)[.size] as? Int }.reduce(0, +)
        images.reserveCapacity(bytes / (imageBytes + 1) * imageBytes)
        for b in batches {
            let part = try parse(try DataFile.read(b), path: b, cifar100: false)
            images += part.images; labels += part.labels
        }
        let testPath = path(dir, cifar10Test)
        let test = try parse(try DataFile.read(testPath), path: testPath, cifar100: false)
        return (ImageSet(images: images, labels: labels, channels: 3, rows: side, cols: side, classNames: names),
                ImageSet(images: test.images, labels: test.labels, channels: 3, rows: side, cols: side, classNames: names))
    }

    /// CIFAR-100: train.bin and test.bin, fine labels; names from fine_label_names.txt when present
    /// (else "0" … "99": the binary tarball ships the names, so this is a stripped copy).
    public static func loadCIFAR100(directory dir: String) throws -> (train: ImageSet, test: ImageSet) {
        let names = try classNames(path(dir, "fine_label_names.txt"), count: 100) ?? (0..<100).map(String.init)
        let trainPath = path(dir, cifar100Train), testPath = path(dir, cifar100Test)
        let train = try parse(try DataFile.read(trainPath), path: trainPath, cifar100: true)
        let test = try parse(try DataFile.read(testPath), path: testPath, cifar100: true)
        return (ImageSet(images: train.images, labels: train.labels, channels: 3, rows: side, cols: side, classNames: names),
                ImageSet(images: test.images, labels: test.labels, channels: 3, rows: side, cols: side, classNames: names))
    }

    /// One class name per non-empty line; nil when the file is absent, an error when it names the wrong number.
    static func classNames(_ file: String, count: Int) throws -> [String]? {
        guard FileManager.default.fileExists(atPath: file) else { return nil }
        let text = String(decoding: try DataFile.read(file), as: UTF8.self)
        let names = text.split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        guard names.count == count else { throw DataError("\(file): names \(names.count) classes, expected \(count) (one per line)") }
        return names
    }

    static func path(_ dir: String, _ name: String) -> String { (dir as NSString).appendingPathComponent(name) }
}
