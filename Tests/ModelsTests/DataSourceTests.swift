import Foundation
import XCTest
@testable import Models

/// The readers of issue 16 on the fixtures of scripts/make_data_fixtures.py (expected pixels come
/// from that script: by construction for CIFAR and PNG, from PIL's decode for JPEG), the resize
/// against a direct double-precision filter, detection, the held-out split, and every bad input.
final class DataSourceTests: XCTestCase {
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/data").path
    var dir: String!

    override func setUpWithError() throws {
        dir = NSTemporaryDirectory() + "nntop-datasource-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(atPath: dir) }

    func fixture(_ path: String) -> String { Self.fixtures + "/" + path }
    func bytes(_ path: String) throws -> [UInt8] { [UInt8](try Data(contentsOf: URL(fileURLWithPath: path))) }
    func write(_ name: String, _ b: [UInt8]) throws {
        let path = dir + "/" + name
        try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        try Data(b).write(to: URL(fileURLWithPath: path))
    }
    func copy(_ fixturePath: String, to name: String) throws { try write(name, try bytes(fixture(fixturePath))) }

    struct Expected: Decodable { let channels: Int, width: Int, height: Int, pixels: [Int] }
    func expected(_ folder: String) throws -> [String: Expected] {
        try JSONDecoder().decode([String: Expected].self, from: Data(contentsOf: URL(fileURLWithPath: fixture(folder + "/expected.json"))))
    }

    /// The fixture script's formula for CIFAR pixels.
    func cifarPixel(_ r: Int, _ c: Int, _ y: Int, _ x: Int) -> UInt8 { UInt8((37 * r + 101 * c + 7 * y + 3 * x) % 256) }

    /// The load fails with one line naming `file` and saying `problem`, and writes nothing into the folder.
    func assertRefused(_ load: @autoclosure () throws -> Any, naming file: String, _ problem: String,
                       file f: StaticString = #filePath, line: UInt = #line) {
        let before = (try? FileManager.default.subpathsOfDirectory(atPath: dir)) ?? []
        XCTAssertThrowsError(try load(), file: f, line: line) { e in
            XCTAssert(e is DataError, "\(type(of: e)) is not a DataError", file: f, line: line)
            let m = "\(e)"
            XCTAssertFalse(m.contains("\n"), "more than one line: \(m)", file: f, line: line)
            XCTAssert(m.contains(file), "\(m) does not name \(file)", file: f, line: line)
            XCTAssert(m.localizedCaseInsensitiveContains(problem), "\(m) does not say \(problem)", file: f, line: line)
        }
        XCTAssertEqual((try? FileManager.default.subpathsOfDirectory(atPath: dir)) ?? [], before, "files written", file: f, line: line)
    }

    // MARK: CIFAR

    func testCIFAR10RecordsLabelsAndNames() throws {
        let d = try DataSource.load(directory: fixture("cifar10"))
        XCTAssertEqual(d.kind, .cifar10)
        XCTAssertEqual(d.description, "data: CIFAR-10 binary, 3 train / 2 test, 3×32×32, 10 classes")
        XCTAssertEqual(d.train.labels, [3, 0, 9]); XCTAssertEqual(d.test.labels, [1, 8])
        XCTAssertEqual(d.train.classNames.first, "plane"); XCTAssertEqual(d.train.classNames.last, "lorry")
        for (set, first) in [(d.train, 0), (d.test, 3)] {
            XCTAssertEqual(set.channels, 3); XCTAssertEqual(set.rows, 32); XCTAssertEqual(set.cols, 32)
            for i in 0..<set.count { for (c, y, x) in [(0, 0, 0), (1, 5, 31), (2, 31, 7), (2, 31, 31)] {
                XCTAssertEqual(set.images[((i * 3 + c) * 32 + y) * 32 + x], cifarPixel(first + i, c, y, x), "image \(i) c\(c) y\(y) x\(x)")
            } }
        }
    }

    func testCIFAR100UsesFineLabelsAndNames() throws {
        let d = try DataSource.load(directory: fixture("cifar100"))
        XCTAssertEqual(d.kind, .cifar100)
        XCTAssertEqual(d.description, "data: CIFAR-100 binary, 3 train / 2 test, 3×32×32, 100 classes")
        XCTAssertEqual(d.train.labels, [42, 99, 0]); XCTAssertEqual(d.test.labels, [13, 55])
        XCTAssertEqual(d.train.classNames[42], "fine42")
        XCTAssertEqual(d.test.images[(1 * 3 + 2) * 1024 + 3 * 32 + 4], cifarPixel(4, 2, 3, 4))
    }

    func testCIFARInTheTarballsSubfolderIsFound() throws {
        for name in ["data_batch_1.bin", "test_batch.bin"] { try copy("cifar10/" + name, to: "cifar-10-batches-bin/" + name) }
        let d = try DataSource.load(directory: dir)
        XCTAssertEqual(d.kind, .cifar10); XCTAssertEqual(d.train.count, 3)
        XCTAssertEqual(d.train.classNames, CIFARBinary.cifar10Names, "no batches.meta.txt: CIFAR-10's own names")
    }

    // MARK: PNG and JPEG

    func testPNGEveryColourTypeDecodesToTheKnownPixels() throws {
        let all = try expected("png")
        XCTAssertEqual(all.count, 9)
        for (name, e) in all.sorted(by: { $0.key < $1.key }) {
            let image = try PNGDecode.decode(try bytes(fixture("png/" + name)), path: name)
            XCTAssertEqual(image.width, e.width, name); XCTAssertEqual(image.height, e.height, name)
            let (px, ch) = image.planar()
            XCTAssertEqual(ch, e.channels, name)
            XCTAssertEqual(px.map(Int.init), e.pixels, name)
        }
    }

    func testJPEGDecodesAsPILDoes() throws {
        for (name, e) in try expected("jpeg") {
            let image = try JPEGDecode.decode(try bytes(fixture("jpeg/" + name)), path: name)
            let (px, ch) = image.planar()
            XCTAssertEqual(ch, e.channels, name); XCTAssertEqual(image.width, e.width, name); XCTAssertEqual(image.height, e.height, name)
            let worst = zip(px, e.pixels).map { abs(Int($0) - $1) }.max() ?? 99
            XCTAssertLessThanOrEqual(worst, 1, "\(name): largest difference from PIL's decode")
            XCTAssertEqual(px.count, e.pixels.count, name)
        }
        // A scaled decode (libjpeg's 1/8 IDCT) still reports the file's own size.
        let small = try JPEGDecode.decode(try bytes(fixture("jpeg/rgb.jpg")), path: "rgb.jpg", minSide: 1)
        XCTAssertEqual([small.width, small.height, small.fileWidth, small.fileHeight], [1, 1, 8, 6])
    }

    // MARK: Resize

    /// Output pixel (i, j) as the full double-precision sum over every input pixel of the separable
    /// triangle filter (radius max(scale, 1) input pixels), normalised.
    func directResize(_ src: [UInt8], w: Int, h: Int, toW: Int, toH: Int) -> [Double] {
        func weights(_ n: Int, _ m: Int, _ i: Int) -> [Double] {
            let s = Double(n) / Double(m), r = max(s, 1), centre = (Double(i) + 0.5) * s
            return (0..<n).map { max(0, 1 - abs(Double($0) + 0.5 - centre) / r) }
        }
        var out = [Double]()
        for i in 0..<toH { for j in 0..<toW {
            let wy = weights(h, toH, i), wx = weights(w, toW, j)
            var acc = 0.0, total = 0.0
            for y in 0..<h { for x in 0..<w { acc += wy[y] * wx[x] * Double(src[y * w + x]); total += wy[y] * wx[x] } }
            out.append(acc / total)
        } }
        return out
    }

    func testResizeMatchesTheDirectFilter() {
        var g = SystemRandomNumberGenerator()
        for (w, h, toW, toH) in [(13, 9, 5, 4), (7, 5, 20, 17), (64, 48, 10, 10), (3, 2, 3, 3), (31, 1, 4, 1)] {
            let src = (0..<w * h).map { _ in UInt8.random(in: 0...255, using: &g) }
            let got = Resize.planes(src, planes: 1, width: w, height: h, toWidth: toW, toHeight: toH)
            let want = directResize(src, w: w, h: h, toW: toW, toH: toH)
            // Rounded to 8 bits: within half a level (plus float32's error) of the exact value, at every pixel.
            let worst = zip(got, want).map { abs(Double($0) - $1) }.max()!
            XCTAssertLessThanOrEqual(worst, 0.5 + 1e-3, "\(w)×\(h)→\(toW)×\(toH): largest difference from the direct filter")
        }
    }

    func testShrinkingAveragesInsteadOfAliasing() {
        // A one-pixel checkerboard: point or 2×2 bilinear sampling gives 0s and 255s; an antialiased shrink, grey.
        let src: [UInt8] = (0..<64 * 64).map { (k: Int) -> UInt8 in (k / 64 + k % 64) % 2 == 0 ? 0 : 255 }
        let out = Resize.planes(src, planes: 1, width: 64, height: 64, toWidth: 8, toHeight: 8)
        XCTAssert(out.allSatisfy { (120...135).contains($0) }, "\(out)")
    }

    // MARK: Image folders

    func testSplitFolderMixesGreyAndColourAsThreeChannels() throws {
        try copy("png/grey8.png", to: "train/apple/1.png"); try copy("png/rgb.png", to: "train/apple/2.PNG")
        try copy("png/palette.png", to: "train/pear/a.png"); try copy("jpeg/rgb.jpg", to: "train/pear/b.jpeg")
        try copy("png/grey1.png", to: "val/apple/x.png"); try copy("jpeg/grey.jpg", to: "val/pear/y.jpg")
        try write("train/pear/notes.txt", Array("not an image".utf8))     // other extensions are skipped
        let d = try DataSource.load(directory: dir, imageSize: 3)
        XCTAssertEqual(d.kind, .folder)
        XCTAssertEqual(d.train.classNames, ["apple", "pear"])
        // Training images come in a fixed mixed order (as MNIST's files hold theirs); the test set in class order.
        XCTAssertEqual(d.train.labels.sorted(), [0, 0, 1, 1]); XCTAssertEqual(d.test.labels, [0, 1])
        XCTAssertEqual(d.train.channels, 3); XCTAssertEqual(d.test.channels, 3)
        XCTAssertEqual(d.train.rows, 3); XCTAssertEqual(d.train.cols, 3)
        XCTAssert(d.description.hasPrefix("data: image folder, 4 train / 2 test, 3×3×3, 2 classes"), d.description)
        XCTAssert(d.description.contains("val/"), d.description)
        // The grey image sits in R, G and B alike, resized from the script's known pixels.
        let grey = try XCTUnwrap(try expected("png")["grey8.png"])
        let want = Resize.planes(grey.pixels.map(UInt8.init), planes: 1, width: 3, height: 2, toWidth: 3, toHeight: 3)
        let images = (0..<d.train.count).map { Array(d.train.images[$0 * 27..<($0 + 1) * 27]) }
        XCTAssertTrue(images.contains(want + want + want), "no training image is the grey one in every plane")
        let rgb = try XCTUnwrap(try expected("png")["rgb.png"])
        XCTAssertTrue(images.contains(Resize.planes(rgb.pixels.map(UInt8.init), planes: 3, width: 3, height: 2, toWidth: 3, toHeight: 3)))
    }

    /// A folder is read class by class; its training images are mixed so that --val-size's last N
    /// (and --train-limit's first N) hold every class, not only the last one or two.
    func testFolderTrainingImagesAreMixedAcrossClasses() throws {
        for c in ["a", "b", "c"] { for k in 0..<6 { try copy("png/grey8.png", to: "train/\(c)/\(k).png") } }
        try copy("png/grey8.png", to: "test/a/x.png")
        let d = try DataSource.load(directory: dir, imageSize: 2)
        XCTAssertEqual(d.train.labels.sorted(), [Int32](repeating: 0, count: 6) + [Int32](repeating: 1, count: 6) + [Int32](repeating: 2, count: 6))
        XCTAssertEqual(Set(d.train.labels.suffix(6)).count, 3, "the last six: \(d.train.labels)")
        XCTAssertEqual(try DataSource.load(directory: dir, imageSize: 2).train.labels, d.train.labels, "the order is fixed")
    }

    func testGreyOnlyFolderIsOneChannel() throws {
        try copy("png/grey8.png", to: "a/1.png"); try copy("png/grey16.png", to: "b/1.png")
        try copy("png/grey_alpha.png", to: "a/2.png"); try copy("jpeg/grey.jpg", to: "b/2.jpg")
        let d = try DataSource.load(directory: dir, imageSize: 4, testFraction: 0.5, seed: 1)
        XCTAssertEqual(d.train.channels, 1)
        XCTAssertEqual(d.train.count + d.test.count, 4)
        XCTAssertEqual(d.train.images.count, d.train.count * 16)
    }

    func testHeldOutSplitIsStratifiedAndSetBySeed() {
        let labels = (0..<100).map { Int32($0 < 60 ? 0 : $0 < 90 ? 1 : 2) }
        let a = ImageFolder.heldOut(labels: labels, classes: 3, fraction: 0.2, seed: 7)
        XCTAssertEqual(Set(a.train).union(a.test), Set(0..<100)); XCTAssert(Set(a.train).isDisjoint(with: a.test))
        XCTAssertEqual(a.test.filter { labels[$0] == 0 }.count, 12)
        XCTAssertEqual(a.test.filter { labels[$0] == 1 }.count, 6)
        XCTAssertEqual(a.test.filter { labels[$0] == 2 }.count, 2)
        let again = ImageFolder.heldOut(labels: labels, classes: 3, fraction: 0.2, seed: 7)
        XCTAssertEqual(again.test, a.test)
        let other = ImageFolder.heldOut(labels: labels, classes: 3, fraction: 0.2, seed: 8)
        XCTAssertNotEqual(other.test, a.test)
    }

    func testSingleFolderHoldsOutByTheSeed() throws {
        for c in ["cat", "dog"] { for i in 0..<10 { try copy(i % 2 == 0 ? "png/rgb.png" : "png/palette.png", to: "\(c)/\(i).png") } }
        let d = try DataSource.load(directory: dir, testFraction: 0.3, seed: 3)
        XCTAssertEqual(d.train.count, 14); XCTAssertEqual(d.test.count, 6)
        XCTAssertEqual(d.train.rows, DataSource.defaultFolderImageSize)
        XCTAssert(d.description.contains("held out (30% by seed 3)"), d.description)
    }

    func testCancelledLoadStops() throws {
        for c in ["a", "b"] { for i in 0..<50 { try copy("png/rgb.png", to: "\(c)/\(i).png") } }
        XCTAssertThrowsError(try DataSource.load(directory: dir, isCancelled: { true })) { e in XCTAssert(e is LoadCancelled, "\(e)") }
    }

    // MARK: Detection

    func testDetectionOfEachKindAndForcedFashionNames() throws {
        XCTAssertEqual(DataSource.detect(directory: fixture("mnist"))?.kind, .mnist)
        XCTAssertEqual(DataSource.detect(directory: fixture("cifar10"))?.kind, .cifar10)
        XCTAssertEqual(DataSource.detect(directory: fixture("cifar100"))?.kind, .cifar100)
        XCTAssertNil(DataSource.detect(directory: dir))
        try copy("png/rgb.png", to: "x/1.png")
        XCTAssertEqual(DataSource.detect(directory: dir)?.kind, .folder)
        let m = try DataSource.load(directory: fixture("mnist"))
        XCTAssertEqual(m.description, "data: MNIST idx, 3 train / 2 test, 1×28×28, 10 classes")
        XCTAssertEqual(m.train.classNames, ImageSet.digitNames)
        let f = try DataSource.load(directory: fixture("mnist"), kind: .fashionMNIST)
        XCTAssertEqual(f.train.classNames[9], "Ankle boot"); XCTAssertEqual(f.train.labels, [5, 0, 4])
        XCTAssert(f.description.hasPrefix("data: Fashion-MNIST idx,"))
        XCTAssertEqual(DataKind(rawValue: "fashion-mnist"), .fashionMNIST)
    }

    func testResizingAFixedSizeFormat() throws {
        let d = try DataSource.load(directory: fixture("cifar10"), imageSize: 16)
        XCTAssertEqual(d.train.rows, 16); XCTAssertEqual(d.train.images.count, 3 * 3 * 256)
        XCTAssert(d.description.contains("3×16×16"), d.description)
    }

    // MARK: Bad input

    func testEmptyFolderAndWrongForcedKind() {
        assertRefused(try DataSource.load(directory: dir), naming: dir, "holds no data")
        assertRefused(try DataSource.load(directory: fixture("mnist"), kind: .cifar100), naming: "train.bin", "cannot be read")
    }

    func testCIFARFileNotAWholeNumberOfRecords() throws {
        try write("data_batch_1.bin", [UInt8](repeating: 1, count: 3073 * 2 + 5))
        try copy("cifar10/test_batch.bin", to: "test_batch.bin")
        assertRefused(try DataSource.load(directory: dir), naming: dir + "/data_batch_1.bin", "not a whole number of 3073-byte")
    }

    func testCIFARLabelsOutOfRange() throws {
        var c10 = try bytes(fixture("cifar10/test_batch.bin")); c10[3073] = 10
        try write("c10/data_batch_1.bin", c10); try write("c10/test_batch.bin", c10)
        assertRefused(try DataSource.load(directory: dir + "/c10"), naming: "c10/data_batch_1.bin", "record 1 has label 10")
        var c100 = try bytes(fixture("cifar100/train.bin")); c100[3074 * 2 + 1] = 100
        try write("c100/train.bin", c100); try copy("cifar100/test.bin", to: "c100/test.bin")
        assertRefused(try DataSource.load(directory: dir + "/c100"), naming: "c100/train.bin", "record 2 has label 100")
        c100 = try bytes(fixture("cifar100/train.bin")); c100[0] = 20
        try write("c100/train.bin", c100)
        assertRefused(try DataSource.load(directory: dir + "/c100"), naming: "c100/train.bin", "coarse label 20")
    }

    func testEmptyClassFolderAndASingleClass() throws {
        try copy("png/rgb.png", to: "one/a/1.png")
        assertRefused(try DataSource.load(directory: dir + "/one", kind: .folder), naming: dir + "/one", "only one class")
        try copy("png/rgb.png", to: "empty/a/1.png")
        try FileManager.default.createDirectory(atPath: dir + "/empty/b", withIntermediateDirectories: true)
        try write("empty/b/readme.txt", [65])
        assertRefused(try DataSource.load(directory: dir + "/empty"), naming: dir + "/empty/b", "holds no PNG or JPEG")
    }

    func testNotAnImageTruncatedAndUnreadableFiles() throws {
        func folder(_ name: String, _ bad: String, _ content: [UInt8]) throws -> String {
            try copy("png/rgb.png", to: "\(name)/a/ok.png"); try copy("png/rgb.png", to: "\(name)/b/ok.png")
            try write("\(name)/b/\(bad)", content)
            return dir + "/" + name
        }
        let png = try bytes(fixture("png/rgb.png")), jpg = try bytes(fixture("jpeg/rgb.jpg"))
        var flipped = png; flipped[png.count - 20] ^= 0x40     // a PNG whose IDAT CRC is wrong
        let cases: [(String, String, [UInt8], String)] = [
            ("text", "x.png", Array("hello".utf8), "not a PNG or JPEG"),
            ("empty", "x.jpg", [], "empty file"),
            ("cutpng", "x.png", Array(png[..<(png.count * 2 / 3)]), "not a valid PNG"),
            ("cutjpg", "x.jpg", Array(jpg[..<(jpg.count * 2 / 3)]), "not a valid JPEG"),      // cut in its tables: an error
            ("cutscan", "x.jpg", Array(jpg[..<(jpg.count - 12)]), "Premature end of JPEG"),  // cut in the scan: libjpeg only warns
            ("crc", "x.png", flipped, "not a valid PNG"),
        ]
        for (name, bad, content, problem) in cases {
            let d = try folder(name, bad, content)
            assertRefused(try DataSource.load(directory: d), naming: "\(name)/b/\(bad)", problem)
        }
        // Unreadable: a dangling link always; a mode-000 file when not root (root reads it anyway).
        _ = try folder("link", "y.png", png)
        try FileManager.default.createSymbolicLink(atPath: dir + "/link/b/x.png", withDestinationPath: dir + "/nowhere")
        assertRefused(try DataSource.load(directory: dir + "/link"), naming: "link/b/x.png", "cannot be read")
        if geteuid() != 0 {
            let locked = try folder("locked", "x.png", png)
            XCTAssertEqual(chmod(locked + "/b/x.png", 0), 0)
            assertRefused(try DataSource.load(directory: locked), naming: "locked/b/x.png", "permission denied")
        }
    }

    func testForgedHeaderSizesAreRefusedBeforeAllocating() throws {
        for (name, what) in [("zero.png", "PNG"), ("huge.png", "PNG"), ("zero.jpg", "JPEG"), ("huge.jpg", "JPEG")] {
            try copy("png/rgb.png", to: "\(name)/a/ok.png"); try copy("png/rgb.png", to: "\(name)/b/ok.png")
            try copy("bad/" + name, to: "\(name)/b/x" + (name.hasSuffix("png") ? ".png" : ".jpg"))
            assertRefused(try DataSource.load(directory: dir + "/" + name), naming: "\(name)/b/x", "not a valid \(what)")
        }
        // The message says why: the size (libpng's IHDR check, or our limit for JPEG).
        XCTAssertThrowsError(try PNGDecode.decode(try bytes(fixture("bad/huge.png")), path: "h")) { XCTAssert("\($0)".contains("exceeds user limit"), "\($0)") }
        XCTAssertThrowsError(try JPEGDecode.decode(try bytes(fixture("bad/huge.jpg")), path: "h")) { XCTAssert("\($0)".contains("60000×60000"), "\($0)") }
    }

    func testImageSizeZeroIsRefused() throws {
        XCTAssertThrowsError(try DataSource.load(directory: fixture("cifar10"), imageSize: 0)) { e in
            XCTAssertEqual("\(e)", "--image-size 0: must be between 1 and 4096")
        }
    }
}
