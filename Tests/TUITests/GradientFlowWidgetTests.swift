import XCTest
@testable import TUI

/// The gradient-flow view of panel 2 (key g) against the cell buffer, with figures made up here.
final class GradientFlowWidgetTests: XCTestCase {
    /// A ResNet-18-like run: 11 units, 21 conv/linear layers whose gradient norm grows tenfold every
    /// 4 layers from 1e-6 at the input (so the input end is 5 decades below the output). conv1's update
    /// ratio is stalled (2e-6), fc's too large (0.05), everything else 1e-3.
    static func data(previous: [Double]? = nil, overlays: [[Double?]] = []) -> GradientFlowData {
        let unitNames = ["conv1", "bn1"] + (1...4).flatMap { ["layer\($0).0", "layer\($0).1"] } + ["fc"]
        func ratio(_ n: String) -> Double { n == "conv1" ? 2e-6 : n == "fc" ? 0.05 : 1e-3 }
        var units: [LayerFlow] = []
        for (i, n) in unitNames.enumerated() {
            units.append(LayerFlow(name: n, gradNorm: 3e-5 * Double(i + 1), weightNorm: 4, updateRatio: ratio(n)))
        }
        var layers: [LayerFlow] = []
        for i in 0..<21 {
            let n = i == 0 ? "conv1" : i == 20 ? "fc" : "l\(i)"
            let g: Double = pow(10, -6 + Double(i) / 4)
            layers.append(LayerFlow(name: n, gradNorm: g, weightNorm: 1, updateRatio: ratio(n)))
        }
        return GradientFlowData(step: 840, units: units, layers: layers, previous: previous, previousStep: previous == nil ? nil : 800,
                                sampling: "every step", overlays: overlays)
    }

    func frame(_ w: Int, _ h: Int, data: GradientFlowData?, caps: RenderCaps = .full) -> CellBuffer {
        var m = Fixtures.model()
        m.gradientFlow = data
        var ui = DashboardUI()
        XCTAssertEqual(ui.handle(.char("g"), state: .running), KeyOutcome.none)
        XCTAssertTrue(ui.showGradientFlow); XCTAssertEqual(ui.panel, .layers)
        var b = CellBuffer(width: w, height: h)
        DashboardView.render(model: m, ui: ui, caps: caps, into: &b)
        return b
    }

    /// Column x's bar: the rows from `top` to `bottom` (inclusive) holding one of `chars`.
    func height(_ b: CellBuffer, x: Int, top: Int, bottom: Int, _ chars: Set<String>) -> Int {
        (top...bottom).filter { chars.contains(b[x, $0].text) }.count
    }

    func testTableAndChartAt80x24() throws {
        let b = frame(80, 24, data: Self.data())
        XCTAssertTrue(b.contains("Gradient flow, step 840 (every step; g: timings)"), b.text)
        // Every unit has its row with the figures given, in order; out-of-band ratios are named.
        var lastY = 0
        for n in ["conv1", "bn1", "layer1.0", "layer2.1", "layer4.1", "fc"] {
            let p = try XCTUnwrap(b.find(n + " "), n)
            XCTAssertGreaterThan(p.y, lastY, n); lastY = p.y
        }
        let conv1 = b.row(b.find("conv1 ")!.y)
        XCTAssertTrue(conv1.contains("3.0e-05") && conv1.contains("4.0e+00") && conv1.contains("2.0e-06 low"), conv1)
        XCTAssertTrue(b.row(b.find("fc ")!.y).contains("5.0e-02 HIGH"), b.row(b.find("fc ")!.y))
        XCTAssertFalse(b.row(b.find("layer2.1 ")!.y).contains("low"))
        // The chart: a log axis from 1e-6 to 1e-1, one column per layer; heights grow with the norm,
        // the same step every tenfold (4 layers).
        let axis = try XCTUnwrap(b.find("1e-6┤"), b.text)
        XCTAssertNotNil(b.find("1e-1┤"))
        let x0 = axis.x + 5, top = 4, bottom = axis.y
        let hs = (0..<21).map { height(b, x: x0 + $0, top: top, bottom: bottom, ["█"]) }
        XCTAssertEqual(hs, hs.sorted(), "bars grow from input to output: \(hs)")
        XCTAssertEqual(hs[0], 1, "the smallest norm keeps one cell")
        XCTAssertEqual(hs[20], bottom - top + 1, "the largest reaches the top")
        XCTAssertEqual(Double(hs[16] - hs[12]), Double(hs[8] - hs[4]), accuracy: 1, "log scale: each decade the same height")
        // Band marks under the columns: v under conv1 (stalled), ^ under fc (too large), none between.
        XCTAssertEqual(b[x0, bottom + 1].text, "v"); XCTAssertEqual(b[x0 + 20, bottom + 1].text, "^")
        XCTAssertEqual(b[x0 + 10, bottom + 1].text, " ")
        XCTAssertEqual(b[x0, bottom].style.fg, .yellow); XCTAssertEqual(b[x0 + 20, bottom].style.fg, .red)
        XCTAssertEqual(b[x0 + 10, bottom].style.fg, .green)
        XCTAssertTrue(b.contains("conv1 → fc"), b.text)
        XCTAssertTrue(b.contains(" 2 Gradients "), "the tab names the view")
        XCTAssertTrue(b.row(23).contains("g grads"), b.row(23))
    }

    func testPreviousStateIsFaintBehind() throws {
        // Layer 0 was 100× higher (it fell), layer 20 100× lower (it rose).
        var prev = Self.data().layers.map(\.gradNorm)
        prev[0] *= 100; prev[20] /= 100
        let b = frame(80, 24, data: Self.data(previous: prev))
        let axis = try XCTUnwrap(b.find("1e-6┤")), x0 = axis.x + 5
        XCTAssertGreaterThan(height(b, x: x0, top: 4, bottom: axis.y, ["░"]), 0, "fell: faint above the bar")
        XCTAssertGreaterThan(height(b, x: x0 + 20, top: 4, bottom: axis.y, ["▓"]), 0, "rose: the new part marked")
        XCTAssertEqual(height(b, x: x0 + 10, top: 4, bottom: axis.y, ["░", "▓"]), 0, "unchanged: plain bar")
        XCTAssertEqual(b[x0, axis.y - 5].style.attrs, .dim)
        XCTAssertTrue(b.contains("since 800"), b.text)
    }

    func testGridAt160x50WithComparedRun() throws {
        let other = Self.data().layers.map { Optional($0.gradNorm * 10) }
        let b = frame(160, 50, data: Self.data(previous: Self.data().layers.map(\.gradNorm), overlays: [other]))
        XCTAssertTrue(b.contains("2 Gradients"), "the focused panel's box title")
        // Side by side in the right half: every unit's row, the chart beside it.
        let axis = try XCTUnwrap(b.find("1e-6┤"), b.text)
        XCTAssertGreaterThan(axis.x, 80)
        for n in ["conv1", "layer1.0", "layer4.1", "fc"] { XCTAssertTrue(b.contains(n + " "), n) }
        let x0 = axis.x + 5
        // The compared run's mark in conv1's column, a decade (its 10×) above the bar's top.
        let dots = (0..<50).filter { b[x0, $0].text == "●" }
        XCTAssertEqual(dots.count, 1, "one mark for the compared run in conv1's column")
        XCTAssertEqual(b[x0, dots[0]].style.fg, DashboardView.overlayColors[0])
        let barTop = (0..<50).first { b[x0, $0].text == "█" }!
        XCTAssertLessThan(dots[0], barTop)
        // Unchanged since the previous state: no rose / fell cells anywhere.
        for x in x0..<(x0 + 21) { XCTAssertEqual(height(b, x: x, top: 0, bottom: axis.y, ["▓", "░"]), 0, "column \(x - x0)") }
    }

    func testASCIIAndNoColour() throws {
        let b = frame(80, 24, data: Self.data(previous: Self.data().layers.map { $0.gradNorm * 3 }), caps: .ascii)
        XCTAssertTrue(b.allText.unicodeScalars.allSatisfy { $0.isASCII }, b.text)
        XCTAssertTrue(b.contains("|dW|") && b.contains("2.0e-06 low"), b.text)
        let axis = try XCTUnwrap(b.find("1e-6|"), b.text)
        XCTAssertEqual(b[axis.x + 5, axis.y + 1].text, "v", "the band is marked without colour")
        XCTAssertEqual(b[axis.x + 5, axis.y].text, "#")
    }

    func testNoFiguresYetAndKeyTogglesBack() {
        let b = frame(80, 24, data: nil)
        XCTAssertTrue(b.contains("no gradient figures yet"), b.text)
        var ui = DashboardUI()
        _ = ui.handle(.char("g"), state: .running); _ = ui.handle(.char("g"), state: .running)
        XCTAssertFalse(ui.showGradientFlow)
        var m = Fixtures.model(); m.gradientFlow = Self.data()
        var c = CellBuffer(width: 80, height: 24)
        DashboardView.render(model: m, ui: ui, caps: .full, into: &c)
        XCTAssertTrue(c.contains("Layer time per step"), "g again: back to the timings")
        XCTAssertTrue(HelpOverlay.entries.contains { $0.keys == "g" })
        XCTAssertTrue(HelpOverlay.replayEntries.contains { $0.keys == "g" })
        // In view, g works too (nothing trains, the figures come from the log).
        var r = DashboardUI()
        XCTAssertEqual(r.handle(.char("g"), state: .done, replay: true), KeyOutcome.none)
        XCTAssertTrue(r.showGradientFlow)
    }
}
