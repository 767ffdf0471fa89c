import Foundation
import XCTest
@testable import Kernels
@testable import Models

/// Issue 16's training side: any channel count, image size and class count from an ImageSet to the
/// Trainer, normalization, augmentation, checkpoints that remember both. Data is built in code
/// (tinted synthetic images); every expected value is computed here, not by the code under test.
final class DataPlumbingTests: XCTestCase {
    /// `n` images of channels×side×side in `classes` classes: class k is a tint (a per-channel level)
    /// over a seeded texture, so a few steps of LeNet-5 can learn something.
    static func tinted(_ n: Int, classes: Int, channels: Int = 3, side: Int = 32, seed: UInt64 = 1) -> ImageSet {
        var rng = SeededRandom(seed: seed)
        var bytes = [UInt8](), labels = [Int32]()
        for i in 0..<n {
            let k = i % classes
            labels.append(Int32(k))
            for c in 0..<channels {
                let level = (k * 37 + c * 91) % 200
                for _ in 0..<(side * side) { bytes.append(UInt8(level + Int(rng.next() % 56))) }
            }
        }
        return ImageSet(images: bytes, labels: labels, channels: channels, rows: side, cols: side,
                        classNames: (0..<classes).map { "class\($0)" })
    }

    func config(seed: UInt64 = 3) -> TrainConfig {
        var c = TrainConfig.defaults(for: "lenet5")
        c.epochs = 1; c.batchSize = 16; c.seed = seed; c.logEvery = 1000; c.threads = 2; c.lr = 0.01
        return c
    }

    func finish(_ t: Trainer, file: StaticString = #filePath, line: UInt = #line) {
        if t.wait(timeout: 120) { return }
        XCTFail("the run did not end: \(t.latest().message)", file: file, line: line)
        t.send(.stop); t.send(.resume); _ = t.wait(timeout: 30)
    }

    func tempDir() -> String {
        let d = NSTemporaryDirectory() + "nntop-plumbing-\(UUID().uuidString)"
        try! FileManager.default.createDirectory(atPath: d, withIntermediateDirectories: true)
        addTeardownBlock { try? FileManager.default.removeItem(atPath: d) }
        return d
    }

    // MARK: normalization

    func testChannelStatisticsMatchADirectDoubleComputationOverTheTrainingItemsOnly() throws {
        let all = Self.tinted(40, classes: 4, channels: 3, side: 8, seed: 9)
        let items = Array(0..<30)   // the last 10 are validation: they must not count
        let plane = 64
        var mean = [Double](), std = [Double]()
        for c in 0..<3 {
            var values: [Double] = []
            for i in items { for k in 0..<plane { values.append(Double(all.images[(i * 3 + c) * plane + k]) / 255) } }
            let m = values.reduce(0, +) / Double(values.count)
            mean.append(m)
            std.append((values.map { ($0 - m) * ($0 - m) }.reduce(0, +) / Double(values.count)).squareRoot())
        }
        let s = ChannelStatistics.of(all, items: items)
        for c in 0..<3 {
            XCTAssertEqual(Double(s.mean[c]), mean[c], accuracy: 1e-6)
            XCTAssertEqual(Double(s.std[c]), std[c], accuracy: 1e-6)
        }
        // DataSplits uses exactly those for a data set without fixed values (10 held out for validation).
        let splits = try DataSplits(train: all, test: Self.tinted(8, classes: 4, channels: 3, side: 8), validationSize: 10,
                                    trainLimit: nil, dataset: "cifar100")
        XCTAssertEqual(splits.spec.mean, s.mean)
        XCTAssertEqual(splits.spec.std, s.std)
    }

    func testFixedNormalizationsAndOverrides() throws {
        let grey = Self.tinted(20, classes: 10, channels: 1, side: 28)
        let mnist = try DataSplits(train: grey, test: grey, validationSize: 4, trainLimit: nil, dataset: "mnist")
        XCTAssertEqual(mnist.spec.mean, [0.1307]); XCTAssertEqual(mnist.spec.std, [0.3081])
        XCTAssertEqual(mnist.spec.inputShape, [1, 32, 32])
        let rgb = Self.tinted(20, classes: 10, channels: 3, side: 32)
        let cifar = try DataSplits(train: rgb, test: rgb, validationSize: 4, trainLimit: nil, dataset: "cifar10")
        XCTAssertEqual(cifar.spec.mean, [0.4914, 0.4822, 0.4465]); XCTAssertEqual(cifar.spec.std, [0.2023, 0.1994, 0.2010])
        XCTAssertEqual(cifar.spec.inputShape, [3, 32, 32])
        let given = try DataSplits(train: rgb, test: rgb, validationSize: 4, trainLimit: nil, dataset: "cifar10", mean: [0.5], std: [0.25, 0.5, 1])
        XCTAssertEqual(given.spec.mean, [0.5, 0.5, 0.5]); XCTAssertEqual(given.spec.std, [0.25, 0.5, 1])
        XCTAssertThrowsError(try DataSplits(train: rgb, test: rgb, validationSize: 4, trainLimit: nil, mean: [0.5, 0.5])) {
            XCTAssertTrue("\($0)".contains("--mean has 2 value(s), the images have 3 channel(s)"), "\($0)")
        }
        XCTAssertThrowsError(try DataSplits(train: rgb, test: rgb, validationSize: 4, trainLimit: nil, std: [0])) {
            XCTAssertTrue("\($0)".contains("--std"), "\($0)")
        }
    }

    /// MNIST's batches are those of before issue 16 bit for bit: the same float expression.
    func testMNISTFillIsTheOriginalExpressionBitForBit() throws {
        let grey = Self.tinted(4, classes: 2, channels: 1, side: 28)
        let d = Dataset(grey, spec: .mnist)
        let x = Tensor(shape: [4, 1, 32, 32])
        let labels = UnsafeMutablePointer<Int32>.allocate(capacity: 4); defer { labels.deallocate() }
        d.fill(items: [0, 1, 2, 3][...], x: x, labels: labels)
        let background: Float = -0.1307 / 0.3081, scale: Float = 1 / (255 * 0.3081)
        for b in 0..<4 {
            XCTAssertEqual(labels[b], grey.labels[b])
            for y in 0..<32 { for xx in 0..<32 {
                let r = y - 2, c = xx - 2
                let want = r >= 0 && r < 28 && c >= 0 && c < 28 ? Float(grey.images[b * 784 + r * 28 + c]) * scale + background : background
                XCTAssertEqual(x[b * 1024 + y * 32 + xx].bitPattern, want.bitPattern, "image \(b) at \(y),\(xx)")
            } }
        }
    }

    // MARK: augmentation

    func testAugmentationDrawsAreSeededCoverEveryOffsetAndFlipHalfTheTime() {
        let a = Augmentation(crop: true, flip: true, pad: 4, seed: 11)
        var offsets = Set<[Int]>(), flips = 0
        let n = 20_000
        for p in 0..<n {
            let d = a.draw(epoch: 2, position: p)
            XCTAssertTrue((0...8).contains(d.dy) && (0...8).contains(d.dx))
            offsets.insert([d.dy, d.dx]); if d.flip { flips += 1 }
            XCTAssertEqual(d, a.draw(epoch: 2, position: p), "a draw depends on (seed, epoch, position) only")
        }
        XCTAssertEqual(offsets.count, 81, "every offset of 0...8 × 0...8 is drawn")
        XCTAssertEqual(Double(flips) / Double(n), 0.5, accuracy: 0.02)
        let other = Augmentation(crop: true, flip: true, pad: 4, seed: 12)
        XCTAssertNotEqual((0..<50).map { a.draw(epoch: 2, position: $0) }, (0..<50).map { other.draw(epoch: 2, position: $0) })
        XCTAssertNotEqual((0..<50).map { a.draw(epoch: 2, position: $0) }, (0..<50).map { a.draw(epoch: 3, position: $0) })
        // Crop alone never flips; flip alone never moves.
        let cropOnly = Augmentation(crop: true, flip: false, pad: 4, seed: 11), flipOnly = Augmentation(crop: false, flip: true, pad: 4, seed: 11)
        XCTAssertFalse((0..<200).contains { cropOnly.draw(epoch: 1, position: $0).flip })
        XCTAssertTrue((0..<200).allSatisfy { let d = flipOnly.draw(epoch: 1, position: $0); return d.dy == 4 && d.dx == 4 })
    }

    /// Each augmented image against the definition: zero-pad the image by `pad`, crop H×W at the
    /// draw's offset, mirror if drawn; padding is the value of a 0 pixel, (0 − mean)/std.
    func testAugmentedFillMatchesPadCropFlipComputedDirectly() throws {
        let (c, h, w, pad) = (3, 7, 5, 3)
        var rng = SeededRandom(seed: 4)
        let images = (0..<(6 * c * h * w)).map { _ in UInt8(rng.next() % 256) }
        let data = ImageSet(images: images, labels: [0, 1, 2, 0, 1, 2], channels: c, rows: h, cols: w, classNames: ["a", "b", "c"])
        let spec = ImageSpec(dataset: "custom", channels: c, height: h, width: w, storedHeight: h, storedWidth: w,
                             classNames: ["a", "b", "c"], mean: [0.2, 0.5, 0.7], std: [0.3, 0.25, 0.2])
        let d = Dataset(data, spec: spec)
        let aug = Augmentation(crop: true, flip: true, pad: pad, seed: 21)
        let x = Tensor(shape: [6, c, h, w])
        let labels = UnsafeMutablePointer<Int32>.allocate(capacity: 6); defer { labels.deallocate() }
        let items = [5, 0, 3, 1, 4, 2]
        var sawFlip = false, sawPadding = false
        for epoch in 1...6 {
            d.fill(items: items[...], x: x, labels: labels, augmentation: aug, epoch: epoch, firstPosition: 12)
            for (b, item) in items.enumerated() {
                let draw = aug.draw(epoch: epoch, position: 12 + b)
                sawFlip = sawFlip || draw.flip
                XCTAssertEqual(labels[b], data.labels[item])
                for ch in 0..<c {
                    // The padded image, in doubles.
                    let ph = h + 2 * pad, pw = w + 2 * pad
                    var padded = [Double](repeating: 0, count: ph * pw)
                    for r in 0..<h { for q in 0..<w { padded[(r + pad) * pw + q + pad] = Double(images[((item * c + ch) * h + r) * w + q]) } }
                    for y in 0..<h { for xx in 0..<w {
                        let cropX = draw.flip ? w - 1 - xx : xx
                        let p = padded[(y + draw.dy) * pw + cropX + draw.dx]
                        let py = y + draw.dy - pad, px = cropX + draw.dx - pad
                        if py < 0 || py >= h || px < 0 || px >= w { sawPadding = true }
                        let want = (p / 255 - Double(spec.mean[ch])) / Double(spec.std[ch])
                        XCTAssertEqual(Double(x[((b * c + ch) * h + y) * w + xx]), want, accuracy: 1e-5,
                                       "epoch \(epoch) image \(b) channel \(ch) at \(y),\(xx) draw \(draw)")
                    } }
                }
            }
        }
        XCTAssertTrue(sawFlip && sawPadding, "the draws exercised flips and padding")
    }

    // MARK: class counts

    func testTwoAndAHundredClassesTrainEvaluateAndReportTheirShapes() throws {
        for classes in [2, 100] {
            let train = Self.tinted(classes == 2 ? 96 : 300, classes: classes), test = Self.tinted(120, classes: classes, seed: 2)
            let data = try DataSplits(train: train, test: test, validationSize: 32, trainLimit: nil, dataset: "folder")
            let t = try Trainer(config: config(), data: data)
            XCTAssertEqual(t.network.classes, classes)
            t.start(); finish(t)
            let s = t.latest()
            XCTAssertEqual(s.state, .done, s.message)
            XCTAssertTrue(s.trainLoss.allSatisfy { $0.value.isFinite })
            XCTAssertEqual(s.classNames, train.classNames)
            XCTAssertEqual(s.inputShape, [3, 32, 32])
            let final = try XCTUnwrap(s.finalTest)
            XCTAssertEqual(final.confusion.count, classes)
            XCTAssertTrue(final.confusion.allSatisfy { $0.count == classes })
            XCTAssertEqual(final.confusion.joined().reduce(0, +), 120)
            // Row sums are the test set's class counts.
            for k in 0..<classes { XCTAssertEqual(final.confusion[k].reduce(0, +), test.labels.filter { $0 == k }.count) }
            XCTAssertEqual(s.digits.first?.channels, 3)
            XCTAssertEqual(s.digits.first?.pixels.count, 3 * 32 * 32)
            XCTAssertEqual(s.digits.first?.pixels, Array(test.images[0..<3072]))
            if classes == 2 {
                XCTAssertNil(final.top5Accuracy); XCTAssertTrue(s.testTop5.isEmpty && s.validationTop5.isEmpty)
            } else {
                // Top-5 from the probabilities, counted here.
                let probs = Evaluator.probabilities(t.network, data.test)
                var hits = 0
                for (i, p) in probs.enumerated() {
                    let truth = Int(test.labels[i])
                    let better = p.indices.filter { p[$0] > p[truth] || (p[$0] == p[truth] && $0 < truth) }.count
                    if better < 5 { hits += 1 }
                }
                XCTAssertEqual(try XCTUnwrap(final.top5Accuracy), 100 * Double(hits) / 120, accuracy: 1e-9)
                XCTAssertEqual(s.validationTop5.count, 1)
                XCTAssertGreaterThanOrEqual(final.top5Accuracy!, final.accuracy)
            }
        }
    }

    func testLabelsOutsideTheClassesAreRefused() {
        let good = Self.tinted(10, classes: 3)
        let bad = ImageSet(images: good.images, labels: good.labels.map { $0 == 2 ? 7 : $0 }, channels: 3, rows: 32, cols: 32,
                           classNames: good.classNames)
        XCTAssertThrowsError(try DataSplits(train: bad, test: good, validationSize: 2, trainLimit: nil)) {
            XCTAssertTrue("\($0)".contains("label is 7, outside the 3 classes"), "\($0)")
        }
    }

    // MARK: checkpoints

    func testCheckpointsCarryTheSpecAndMismatchedOnesAreRefused() throws {
        let dir = tempDir()
        let rgb = try DataSplits(train: Self.tinted(64, classes: 7), test: Self.tinted(16, classes: 7), validationSize: 16,
                                 trainLimit: nil, dataset: "folder")
        var c = config(); c.mean = rgb.spec.mean; c.std = rgb.spec.std
        let t = try Trainer(config: c, data: rgb)
        t.checkpointDirectory = dir
        t.start(); finish(t)
        let file = try SafetensorsFile(path: dir + "/last.safetensors")
        let spec = try XCTUnwrap(file.metadata["data"].flatMap(ImageSpec.fromJSON))
        XCTAssertEqual(spec, rgb.spec)
        XCTAssertEqual(Checkpoint.spec(of: file).mean, ChannelStatistics.of(rgb.train.source, items: rgb.train.indices).mean)
        let saved = try JSONDecoder().decode(TrainConfig.self, from: Data(try XCTUnwrap(file.metadata["config"]).utf8))
        XCTAssertEqual(saved.mean, rgb.spec.mean); XCTAssertEqual(saved.std, rgb.spec.std)

        // Other data: 3 classes, or 1 channel.
        let fewer = try DataSplits(train: Self.tinted(64, classes: 3), test: Self.tinted(16, classes: 3), validationSize: 16, trainLimit: nil)
        let grey = try DataSplits(train: Self.tinted(64, classes: 7, channels: 1), test: Self.tinted(16, classes: 7, channels: 1),
                                  validationSize: 16, trainLimit: nil)
        for (data, word) in [(fewer, "classes"), (grey, "3×32×32")] {
            let other = try Trainer(config: config(), data: data)
            let before = other.network.state.map { Array(UnsafeBufferPointer(start: $0.tensor.data, count: $0.tensor.count)) }
            XCTAssertThrowsError(try other.resume(from: dir + "/last.safetensors")) {
                XCTAssertTrue("\($0)".contains("trained on 7 classes") && "\($0)".contains(word), "\($0)")
            }
            XCTAssertThrowsError(try other.loadWeights(from: dir + "/last.safetensors"))
            let after = other.network.state.map { Array(UnsafeBufferPointer(start: $0.tensor.data, count: $0.tensor.count)) }
            XCTAssertEqual(before, after, "a refused checkpoint changes nothing")
        }
        // Without nntop's metadata (a PyTorch state_dict): the head's and the input conv's shapes say it.
        try Checkpoint.save(t.network, to: dir + "/plain.safetensors")
        for (data, word) in [(fewer, "has 7 classes"), (grey, "takes 3-channel images")] {
            let other = try Trainer(config: config(), data: data)
            XCTAssertThrowsError(try other.loadWeights(from: dir + "/plain.safetensors")) {
                XCTAssertTrue("\($0)".contains(word), "\($0)")
                XCTAssertEqual("\($0)".split(separator: "\n").count, 1)
            }
        }
    }

    /// A run stopped mid-epoch and resumed from its checkpoint ends with the weights of the run
    /// that was never stopped: the crops and flips of the resumed steps are the same ones.
    func testResumeWithAugmentationIsExact() throws {
        let dir = tempDir()
        let data = try DataSplits(train: Self.tinted(160, classes: 4), test: Self.tinted(16, classes: 4), validationSize: 32,
                                  trainLimit: nil, dataset: "cifar10")
        var c = config(); c.epochs = 2; c.augment = ["crop", "flip"]; c.pad = 4; c.saveEvery = 11
        let whole = try Trainer(config: c, data: data)
        whole.checkpointDirectory = dir + "/whole"
        whole.start(); finish(whole)
        XCTAssertEqual(whole.latest().step, 16)
        let resumed = try Trainer(config: c, data: data)
        resumed.checkpointDirectory = dir + "/resumed"
        try resumed.resume(from: dir + "/whole/step-000011.safetensors")
        resumed.start(); finish(resumed)
        let a = whole.network.state.map { Array(UnsafeBufferPointer(start: $0.tensor.data, count: $0.tensor.count)) }
        let b = resumed.network.state.map { Array(UnsafeBufferPointer(start: $0.tensor.data, count: $0.tensor.count)) }
        XCTAssertEqual(a, b)
        XCTAssertEqual(whole.latest().trainLoss.suffix(5).map(\.value), resumed.latest().trainLoss.suffix(5).map(\.value))
        // And augmentation does change training (else this test would prove nothing).
        var plain = c; plain.augment = []
        let p = try Trainer(config: plain, data: data)
        p.start(); finish(p)
        XCTAssertNotEqual(p.latest().trainLoss.map(\.value), whole.latest().trainLoss.map(\.value))
    }

    // MARK: predict

    func testPredictionInputIsTheDatasetsImageAndGreyColourConvert() throws {
        let spec = ImageSpec(dataset: "custom", channels: 3, height: 2, width: 2, storedHeight: 2, storedWidth: 2,
                             classNames: ["a", "b"], mean: [0, 0, 0], std: [1, 1, 1])
        let grey = PlanarImage(channels: 1, rows: 2, cols: 2, pixels: [1, 2, 3, 4])
        let rgb = PlanarImage(channels: 3, rows: 2, cols: 2, pixels: [10, 20, 30, 40, 50, 60, 70, 80, 90, 100, 110, 120])
        let set = try spec.imageSet([("g", grey), ("c", rgb)])
        XCTAssertEqual(set.images, [1, 2, 3, 4, 1, 2, 3, 4, 1, 2, 3, 4] + rgb.pixels)
        var greySpec = spec; greySpec.channels = 1; greySpec.mean = [0]; greySpec.std = [1]
        // 601 luma of (10, 50, 90): 0.299·10 + 0.587·50 + 0.114·90 = 42.65 → 43.
        XCTAssertEqual(try greySpec.imageSet([("c", rgb)]).images.first, 43)
        // Another size is resized to the stored one: each plane of a flat 6×4 image stays that flat value.
        let flat = PlanarImage(channels: 3, rows: 4, cols: 6, pixels: [UInt8](repeating: 7, count: 24) + [UInt8](repeating: 99, count: 24)
                                                                    + [UInt8](repeating: 200, count: 24))
        XCTAssertEqual(try spec.imageSet([("big.ppm", flat)]).images, [7, 7, 7, 7, 99, 99, 99, 99, 200, 200, 200, 200])
        XCTAssertEqual(topClasses([0.1, 0.5, 0.2, 0.5], k: 3).map(\.index), [1, 3, 2])
    }
}
