import XCTest
@testable import TUI

/// Earlier runs drawn behind the current one (`--compare`, `nntop view`): the legend names them,
/// their curves land on the same axes in their own dimmed colours, the x axis switches to epochs,
/// and a viewed run shows its runs list, events and final matrix.
final class OverlayTests: XCTestCase {
    /// The fixture run (200 steps, 50 a epoch) plus two earlier runs: one of 400 steps (100 an
    /// epoch), one without a known epoch length.
    func compared() -> DashboardModel {
        var m = Fixtures.model()
        m.stepsPerEpoch = 50
        let long = (0...40).map { SeriesPoint(x: Double($0 * 10), y: 2.4 - Double($0) * 0.05) }
        let acc = (1...8).map { SeriesPoint(x: Double($0 * 50), y: 60 + Double($0) * 4) }
        m.overlays = [
            OverlayRun(name: "20261126-101500-resnet18-nores", summary: "resnet18 done", stepsPerEpoch: 100,
                       trainLoss: long, trainAcc: acc, valAcc: acc, testAcc: [SeriesPoint(x: 400, y: 93)]),
            OverlayRun(name: "old-run lenet5", summary: "lenet5 stopped", stepsPerEpoch: 0,
                       trainLoss: [SeriesPoint(x: 0, y: 2), SeriesPoint(x: 100, y: 1)]),
        ]
        m.runName = "this run (resnet18)"
        return m
    }

    func render(_ m: DashboardModel, ui: DashboardUI = DashboardUI(), caps: RenderCaps = .full,
                _ w: Int = 99, _ h: Int = 30) -> CellBuffer {   // one panel, the curves at full width (100x30 shows two)
        var b = CellBuffer(width: w, height: h)
        DashboardView.render(model: m, ui: ui, caps: caps, into: &b)
        return b
    }

    /// Braille cells drawn dim in `color` (the overlay style), counted over the whole frame.
    func dimDots(_ b: CellBuffer, _ color: Color) -> Int {
        var n = 0
        for y in 0..<b.height {
            for x in 0..<b.width {
                let c = b[x, y]
                guard let s = c.text.unicodeScalars.first, (0x2801...0x28FF).contains(s.value) else { continue }
                if c.style.fg == color && c.style.attrs.contains(.dim) { n += 1 }
            }
        }
        return n
    }

    /// Without colours, each earlier run is drawn with its own letter, and the legend says which.
    func testWithoutColoursEachEarlierRunHasItsOwnLetter() {
        for caps in [RenderCaps.mono, .ascii] {
            let b = render(compared(), caps: caps)
            XCTAssertTrue(b.contains("o 20261126-101500-resnet18-nores"), b.text)
            XCTAssertTrue(b.contains("x old-run lenet5"), b.text)
            // Count the letters inside the plots (the rows that start with an axis).
            let plotRows = (0..<b.height).map { b.row($0) }.filter { $0.contains("┤") || $0.contains("│") || $0.contains("|") || $0.contains("+") }
            let count = { (c: Character) in plotRows.map { row in row.filter { $0 == c }.count }.reduce(0, +) }
            XCTAssertGreaterThan(count("o"), 10, b.text)
            XCTAssertGreaterThan(count("x"), 2, b.text)
        }
        // With colours the curves stay dots.
        let colored = render(compared())
        XCTAssertFalse(colored.contains("o 20261126-101500-resnet18-nores"))
    }

    func xAxisRows(_ b: CellBuffer) -> [String] {
        (0..<b.height).map { b.row($0) }.filter { $0.contains("└") }
    }

    func testLegendNamesEveryRunAndOverlaysAreDrawnInTheirColours() {
        let b = render(compared())
        XCTAssertTrue(b.contains("● this run (resnet18)"), b.text)
        XCTAssertTrue(b.contains("● 20261126-101500-resnet18-nores"), b.text)
        XCTAssertTrue(b.contains("● old-run lenet5"), b.text)
        // The first earlier run in cyan, the second in red, both dimmed, on the loss and accuracy charts.
        XCTAssertGreaterThan(dimDots(b, .cyan), 10, b.text)
        XCTAssertGreaterThan(dimDots(b, .red), 2, b.text)
        // Without overlays: no legend, no such cells.
        let plain = render(Fixtures.model())
        XCTAssertFalse(plain.contains("● this run"))
        XCTAssertEqual(dimDots(plain, .cyan), 0)
        XCTAssertEqual(dimDots(plain, .red), 0)
    }

    func testTheStepAxisSpansTheLongestRun() {
        // The live run ends at step 199, the first overlay at 400: both charts run to 400.
        let rows = xAxisRows(render(compared()))
        XCTAssertEqual(rows.count, 2)
        for r in rows {
            XCTAssertTrue(r.trimmingCharacters(in: .whitespaces).hasSuffix("400"), r)
            XCTAssertTrue(r.contains("└0"), r)
        }
        let plain = xAxisRows(render(Fixtures.model()))
        XCTAssertTrue(plain.allSatisfy { $0.trimmingCharacters(in: .whitespaces).hasSuffix("199") }, "\(plain)")
    }

    func testAnEventBeforeTheFirstLoggedPointStillShows() {
        // A viewed run logs its first point at step 10; it was paused at step 2.
        var m = DashboardModel(trainLoss: (1...10).map { SeriesPoint(x: Double($0 * 10), y: 1 / Double($0)) },
                               markers: [Marker(step: 2, label: "pause")], replay: true)
        m.state = .done
        let charts = DashboardView.curveCharts(model: m, ui: DashboardUI())
        XCTAssertEqual(charts.loss.xRange, 2...100)
        XCTAssertTrue(render(m).contains("pause"))
    }

    func testXSwitchesToEpochs() {
        var ui = DashboardUI()
        XCTAssertEqual(ui.handle(.char("x"), state: .running), .none)
        XCTAssertEqual(ui.xAxis, .epochs)
        XCTAssertEqual(ui.message, "x axis: epochs")
        let b = render(compared(), ui: ui)
        // 400 steps at 100 a epoch = 4 epochs; the live run's 199 steps at 50 = 3.98.
        let rows = xAxisRows(b)
        XCTAssertEqual(rows.count, 2)
        for r in rows {
            XCTAssertTrue(r.trimmingCharacters(in: .whitespaces).hasSuffix("4 ep"), r)
            XCTAssertTrue(r.contains(" 2 "), "middle tick at 2 epochs: \(r)")
            XCTAssertFalse(r.contains("400"), r)
        }
        XCTAssertTrue(b.row(2).contains("x epochs"), b.row(2))
        // The marker at step 100 sits at epoch 2, mid-plot; the run without an epoch length is left out.
        XCTAssertTrue(b.contains("lr 0.02"))
        XCTAssertGreaterThan(dimDots(b, .cyan), 10)
        XCTAssertEqual(dimDots(b, .red), 0, b.text)
        let chart = DashboardView.curveCharts(model: compared(), ui: ui).acc
        XCTAssertEqual(chart.markers.map(\.x), [2.0])
        XCTAssertEqual(chart.xRange, 0...4)

        // The key is in the help and the key bar.
        var help = DashboardUI()
        help.showHelp = true
        XCTAssertTrue(render(compared(), ui: help).contains("curves over steps / epochs"))
        XCTAssertTrue(render(compared()).row(29).contains("x x axis"), render(compared()).row(29))

        // x again: back to steps.
        _ = ui.handle(.char("x"), state: .running)
        XCTAssertEqual(ui.xAxis, .steps)
        XCTAssertTrue(xAxisRows(render(compared(), ui: ui)).allSatisfy { $0.hasSuffix("400") || $0.trimmingCharacters(in: .whitespaces).hasSuffix("400") })
    }

    func testEpochAxisNeedsTheRunsEpochLength() {
        var m = compared()
        m.stepsPerEpoch = 0
        var ui = DashboardUI()
        ui.xAxis = .epochs
        let b = render(m, ui: ui)
        XCTAssertTrue(b.row(2).contains("x steps"), b.row(2))
        XCTAssertTrue(xAxisRows(b).allSatisfy { $0.trimmingCharacters(in: .whitespaces).hasSuffix("400") })
    }

    func testAViewedRunListsItsRunsEventsAndFinalMatrix() {
        var m = compared()
        m.replay = true
        m.state = .stopped
        m.runName = "20261126-100000-resnet18"
        m.runSummary = "resnet18 residual on, stopped at step 199"
        m.markers = [Marker(step: 40, label: "pause"), Marker(step: 40, label: "resume"), Marker(step: 120, label: "res off")]
        var ui = DashboardUI()
        let curves = render(m, ui: ui)
        XCTAssertTrue(curves.row(0).contains("STOPPED"), curves.row(0))
        XCTAssertTrue(curves.contains("● 20261126-100000-resnet18"))
        XCTAssertTrue(curves.contains("2 Runs"))
        XCTAssertFalse(curves.row(29).contains("pause"), "no training keys in the key bar: \(curves.row(29))")
        XCTAssertTrue(curves.row(29).contains("x steps/epochs"), curves.row(29))

        ui.panel = .layers
        let runs = render(m, ui: ui)
        XCTAssertTrue(runs.contains("20261126-101500-resnet18-nores  resnet18 done"), runs.text)
        XCTAssertTrue(runs.contains("resnet18 residual on, stopped at step 199"), runs.text)
        XCTAssertTrue(runs.contains("Events of 20261126-100000-resnet18"), runs.text)
        for line in ["step   40  pause", "step   40  resume", "step  120  res off"] {
            XCTAssertTrue(runs.contains(line), "lacks \(line):\n\(runs.text)")
        }

        // Help lists only what works without training.
        ui.showHelp = true
        let help = render(m, ui: ui)
        XCTAssertTrue(help.contains("curves over steps / epochs"), help.text)
        XCTAssertFalse(help.contains("learning rate"), help.text)
        ui.showHelp = false

        ui.panel = .confusion
        XCTAssertTrue(render(m, ui: ui).contains("909"))
        m.confusion = nil
        let none = render(m, ui: ui)
        XCTAssertTrue(none.contains("none in this run's log"), none.text)
        XCTAssertFalse(none.contains("press e"))

        // Every row fits, in every panel, at the sizes the dashboard supports, in ASCII too.
        for (w, h) in [(60, 16), (80, 24), (100, 30), (160, 50)] {
            for p in Panel.allCases {
                ui.panel = p
                let b = render(m, ui: ui, caps: .full, w, h)
                for y in 0..<h { XCTAssertEqual(displayWidth(b.row(y)), w, "row \(y) at \(w)x\(h) in \(p)") }
                let a = render(m, ui: ui, caps: .ascii, w, h)
                XCTAssertTrue(a.allText.unicodeScalars.allSatisfy(\.isASCII), "non-ASCII in \(p)\n\(a.text)")
            }
        }
    }
}
