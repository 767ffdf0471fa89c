import Foundation
import XCTest
@testable import TUI

/// Runs viewed by tag (TensorBoard logs): the regex filter and tag groups pick what the cell buffer
/// shows, and the smoothed curve is TensorBoard's (values computed with TensorBoard's formula by
/// scripts/make_tfevents_fixtures.py, from the PyTorch-written fixture's train/loss).
final class TagViewTests: XCTestCase {
    static let expected: [String: Any] = {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("ModelsTests/Fixtures/tfevents/expected.json")
        return try! JSONSerialization.jsonObject(with: try! Data(contentsOf: url)) as! [String: Any]
    }()

    /// The PyTorch fixture's train/loss as TensorBoard serves it: (step, wall time, value).
    static var loss: [[Double]] { ((expected["pytorch-simple"] as! [String: Any])["tags"] as! [String: [[Double]]])["train/loss"]! }
    static func tbSmoothed(_ w: String) -> [Double] {
        ((expected["smoothing"] as! [String: Any])["weights"] as! [String: [Double]])[w]!
    }

    static func series(_ tag: String, _ values: [Double]) -> TagSeries {
        TagSeries(tag: tag, points: values.enumerated().map { SeriesPoint(x: Double($0.offset), y: $0.element) },
                  wallTimes: values.indices.map { 1_700_000_000 + 2 * Double($0) })
    }

    static func model(tags: [String]) -> DashboardModel {
        var m = DashboardModel(model: "tensorboard", state: .done, replay: true)
        m.tagRuns = [TagRun(name: "run-a", summary: "finished", series: tags.map { series($0, [3, 2, 1.5, 1.2, 1]) }),
                     TagRun(name: "run-b", summary: "finished", series: [series("train/loss", [2, 1, 0.5])])]
        return m
    }

    func render(_ m: DashboardModel, _ ui: DashboardUI, w: Int = 120, h: Int = 40) -> CellBuffer {
        var buf = CellBuffer(width: w, height: h)
        DashboardView.render(model: m, ui: ui, caps: RenderCaps(unicode: true, colors: 8), into: &buf)
        return buf
    }

    /// A chart's title row starts with the tag followed by two spaces and its legend; only the curves
    /// panel is read (beside it, from 100×30, panel 2 lists every tag's last value in the same form).
    func chartTitles(_ buf: CellBuffer, _ tags: [String]) -> Set<String> {
        let r = Layout.compute(width: buf.width, height: buf.height).panels[.curves]!
        let rows = (r.y..<r.y + r.height).map { String(buf.row($0).dropFirst(r.x).prefix(r.width)) }
        return Set(tags.filter { t in rows.contains { $0.contains(t + "  ") } })
    }

    let tags = ["train/loss", "train/acc", "val/loss", "val/acc", "lr", "grad/norm", "grad/max"]

    func testDefaultShowsLossAndAccuracyTags() {
        let buf = render(Self.model(tags: tags), DashboardUI())
        XCTAssertEqual(chartTitles(buf, tags), ["train/loss", "train/acc", "val/loss", "val/acc"])
        XCTAssertTrue(buf.allText.contains("tags: loss & accuracy"))
    }

    func testRegexFilterTypedAfterSlash() {
        var ui = DashboardUI()
        let m = Self.model(tags: tags)
        for k: Key in [.char("/"), .char("^"), .char("("), .char("l"), .char("r"), .char("|"), .char("g"), .char("r"), .char("a"), .char("d"), .char(")"), .enter] {
            _ = ui.handle(k, state: .done, replay: true, tags: true)
        }
        XCTAssertEqual(ui.tagFilter, "^(lr|grad)")
        let buf = render(m, ui)
        XCTAssertEqual(chartTitles(buf, tags), ["lr", "grad/norm", "grad/max"])
        XCTAssertTrue(buf.allText.contains("filter /^(lr|grad)/"))
    }

    func testBadRegexStaysInThePromptWithTheReason() {
        var ui = DashboardUI()
        for k: Key in [.char("/"), .char("("), .enter] { _ = ui.handle(k, state: .done, replay: true, tags: true) }
        XCTAssertEqual(ui.filterPrompt, "(")
        XCTAssertEqual(ui.tagFilter, "")
        XCTAssertTrue(render(Self.model(tags: tags), ui).allText.contains("not a regular expression"))
        // Esc leaves the shown tags as they were.
        _ = ui.handle(.escape, state: .done, replay: true, tags: true)
        XCTAssertNil(ui.filterPrompt)
        XCTAssertEqual(chartTitles(render(Self.model(tags: tags), ui), tags), ["train/loss", "train/acc", "val/loss", "val/acc"])
    }

    func testTCyclesGroupsThenAll() {
        var ui = DashboardUI()
        let m = Self.model(tags: tags)
        XCTAssertEqual(TagSelection.groups(tags), ["loss & accuracy", "train", "val", "grad", "all"])
        _ = ui.handle(.char("t"), state: .done, replay: true, tags: true)
        XCTAssertEqual(chartTitles(render(m, ui), tags), ["train/loss", "train/acc"])
        _ = ui.handle(.char("t"), state: .done, replay: true, tags: true)
        _ = ui.handle(.char("t"), state: .done, replay: true, tags: true)
        XCTAssertEqual(chartTitles(render(m, ui), tags), ["grad/norm", "grad/max"])
        _ = ui.handle(.char("t"), state: .done, replay: true, tags: true)
        XCTAssertEqual(TagSelection.shown(m.tagRuns, ui: ui).tags, tags)
        _ = ui.handle(.char("t"), state: .done, replay: true, tags: true)
        XCTAssertEqual(TagSelection.shown(m.tagRuns, ui: ui).label, "loss & accuracy")
    }

    /// TensorBoard's debiased EMA, same weight → same curve (every weight the fixture has).
    func testSmoothingIsTensorBoards() {
        let pts = Self.loss.map { SeriesPoint(x: $0[0], y: $0[2]) }
        for w in ["0.0", "0.6", "0.9", "0.95", "0.99"] {
            let got = LineChart.ema(pts, smoothing: Double(w)!).map(\.y)
            let want = Self.tbSmoothed(w)
            XCTAssertEqual(got.count, want.count)
            for (g, e) in zip(got, want) { XCTAssertEqual(g, e, accuracy: 1e-12 * max(1, abs(e)), "weight \(w)") }
        }
    }

    /// The smoothed curve in the cell buffer: the legend's value is TensorBoard's last smoothed
    /// value, and every smoothed point's cell holds a dot of the curve.
    func testSmoothedCurveInTheCellBuffer() {
        let values = Self.loss.map { $0[2] }
        var m = DashboardModel(model: "tensorboard", state: .done, replay: true)
        m.tagRuns = [TagRun(name: "pytorch-simple", series: [Self.series("train/loss", values)])]
        for (ui0, w) in [(0.9, "0.9"), (0.6, "0.6")] {
            var ui = DashboardUI()
            ui.smoothing = ui0
            let buf = render(m, ui)
            let want = Self.tbSmoothed(w)
            XCTAssertTrue(buf.allText.contains("EMA " + Fmt.tick(want.last!)), "legend at weight \(w)")
            // The chart alone, drawn where the panel puts it, has the same geometry.
            let chart = TagCharts.charts(model: m, ui: ui)[0]
            var alone = CellBuffer(width: 60, height: 16)
            let rect = Rect(x: 0, y: 0, width: 60, height: 16)
            chart.draw(into: &alone, rect: rect, caps: RenderCaps(unicode: true, colors: 8))
            let g = chart.geometry(in: rect, caps: RenderCaps(unicode: true, colors: 8))!
            for (i, y) in want.enumerated() {
                let c = g.cell(x: Double(i), y: y)!
                let ch = alone.row(c.y).map { $0 }[c.x]
                XCTAssertTrue(ch != " ", "no dot at step \(i) (weight \(w))")
            }
        }
    }

    /// Panel 2: each run's last value per tag.
    func testRunListShowsLastValuePerTag() {
        var ui = DashboardUI()
        ui.panel = .layers
        let buf = render(Self.model(tags: ["train/loss", "lr"]), ui, w: 100, h: 24)
        let text = (0..<buf.height).map { buf.row($0) }
        XCTAssertTrue(text.contains { $0.contains("lr") && $0.contains("1  (4)") })
        XCTAssertTrue(text.contains { $0.contains("run-b") })
        XCTAssertTrue(text.contains { $0.contains("train/loss") && $0.contains("0.5  (2)") })
    }

    func testXCyclesStepsRelativeWall() {
        var ui = DashboardUI()
        let m = Self.model(tags: ["train/loss"])
        _ = ui.handle(.char("x"), state: .done, replay: true, tags: true)
        XCTAssertEqual(ui.xAxis, .relative)
        XCTAssertEqual(TagCharts.charts(model: m, ui: ui)[0].series.last!.points.map(\.x), [0, 2, 4, 6, 8])
        _ = ui.handle(.char("x"), state: .done, replay: true, tags: true)
        XCTAssertEqual(ui.xAxis, .wall)
        _ = ui.handle(.char("x"), state: .done, replay: true, tags: true)
        XCTAssertEqual(ui.xAxis, .steps)
    }
}
