import Foundation

/// What a data folder holds.
public enum DataKind: String, CaseIterable, Sendable {
    case mnist, fashionMNIST = "fashion-mnist", cifar10, cifar100, folder

    /// How the one-line summary names it.
    public var title: String {
        switch self {
        case .mnist: return "MNIST idx"
        case .fashionMNIST: return "Fashion-MNIST idx"
        case .cifar10: return "CIFAR-10 binary"
        case .cifar100: return "CIFAR-100 binary"
        case .folder: return "image folder"
        }
    }
}

/// A data folder read whole: both splits decoded, and the line that says what was found.
public struct LoadedData {
    public let kind: DataKind
    public let train: ImageSet, test: ImageSet
    /// One line, e.g. `data: CIFAR-10 binary, 50000 train / 10000 test, 3×32×32, 10 classes`.
    public let description: String
    /// The folder the files were read from (a CIFAR tarball's subfolder when DIR held that).
    public let directory: String
}

/// Recognises and reads any of the supported data folders (issue 16).
public enum DataSource {
    /// The image size folder images are resized to when none is given: the models here (LeNet-5 and
    /// the CIFAR-style ResNet-18) take 32×32, and at 224×224 a step costs ~49× as much — a CPU run
    /// would crawl. Pass --image-size 224 for ImageNet-style models. Fixed-size formats keep their own.
    public static let defaultFolderImageSize = 32

    public static let fashionNames = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt",
                                      "Sneaker", "Bag", "Ankle boot"]

    /// The subfolders the official tarballs unpack into, looked into when DIR itself holds nothing known.
    static let tarballFolders = ["cifar-10-batches-bin", "cifar-100-binary"]

    /// What `dir` holds, or nil: MNIST idx files, CIFAR-10 or CIFAR-100 binary files, class folders.
    /// Fashion-MNIST's files are MNIST's format and cannot be told apart: detected as `.mnist`.
    public static func detect(directory dir: String) -> (kind: DataKind, directory: String)? {
        let fm = FileManager.default
        func has(_ d: String, _ name: String) -> Bool { fm.fileExists(atPath: (d as NSString).appendingPathComponent(name)) }
        for d in [dir] + tarballFolders.map({ (dir as NSString).appendingPathComponent($0) }) {
            if has(d, MNIST.fileStems.trainImages) || has(d, MNIST.fileStems.trainImages + ".gz") { return (.mnist, d) }
            if has(d, CIFARBinary.cifar10Train[0]) || has(d, CIFARBinary.cifar10Test) { return (.cifar10, d) }
            if has(d, CIFARBinary.cifar100Train) && has(d, CIFARBinary.cifar100Test) { return (.cifar100, d) }
        }
        return ImageFolder.looksLikeImageFolder(dir) ? (.folder, dir) : nil
    }

    /// Reads `dir` as `kind` (detected when nil). `imageSize` resizes every image to that square size
    /// (nil: folders get `defaultFolderImageSize`, fixed-size formats keep theirs). A single-folder image
    /// set holds out `testFraction` of each class by `seed`. `progress` hears the fraction done when
    /// decoding takes more than a second (from a worker thread, one call at a time); `isCancelled` is
    /// polled between images and makes the load throw `LoadCancelled`.
    public static func load(directory dir: String, kind: DataKind? = nil, imageSize: Int? = nil,
                            testFraction: Double = 0.1, seed: UInt64 = 0,
                            progress: ((Double) -> Void)? = nil, isCancelled: (() -> Bool)? = nil) throws -> LoadedData {
        if let imageSize, imageSize < 1 || imageSize > 4096 {
            throw DataError("--image-size \(imageSize): must be between 1 and 4096")
        }
        try MNIST.checkFolder(dir)
        let found: (kind: DataKind, directory: String)
        if let kind {
            // A forced kind still looks into the tarball's subfolder when that is where the files are.
            let detected = detect(directory: dir)
            let compatible = detected.map { $0.kind == kind || ($0.kind == .mnist && kind == .fashionMNIST) } ?? false
            found = (kind, compatible ? detected!.directory : dir)
        } else {
            guard let d = detect(directory: dir) else {
                throw DataError("\(dir): holds no data nntop knows: MNIST idx files, CIFAR-10/100 binary files (data_batch_1.bin…, train.bin/test.bin), or class folders of PNG/JPEG images")
            }
            found = d
        }
        let d = found.directory
        var train: ImageSet, test: ImageSet, detail = ""
        switch found.kind {
        case .mnist, .fashionMNIST:
            (train, test) = try MNIST.load(directory: d)
            if found.kind == .fashionMNIST {
                train = train.renamed(fashionNames); test = test.renamed(fashionNames)
            }
        case .cifar10: (train, test) = try CIFARBinary.loadCIFAR10(directory: d)
        case .cifar100: (train, test) = try CIFARBinary.loadCIFAR100(directory: d)
        case .folder:
            let f = try ImageFolder.load(directory: d, imageSize: imageSize ?? defaultFolderImageSize, testFraction: testFraction,
                                         seed: seed, progress: progress, isCancelled: isCancelled)
            (train, test) = (f.train, f.test)
            let sizes = f.smallest == f.largest ? "\(f.smallest.width)×\(f.smallest.height)"
                : "\(f.smallest.width)×\(f.smallest.height) to \(f.largest.width)×\(f.largest.height)"
            let split: String
            switch f.testSource {
            case .folder(let name): split = "test from \(name)/"
            case .heldOut(let fraction, let seed): split = "test held out (\(Int((fraction * 100).rounded()))% by seed \(seed))"
            }
            detail = " (\(f.formats.joined(separator: "/")), \(sizes) resized; \(split))"
        }
        if found.kind != .folder, let imageSize, imageSize != train.rows || imageSize != train.cols {
            detail = " (resized from \(train.rows)×\(train.cols))"
            train = train.resized(to: imageSize); test = test.resized(to: imageSize)
        }
        let line = "data: \(found.kind.title), \(train.count) train / \(test.count) test, \(train.channels)×\(train.rows)×\(train.cols), \(train.classes) classes\(detail)"
        return LoadedData(kind: found.kind, train: train, test: test, description: line, directory: d)
    }
}

extension ImageSet {
    func renamed(_ names: [String]) -> ImageSet {
        ImageSet(images: images, labels: labels, channels: channels, rows: rows, cols: cols, classNames: names)
    }

    /// Every image resized to side × side (the same filter as image folders).
    func resized(to side: Int) -> ImageSet {
        let inPer = bytesPerImage, outPer = channels * side * side
        var out = [UInt8](repeating: 0, count: count * outPer)
        images.withUnsafeBufferPointer { s in
            out.withUnsafeMutableBufferPointer { d in
                let (src, dst) = (s.baseAddress!, d.baseAddress!)
                DispatchQueue.concurrentPerform(iterations: Swift.max(1, Swift.min(count, 64))) { chunk in
                    let per = (count + 63) / 64
                    for i in chunk * per..<Swift.min(count, (chunk + 1) * per) {
                        Resize.planes(src + i * inPer, planes: channels, width: cols, height: rows,
                                      into: dst + i * outPer, toWidth: side, toHeight: side)
                    }
                }
            }
        }
        return ImageSet(images: out, labels: labels, channels: channels, rows: side, cols: side, classNames: classNames)
    }
}
