import XCTest
@testable import TUI

/// Colour images of any size, class names, N-class confusion matrices and top-5: the dashboard
/// side of "any image dataset". Expected values are worked out by hand in the comments.
final class ImageDatasetTests: XCTestCase {
    static let cifar = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]

    /// 2x2, channel-planar: red top-left, green top-right, blue bottom-left, white bottom-right.
    static let quad = SampleImage(width: 2, height: 2, channels: 3,
                                  pixels: [255, 0, 0, 255, /* R */ 0, 255, 0, 255, /* G */ 0, 0, 255, 255 /* B */],
                                  label: "x", predicted: "x", confidence: 1, correct: true)

    /// A `side`×`side` RGB image of one colour.
    static func solid(_ r: UInt8, _ g: UInt8, _ b: UInt8, side: Int = 32, label: String, predicted: String,
                      confidence: Double = 0.9) -> SampleImage {
        let n = side * side
        return SampleImage(width: side, height: side, channels: 3,
                           pixels: [UInt8](repeating: r, count: n) + [UInt8](repeating: g, count: n) + [UInt8](repeating: b, count: n),
                           label: label, predicted: predicted, confidence: confidence, correct: label == predicted)
    }

    func render(_ w: Int, _ h: Int, _ model: DashboardModel, panel: Panel, caps: RenderCaps = .full) -> CellBuffer {
        Self.render(w, h, model, panel: panel, caps: caps)
    }

    static func render(_ w: Int, _ h: Int, _ model: DashboardModel, panel: Panel, caps: RenderCaps = .full) -> CellBuffer {
        var ui = DashboardUI()
        ui.panel = panel
        var b = CellBuffer(width: w, height: h)
        DashboardView.render(model: model, ui: ui, caps: caps, into: &b)
        return b
    }

    // MARK: colour images in each mode

    func testColourImageTruecolour() {
        var b = CellBuffer(width: 2, height: 1)
        DigitView.drawImage(Self.quad, into: &b, x: 0, y: 0, cols: 2, rows: 1, mode: .halfBlocks, caps: .truecolor)
        // One cell row holds both pixel rows: fg the top pixel, bg the bottom one.
        XCTAssertEqual(b[0, 0].text, "▀")
        XCTAssertEqual(b[0, 0].style.fg, .rgb(255, 0, 0))
        XCTAssertEqual(b[0, 0].style.bg, .rgb(0, 0, 255))
        XCTAssertEqual(b[1, 0].style.fg, .rgb(0, 255, 0))
        XCTAssertEqual(b[1, 0].style.bg, .rgb(255, 255, 255))
    }

    func testColourImage256() {
        var b = CellBuffer(width: 2, height: 1)
        DigitView.drawImage(Self.quad, into: &b, x: 0, y: 0, cols: 2, rows: 1, mode: .halfBlocks, caps: .full)
        // xterm cube 16 + 36r + 6g + b (levels 0...5): red 196, green 46, blue 21, white 231.
        XCTAssertEqual(b[0, 0].style.fg, .index(196))
        XCTAssertEqual(b[0, 0].style.bg, .index(21))
        XCTAssertEqual(b[1, 0].style.fg, .index(46))
        XCTAssertEqual(b[1, 0].style.bg, .index(231))
    }

    func testColourImageGreyShadesAndASCII() {
        // Brightness 0.299R + 0.587G + 0.114B: red 76, green 149, blue 29, white 255.
        var s = CellBuffer(width: 2, height: 2)
        DigitView.drawImage(Self.quad, into: &s, x: 0, y: 0, cols: 2, rows: 2, mode: .shades, caps: .basic)
        // Five shades of 256 levels each 51.2 wide: 76 → ░, 149 → ▒, 29 → blank, 255 → █.
        XCTAssertEqual([s[0, 0].text, s[1, 0].text, s[0, 1].text, s[1, 1].text], ["░", "▒", " ", "█"])
        var a = CellBuffer(width: 2, height: 2)
        DigitView.drawImage(Self.quad, into: &a, x: 0, y: 0, cols: 2, rows: 2, mode: .ascii, caps: .ascii)
        // Ten steps of 25.6: 76 → ':', 149 → '+', 29 → '.', 255 → '@'.
        XCTAssertEqual([a[0, 0].text, a[1, 0].text, a[0, 1].text, a[1, 1].text], [":", "+", ".", "@"])
        XCTAssertTrue(a.cells.allSatisfy { $0.style.fg == .default && $0.style.bg == .default })
    }

    func testCursesColourNumbers() {
        let direct = 1 << 24
        XCTAssertEqual(Palette.cursesNumber(.rgb(255, 0, 0), colors: direct), 0xFF0000)
        // 0...7 mean the ANSI colours on a direct-colour terminal: near-black blue goes to 8.
        XCTAssertEqual(Palette.cursesNumber(.rgb(0, 0, 3), colors: direct), 8)
        XCTAssertEqual(Palette.cursesNumber(.red, colors: direct), 1)
        // Palette entries become their RGB: grey 23 is 8 + 230 = 238 = 0xEE; cube 196 is pure red.
        XCTAssertEqual(Palette.cursesNumber(.gray(23), colors: direct), 0xEEEEEE)
        XCTAssertEqual(Palette.cursesNumber(.index(196), colors: direct), 0xFF0000)
        XCTAssertEqual(Palette.cursesNumber(.default, colors: direct), -1)
        XCTAssertEqual(Palette.cursesNumber(.rgb(255, 0, 0), colors: 256), 196)
        // Mid grey 128 is exactly ramp entry 244 (8 + 10·12); the cube's nearest (135) is farther.
        XCTAssertEqual(Palette.cursesNumber(.rgb(128, 128, 128), colors: 256), 244)
        XCTAssertEqual(Palette.cursesNumber(.rgb(255, 0, 0), colors: 8), 1)
        XCTAssertEqual(Palette.cursesNumber(.rgb(255, 0, 0), colors: 0), -1)
    }

    func testLargeImageIsScaledToTheBox() {
        // 224x224: left half red, right half blue; the 14x7 box gives each cell a 16x16 block.
        let side = 224, n = side * side
        var px = [UInt8](repeating: 0, count: 3 * n)
        for y in 0..<side { for x in 0..<side { if x < 112 { px[y * side + x] = 255 } else { px[2 * n + y * side + x] = 255 } } }
        let img = SampleImage(width: side, height: side, channels: 3, pixels: px, label: "a", predicted: "a", confidence: 1, correct: true)
        var b = CellBuffer(width: 14, height: 7)
        DigitView.drawImage(img, into: &b, x: 0, y: 0, cols: 14, rows: 7, mode: .halfBlocks, caps: .truecolor)
        for y in 0..<7 { for x in 0..<14 {
            let want: Color = x < 7 ? .rgb(255, 0, 0) : .rgb(0, 0, 255)
            XCTAssertEqual(b[x, y].style.fg, want, "\(x),\(y)")
            XCTAssertEqual(b[x, y].style.bg, want, "\(x),\(y)")
        } }
        // A 2:1 image keeps its shape in the 14x7 box: 14 columns, 4 rows (3.5 rounded), centred.
        let f = DigitView.fit(width: 64, height: 32, cols: 14, rows: 7)
        XCTAssertEqual([f.x, f.y, f.cols, f.rows], [0, 1, 14, 4])
        // A square one fills the box: 14 columns of 1 pixel by 7 rows of 2.
        let sq = DigitView.fit(width: 32, height: 32, cols: 14, rows: 7)
        XCTAssertEqual([sq.x, sq.y, sq.cols, sq.rows], [0, 0, 14, 7])
    }

    // MARK: class names under images

    func cifarModel() -> DashboardModel { Self.cifarModel() }

    static func cifarModel() -> DashboardModel {
        var m = Fixtures.model()
        m.classNames = Self.cifar
        m.samples = Self.cifar.enumerated().map { i, name in
            let v = UInt8(i * 25)
            // The second image is a truck taken for an automobile.
            return Self.solid(v, 255 - v, 128, label: i == 1 ? "truck" : name, predicted: name, confidence: i == 1 ? 0.54 : 0.98)
        }
        m.mistakes = [m.samples[1]]
        return m
    }

    func testCIFARNamesUnderImagesAt80x24() throws {
        let b = render(80, 24, cifarModel(), panel: .digits)
        for y in 0..<24 { XCTAssertEqual(displayWidth(b.row(y)), 80, "row \(y)") }
        XCTAssertTrue(b.contains("Test images"), b.text)
        // 15 columns per caption: "airplane ✓ 98%" fits whole; "automobile ✗ (truck) 54%" does not,
        // so the name is cut to leave " ✗ 54%" and the true class goes on the next row.
        XCTAssertTrue(b.contains("airplane ✓ 98%"), b.text)
        let wrong = try XCTUnwrap(b.find("automobi… ✗ 54%"), b.text)
        XCTAssertEqual(b.find("(truck)")?.y, wrong.y + 1)
        XCTAssertEqual(b[wrong.x, wrong.y].style.fg, .red)
        // All ten images fit at 80x24 (five per row, two rows), each with its name.
        for name in Self.cifar where name != "automobile" { XCTAssertTrue(b.contains("\(name) ✓ 98%"), name + "\n" + b.text) }
        // The image above a caption is drawn in colour: airplane is (0, 255, 128): cube steps (0, 5, 2), 16 + 6·5 + 2 = 48.
        let cap = try XCTUnwrap(b.find("airplane ✓"))
        XCTAssertEqual(b[cap.x + 3, cap.y - 1].style.fg, .index(48))

        let a = render(80, 24, cifarModel(), panel: .digits, caps: .ascii)
        XCTAssertTrue(a.allText.unicodeScalars.allSatisfy(\.isASCII), a.text)
        XCTAssertTrue(a.contains("automobi. X 54%"), a.text)
        XCTAssertTrue(a.contains("(truck)"))
    }

    // MARK: confusion matrices

    /// 100 classes of 100 images: 95 right and 5 taken for the next class, except otter (55),
    /// taken for seal (72) 40 times, the top confusion, and beaver (4) for otter 30 times.
    static func hundred() -> (m: [[Int]], names: [String]) {
        var names = (0..<100).map { String(format: "class%02d", $0) }
        names[55] = "otter"; names[72] = "seal"; names[4] = "beaver"; names[1] = "aquarium_fish"
        var m = [[Int]](repeating: [Int](repeating: 0, count: 100), count: 100)
        for r in 0..<100 { m[r][r] = 95; m[r][(r + 1) % 100] = 5 }
        m[55][55] -= 40; m[55][72] = 40
        m[4][4] -= 30; m[4][55] = 30
        return (m, names)
    }

    func testHundredClassesStayReadable() throws {
        let (m, names) = Self.hundred()
        var model = Fixtures.model()
        model.confusion = m
        model.classNames = names
        for (w, h) in [(80, 24), (160, 50)] {
            let b = render(w, h, model, panel: .confusion)
            for y in 0..<h { XCTAssertEqual(displayWidth(b.row(y)), w, "row \(y) at \(w)x\(h)") }
            XCTAssertTrue(b.contains("100 classes"), b.text)
            XCTAssertTrue(b.contains("top confusions"), b.text)
            // The top confusion first, with its count; the second below it.
            let top = try XCTUnwrap(b.find("otter → seal"), b.text)
            XCTAssertTrue(b.row(top.y).contains(" 40"), b.row(top.y))
            XCTAssertEqual(b.find("beaver → otter")?.y, top.y + 1, b.text)
            // Lowest recall: otter (55 of 100), then beaver (65).
            let heading = try XCTUnwrap(b.find("lowest recall"), b.text)
            XCTAssertTrue(b.row(heading.y + 1).contains("otter") && b.row(heading.y + 1).contains("55.0% (55/100)"),
                          b.row(heading.y + 1))
            XCTAssertTrue(b.row(heading.y + 2).contains("beaver") && b.row(heading.y + 2).contains("65.0%"), b.row(heading.y + 2))
            // The heat map stays left of the lists: no half block in or right of the list column.
            for y in 0..<h {
                let r = Array(b.row(y))
                if let j = r.lastIndex(of: "▀") { XCTAssertLessThan(j, top.x - 1, "row \(y)\n\(b.text)") }
            }
            XCTAssertTrue(b.contains("▀"), "heat map drawn at \(w)x\(h)")
            XCTAssertTrue(b.contains("accuracy 94.30% (9430/10000)"), b.text)
            let a = render(w, h, model, panel: .confusion, caps: .ascii)
            XCTAssertTrue(a.allText.unicodeScalars.allSatisfy(\.isASCII), a.text)
            XCTAssertTrue(a.contains("otter -> seal"), a.text)
        }
    }

    func testTopConfusionOrder() {
        var m = [[Int]](repeating: [Int](repeating: 0, count: 20), count: 20)
        m[3][5] = 87; m[7][2] = 40; m[2][7] = 40; m[9][9] = 500
        let t = ConfusionMatrix.topConfusions(m, limit: 3)
        XCTAssertEqual(t.map(\.truth), [3, 2, 7])
        XCTAssertEqual(t.map(\.predicted), [5, 7, 2])
        XCTAssertEqual(t.map(\.count), [87, 40, 40])
        var b = CellBuffer(width: 80, height: 20)
        var names = (0..<20).map { "c\($0)" }
        names[3] = "cat"; names[5] = "dog"
        ConfusionMatrix(counts: m, classNames: names).draw(into: &b, rect: b.bounds, caps: .full)
        let row = b.row(b.find("cat → dog")!.y)
        XCTAssertTrue(row.hasSuffix(" 87") || row.contains(" 87"), row)
    }

    func testTwoClassesShowBothRecalls() throws {
        var b = CellBuffer(width: 80, height: 24)
        // cats: 90 of 100 right; dogs: 70 of 100.
        ConfusionMatrix(counts: [[90, 10], [30, 70]], classNames: ["cats", "dogs"]).draw(into: &b, rect: b.bounds, caps: .full)
        let cats = try XCTUnwrap(b.find("cats│"), b.text), dogs = try XCTUnwrap(b.find("dogs│"), b.text)
        XCTAssertTrue(b.row(cats.y).contains("90.0%"), b.row(cats.y))
        XCTAssertTrue(b.row(dogs.y).contains("70.0%"), b.row(dogs.y))
        XCTAssertTrue(b.row(cats.y - 1).contains("cats") && b.row(cats.y - 1).contains("dogs"), "column labels")
        XCTAssertTrue(b.contains("accuracy 80.00% (160/200)"), b.text)
    }

    func testTenCIFARClassesFullMatrixWithNames() throws {
        var m = [[Int]](repeating: [Int](repeating: 0, count: 10), count: 10)
        for r in 0..<10 { m[r][r] = 900; m[r][(r + 1) % 10] = 100 }
        var model = Fixtures.model()
        model.confusion = m
        model.classNames = Self.cifar
        let b = render(80, 24, model, panel: .confusion)
        for y in 0..<24 { XCTAssertEqual(displayWidth(b.row(y)), 80, "row \(y)") }
        // Row labels whole (10 columns), column labels cut to the 5 columns a count leaves.
        let auto = try XCTUnwrap(b.find("automobile│"), b.text)
        XCTAssertTrue(b.row(auto.y).contains("90.0%"), b.row(auto.y))
        XCTAssertTrue(b.contains("autom"), b.text)
        XCTAssertTrue(b.contains("recall"))
        // At the minimum size every row still shows, names cut but present.
        let small = render(60, 16, model, panel: .confusion)
        for y in 0..<16 { XCTAssertEqual(displayWidth(small.row(y)), 60, "row \(y)") }
        XCTAssertTrue(small.contains("truck│"), small.text)
    }

    // MARK: top-5

    func testTopFiveBesideTopOne() {
        var model = Fixtures.model()
        model.testAcc = [SeriesPoint(x: 100, y: 71.23)]
        model.testTop5 = [SeriesPoint(x: 100, y: 91.4)]
        let b = render(80, 24, model, panel: .curves)
        XCTAssertTrue(b.contains("test 71.23% top-5 91.40%"), b.text)
        let c = render(80, 24, model, panel: .confusion)
        XCTAssertTrue(c.contains("top-5 91.40%"), c.text)
        // MNIST measures none: nothing shown.
        XCTAssertFalse(render(80, 24, Fixtures.model(), panel: .curves).contains("top-5"))
    }
}
