import XCTest
@testable import TUI

/// From 100×30 (below the 140×40 grid) two panels fit side by side: the curves, and the chosen
/// panel on their right (the layers while the curves are chosen).
final class PairLayoutTests: XCTestCase {
    func render(_ w: Int, _ h: Int, ui: DashboardUI = DashboardUI()) -> CellBuffer {
        var b = CellBuffer(width: w, height: h)
        DashboardView.render(model: Fixtures.model(), ui: ui, caps: .full, into: &b)
        return b
    }

    func testAt100x30TheCurvesAndLayersShowTogether() {
        XCTAssertEqual(Layout.compute(width: 100, height: 30).kind, .pair)
        XCTAssertEqual(Layout.compute(width: 99, height: 30).kind, .single)
        XCTAssertEqual(Layout.compute(width: 100, height: 29).kind, .single)
        let b = render(100, 30)
        for s in ["Training loss", "conv1", "2 Layers"] { XCTAssertTrue(b.contains(s), "100x30 lacks \(s)") }
        // The chosen panel replaces the layers on the right; the curves stay.
        var ui = DashboardUI()
        ui.panel = .confusion
        let c = render(100, 30, ui: ui)
        XCTAssertTrue(c.contains("Training loss") && c.contains("4 Confusion"))
        XCTAssertFalse(c.contains("layer4.1.conv2"))
    }

    func testPairPanelsDoNotOverlap() {
        for (w, h) in [(100, 30), (139, 39), (120, 50)] {
            let l = Layout.compute(width: w, height: h)
            XCTAssertEqual(l.kind, .pair)
            let bounds = Rect(x: 0, y: 0, width: w, height: h)
            let rects = [l.header, l.status, l.keys, l.tabs!, l.panels[.curves]!, l.panels[.layers]!]
            for (i, a) in rects.enumerated() {
                XCTAssertEqual(a.intersection(bounds), a, "\(a) outside \(w)x\(h)")
                for b in rects[(i + 1)...] { XCTAssertTrue(a.intersection(b).isEmpty, "\(a) overlaps \(b)") }
            }
        }
    }
}
