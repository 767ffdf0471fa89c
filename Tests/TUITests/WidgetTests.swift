import XCTest
@testable import TUI

final class WidgetTests: XCTestCase {
    let layers = [LayerTiming(name: "conv1", forwardMs: 1, backwardMs: 1),
                  LayerTiming(name: "big", forwardMs: 3, backwardMs: 3),
                  LayerTiming(name: "fc", forwardMs: 1, backwardMs: 0)]

    func testLayerBarsShowTimesSharesAndTotal() throws {
        var b = CellBuffer(width: 70, height: 8)
        LayerBars(layers: layers).draw(into: &b, rect: b.bounds, caps: .full)
        // total 9 ms: big = 6/9 = 66.7%, conv1 = 22.2%, fc = 11.1%
        let big = try XCTUnwrap(b.find("big"))
        XCTAssertTrue(b.row(big.y).contains("66.7%"), b.row(big.y))
        XCTAssertTrue(b.row(big.y).contains("3.00"))
        XCTAssertTrue(b.contains("22.2%"))
        XCTAssertTrue(b.contains("11.1%"))
        XCTAssertTrue(b.contains("9.00 ms/step"), b.text)
        // Model order by default.
        XCTAssertLessThan(b.find("conv1")!.y, big.y)
        XCTAssertLessThan(big.y, b.find("fc ")!.y)
        // The longest bar belongs to the slowest layer; bars are proportional.
        func barLen(_ name: String) -> Int { b.row(b.find(name)!.y).filter { $0 == "█" }.count }
        XCTAssertGreaterThan(barLen("big"), barLen("conv1"))
        XCTAssertEqual(Double(barLen("conv1")) / Double(barLen("big")), 2.0 / 6.0, accuracy: 0.1)
    }

    func testLayerBarsSortByTime() {
        XCTAssertEqual(LayerBars(layers: layers, sortByTime: true).ordered.map(\.name), ["big", "conv1", "fc"])
        XCTAssertEqual(LayerBars(layers: layers, sortByTime: false).ordered.map(\.name), ["conv1", "big", "fc"])
        var b = CellBuffer(width: 70, height: 8)
        LayerBars(layers: layers, sortByTime: true).draw(into: &b, rect: b.bounds, caps: .ascii)
        XCTAssertLessThan(b.find("big")!.y, b.find("conv1")!.y)
        XCTAssertTrue(b.allText.unicodeScalars.allSatisfy(\.isASCII))
    }

    func testLayerBarsTooManyLayersSaysHowManyMore() {
        let many = (0..<30).map { LayerTiming(name: "l\($0)", forwardMs: 1, backwardMs: 1) }
        var b = CellBuffer(width: 60, height: 10)
        LayerBars(layers: many).draw(into: &b, rect: b.bounds, caps: .full)
        XCTAssertTrue(b.contains("more layers"), b.text)
        XCTAssertTrue(b.contains("total"))
    }

    func testConfusionMatrixCountsAndShading() throws {
        var m = [[Int]](repeating: [Int](repeating: 0, count: 10), count: 10)
        for r in 0..<10 { m[r][r] = 100 }
        m[4][9] = 25  // class 4 often taken for a 9
        var b = CellBuffer(width: 80, height: 14)
        ConfusionMatrix(counts: m).draw(into: &b, rect: b.bounds, caps: .full)
        let row4 = try XCTUnwrap((0..<b.height).first { b.row($0).hasPrefix(" 4") })
        let cells = b.row(row4).split(separator: " ").map(String.init)
        // " 4│" then 10 counts then recall
        XCTAssertEqual(Array(cells.dropFirst().prefix(10)), ["0", "0", "0", "0", "100", "0", "0", "0", "0", "25"], b.row(row4))
        XCTAssertTrue(b.row(row4).contains("80.0%"), "recall 100/125")
        // The diagonal is shaded green-ish, the confusion red-ish: different backgrounds.
        let text = b.row(row4)
        func col(_ s: String) -> Int { displayWidth(String(text[..<text.range(of: s)!.lowerBound])) }
        let diag = b[col("100"), row4].style.bg, conf = b[col("25"), row4].style.bg, zero = b[col(" 0 ") + 1, row4].style.bg
        XCTAssertNotEqual(diag, .default)
        XCTAssertNotEqual(conf, .default)
        XCTAssertNotEqual(diag, conf)
        XCTAssertNotEqual(conf, zero)
        XCTAssertTrue(b.contains("accuracy"))
    }

    func testConfusionMatrixWithoutDataOrColour() {
        var b = CellBuffer(width: 60, height: 14)
        ConfusionMatrix(counts: nil).draw(into: &b, rect: b.bounds, caps: .full)
        XCTAssertTrue(b.contains("no evaluation yet"))
        var m = [[Int]](repeating: [Int](repeating: 1, count: 10), count: 10)
        m[0][0] = 12345
        ConfusionMatrix(counts: m).draw(into: &b, rect: b.bounds, caps: .ascii)
        XCTAssertTrue(b.contains("12345"), "large counts are not truncated")
        XCTAssertTrue(b.cells.allSatisfy { $0.style.bg == .default && $0.style.fg == .default })
    }

    func testHeaderShowsEverything() {
        var b = CellBuffer(width: 100, height: 2)
        Header(model: Fixtures.model(state: .paused)).draw(into: &b, rect: b.bounds, caps: .full)
        for s in ["PAUSED", "resnet18", "residual on", "epoch 2/10", "LR 0.0125", "4321 samples/s", "8 threads",
                  "step 1234/5000", "24.7%", "ETA 3m12s"] {
            XCTAssertTrue(b.contains(s), "missing \(s)\n\(b.text)")
        }
        // Progress bar: 24.7% of the bar filled.
        let filled = b.row(1).filter { $0 == "█" }.count
        let empty = b.row(1).filter { $0 == "░" }.count
        XCTAssertEqual(Double(filled) / Double(filled + empty), 0.2468, accuracy: 0.03)
    }

    /// A finished run's throughput is its average, labelled so; a live one's is not.
    func testHeaderLabelsARunAverage() {
        var m = Fixtures.model(state: .done)
        m.samplesPerSecondIsAverage = true
        var b = CellBuffer(width: 100, height: 2)
        Header(model: m).draw(into: &b, rect: b.bounds, caps: .full)
        XCTAssertTrue(b.contains("4321 samples/s avg"), b.text)
        var live = CellBuffer(width: 100, height: 2)
        Header(model: Fixtures.model()).draw(into: &live, rect: live.bounds, caps: .full)
        XCTAssertTrue(live.contains("4321 samples/s"), live.text)
        XCTAssertFalse(live.contains("avg"), live.text)
    }

    func testNarrowHeaderKeepsTheEssentials() {
        var b = CellBuffer(width: 60, height: 2)
        Header(model: Fixtures.model()).draw(into: &b, rect: b.bounds, caps: .full)
        for s in ["RUNNING", "resnet18", "LR 0.0125", "step 1234/5000", "ETA"] {
            XCTAssertTrue(b.contains(s), "missing \(s)\n\(b.text)")
        }
        // No part is cut in the middle.
        XCTAssertTrue(b.row(0).trimmingCharacters(in: .whitespaces).hasSuffix("/s") || b.row(0).contains("LR 0.0125  "), b.row(0))
    }

    /// `nntop view` of a live run: the ETA it could estimate, or none at all (never "--", which reads
    /// as a stalled run); the live dashboard keeps "ETA --" while it has no estimate.
    func testViewedRunShowsItsETAOrNothing() {
        var m = Fixtures.model()
        m.replay = true
        m.etaSeconds = 75
        var b = CellBuffer(width: 100, height: 2)
        Header(model: m).draw(into: &b, rect: b.bounds, caps: .full)
        XCTAssertTrue(b.row(1).contains("ETA 1m15s"), b.row(1))
        m.etaSeconds = nil
        b = CellBuffer(width: 100, height: 2)
        Header(model: m).draw(into: &b, rect: b.bounds, caps: .full)
        XCTAssertFalse(b.row(1).contains("ETA"), b.row(1))
        XCTAssertFalse(b.row(1).contains("--"), b.row(1))
        m.replay = false
        b = CellBuffer(width: 100, height: 2)
        Header(model: m).draw(into: &b, rect: b.bounds, caps: .full)
        XCTAssertTrue(b.row(1).contains("ETA --"), b.row(1))
    }

    /// An accuracy shows no finer digit than one image moves: a 64-image batch whole percents, a
    /// 640-image log interval one decimal, thousands of test images two.
    func testAccuracyShowsTheDecimalsItsSampleSupports() {
        XCTAssertEqual(Fmt.accuracy(100, samples: 64), "100%")
        XCTAssertEqual(Fmt.accuracy(98.4375, samples: 64), "98%")
        XCTAssertEqual(Fmt.accuracy(98.28125, samples: 640), "98.3%")
        XCTAssertEqual(Fmt.accuracy(98.34, samples: 5000), "98.34%")
        XCTAssertEqual(Fmt.accuracy(98.91, samples: 10_000), "98.91%")
        XCTAssertEqual(Fmt.accuracy(98.91, samples: 0), "98.91%", "unknown: two decimals")

        // In the curves' legend: the training accuracy of one 64-image batch that got all right.
        var m = Fixtures.model()
        m.trainAcc = [SeriesPoint(x: 0, y: 50), SeriesPoint(x: 10, y: 100)]
        m.accuracySamples = AccuracySamples(train: 64, validation: 5000, test: 10_000)
        var b = CellBuffer(width: 100, height: 30)
        DashboardView.render(model: m, ui: DashboardUI(), caps: .full, into: &b)
        XCTAssertTrue(b.contains("train 100%"), b.text)
        XCTAssertFalse(b.contains("100.00%"), b.text)
        XCTAssertTrue(b.contains("val 88.00%"), b.text)
    }

    func testHeaderStates() {
        for s in RunState.allCases {
            var model = Fixtures.model(state: s)
            model.residual = nil
            var b = CellBuffer(width: 80, height: 2)
            Header(model: model).draw(into: &b, rect: b.bounds, caps: .mono)
            XCTAssertTrue(b.row(0).contains(s.rawValue))
            XCTAssertFalse(b.contains("residual"), "no residual switch, no residual word")
            let at = b.find(s.rawValue)!
            XCTAssertTrue(b[at.x, 0].style.attrs.contains(.reverse), "state stands out without colour")
        }
    }

    func testHelpListsEveryKey() {
        var b = CellBuffer(width: 80, height: 24)
        HelpOverlay().draw(into: &b, area: b.bounds, caps: .full)
        for k in ["space", "+", "-", "l ", "r ", "s ", "e ", "tab", "1-4", "y ", "[", "]", "?", "F1", "q", "F10", "o ", "m "] {
            XCTAssertTrue(b.contains(k), "help lacks \(k)")
        }
        XCTAssertTrue(b.contains("quit"))
        XCTAssertTrue(b.contains("learning rate"))
    }
}
