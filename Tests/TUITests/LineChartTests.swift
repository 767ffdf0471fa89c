import XCTest
@testable import TUI

final class LineChartTests: XCTestCase {
    let diagonal = [SeriesPoint(x: 0, y: 0), SeriesPoint(x: 50, y: 5), SeriesPoint(x: 100, y: 10)]

    func testTopTickIsTheMaximumAndBottomTheMinimum() throws {
        let chart = LineChart(title: "t", series: [ChartSeries(name: "s", points: diagonal, color: .green)])
        let g = try XCTUnwrap(chart.geometry(in: Rect(x: 0, y: 0, width: 40, height: 12), caps: .full))
        XCTAssertEqual(g.yTicks.first?.row, 0)
        XCTAssertEqual(g.yTicks.first?.text, "10")
        XCTAssertEqual(g.yTicks.last?.row, g.plot.height - 1)
        XCTAssertEqual(g.yTicks.last?.text, "0")
        XCTAssertEqual(g.xTicks.first?.text, "0")
        XCTAssertEqual(g.xTicks.last?.text, "100")
    }

    func testPointsLandInTheExpectedCells() throws {
        let rect = Rect(x: 3, y: 2, width: 40, height: 12)
        let chart = LineChart(title: "t", series: [ChartSeries(name: "s", points: diagonal, color: .green)])
        let g = try XCTUnwrap(chart.geometry(in: rect, caps: .full))
        // Plot: title row above, x labels row below, inside the rectangle.
        XCTAssertEqual(g.plot.y, rect.y + 1)
        XCTAssertEqual(g.plot.maxY, rect.maxY - 1)
        XCTAssertEqual(g.plot.maxX, rect.maxX)
        let top = try XCTUnwrap(g.cell(x: 100, y: 10))
        XCTAssertEqual(top.x, g.plot.maxX - 1)
        XCTAssertEqual(top.y, g.plot.y)
        let bottom = try XCTUnwrap(g.cell(x: 0, y: 0))
        XCTAssertEqual(bottom.x, g.plot.x)
        XCTAssertEqual(bottom.y, g.plot.maxY - 1)
        let mid = try XCTUnwrap(g.cell(x: 50, y: 5))
        XCTAssertEqual(Double(mid.x), Double(g.plot.x) + Double(g.plot.width - 1) / 2, accuracy: 1)
        XCTAssertEqual(Double(mid.y), Double(g.plot.y) + Double(g.plot.height - 1) / 2, accuracy: 1)

        var b = CellBuffer(width: 50, height: 20)
        chart.draw(into: &b, rect: rect, caps: .full)
        for c in [top, bottom, mid] {
            let s = b[c.x, c.y].text.unicodeScalars.first!.value
            XCTAssertTrue((0x2801...0x28FF).contains(s), "expected braille dots at \(c), got \(b[c.x, c.y].text)")
        }
        // The "10" label sits on the row of the maximum, left of the axis.
        let label = try XCTUnwrap(b.find("10┤"))
        XCTAssertEqual(label.y, top.y)
        // Nothing outside the rectangle.
        for y in 0..<b.height { for x in 0..<b.width where !rect.contains(x: x, y: y) {
            XCTAssertEqual(b[x, y].text, " ", "wrote outside the chart at \(x),\(y)")
        } }
    }

    func testBrailleDotPosition() throws {
        // A single point at the top-left: the top-left dot of a braille cell (U+2801).
        let chart = LineChart(title: "", series: [ChartSeries(name: "", points: [SeriesPoint(x: 0, y: 1), SeriesPoint(x: 10, y: 0)], color: .green)])
        var b = CellBuffer(width: 30, height: 8)
        chart.draw(into: &b, rect: b.bounds, caps: .full)
        let g = try XCTUnwrap(chart.geometry(in: b.bounds, caps: .full))
        let first = b[g.plot.x, g.plot.y].text.unicodeScalars.first!.value
        XCTAssertEqual(first & 0x01, 0x01, "top-left dot set")
        XCTAssertEqual(first & 0x40, 0, "bottom-left dot not set for a point at the top")
    }

    func testLogScaleTicks() throws {
        let pts = [SeriesPoint(x: 0, y: 0.01), SeriesPoint(x: 1, y: 10)]
        let chart = LineChart(title: "", series: [ChartSeries(name: "", points: pts, color: .red)], logScale: true)
        let g = try XCTUnwrap(chart.geometry(in: Rect(x: 0, y: 0, width: 40, height: 9), caps: .full))
        XCTAssertEqual(g.yTicks.first?.text, "10")
        XCTAssertEqual(g.yTicks.last?.text, "0.01")
        // 7 plot rows: the middle row is the geometric mean, 10^-0.5 = 0.316.
        XCTAssertEqual(g.yTicks.first { $0.row == 3 }?.text, "0.316")
    }

    func testMarkersDrawALabelledVerticalLine() throws {
        let pts = [SeriesPoint(x: 0, y: 0), SeriesPoint(x: 100, y: 0)]
        let chart = LineChart(title: "", series: [ChartSeries(name: "", points: pts, color: .red)],
                              markers: [Marker(step: 50, label: "lr 0.02")], yRange: 0...10)
        var b = CellBuffer(width: 41, height: 10)
        chart.draw(into: &b, rect: b.bounds, caps: .full)
        XCTAssertTrue(b.contains("lr 0.02"))
        let g = try XCTUnwrap(chart.geometry(in: b.bounds, caps: .full))
        let col = try XCTUnwrap(g.cell(x: 50, y: 5)).x
        // The line runs down the plot (rows below the label rows).
        for y in (g.plot.y + 2)..<(g.plot.maxY - 1) {
            XCTAssertEqual(b[col, y].text, "┊", "row \(y)")
        }
        var a = CellBuffer(width: 41, height: 10)
        chart.draw(into: &a, rect: a.bounds, caps: .ascii)
        let ga = try XCTUnwrap(chart.geometry(in: a.bounds, caps: .ascii))
        let acol = try XCTUnwrap(ga.cell(x: 50, y: 5)).x
        XCTAssertEqual(a[acol, ga.plot.y + 3].text, ":")
    }

    /// Labels of close markers are stacked, merged or shortened, never overprinted: not on each
    /// other, not on another marker's line, not on a curve (here one along the plot's top row).
    func testMarkerLabelsNeverOverprint() throws {
        let top = [SeriesPoint(x: 0, y: 10), SeriesPoint(x: 100, y: 10)]
        let markers = [Marker(step: 40, label: "pause"), Marker(step: 40, label: "resume"), Marker(step: 50, label: "lr 10"),
                       Marker(step: 52, label: "lr 640"), Marker(step: 54, label: "res off"), Marker(step: 99, label: "snap")]
        let chart = LineChart(title: "", series: [ChartSeries(name: "", points: top, color: .red)], markers: markers, yRange: 0...10)
        for caps in [RenderCaps.full, .ascii] {
            var b = CellBuffer(width: 61, height: 16)
            chart.draw(into: &b, rect: b.bounds, caps: caps)
            let g = try XCTUnwrap(chart.geometry(in: b.bounds, caps: caps))
            let lineChar = caps.unicode ? "┊" : ":", cut = caps.unicode ? "…" : "~"
            // The curve keeps the plot's top row: no label character on any plot row.
            for y in g.plot.y..<g.plot.maxY {
                let row = (g.plot.x..<g.plot.maxX).map { b[$0, y].text }.joined()
                XCTAssertNil(row.rangeOfCharacter(from: .alphanumerics), "label on the plot, row \(y): \(row)")
            }
            XCTAssertEqual(b[g.plot.x + 1, g.plot.y].text, caps.unicode ? "⠉" : "'", "the curve along the top row")
            // Above the plot: a line, once it starts, runs unbroken down to the plot (no label on it),
            // and every label sits next to a line, whole or cut with an ellipsis (2 characters at least).
            XCTAssertGreaterThan(g.markerRows, 0)
            let band = (g.plot.y - g.markerRows)..<g.plot.y
            let cols = [40.0, 50, 52, 54, 99].map { try! XCTUnwrap(g.cell(x: $0, y: 5)).x }
            XCTAssertEqual(Set(cols).count, 5, "five distinct lines")
            for c in cols {
                let top = band.first { b[c, $0].text == lineChar } ?? g.plot.y
                for y in top..<g.plot.maxY where y < g.plot.y { XCTAssertEqual(b[c, y].text, lineChar, "line broken at \(c),\(y)") }
                XCTAssertEqual(b[c, g.plot.y + 1].text, lineChar, "line on the plot at \(c)")
            }
            let forms = ["pause,resume", "lr 10", "lr 640", "res off", "snap"]
            var shown: [String] = []
            for y in band {
                var x = g.plot.x
                while x < g.plot.maxX {
                    guard b[x, y].text != " ", b[x, y].text != lineChar else { x += 1; continue }
                    var word = "", end = x
                    // A label's words are one blank apart; two blanks or a line end it.
                    while end < g.plot.maxX, b[end, y].text != lineChar,
                          !(b[end, y].text == " " && (end + 1 >= g.plot.maxX || b[end + 1, y].text == " ")) {
                        word += b[end, y].text; end += 1
                    }
                    word = word.trimmingCharacters(in: .whitespaces)
                    let ok = forms.contains(word) || (word.hasSuffix(cut) && word.count >= 3
                        && forms.contains { $0.hasPrefix(String(word.dropLast())) })
                    XCTAssertTrue(ok, "'\(word)' is no label, whole or cut, in row \(y)")
                    // Next to exactly one line: its own.
                    XCTAssertTrue((b[x - 1, y].text == lineChar) != (b[end, y].text == lineChar), "'\(word)' not next to one line")
                    shown.append(word)
                    x = end + 1
                }
            }
            // Whole where there is room: the merged pause/resume, the last one near the right edge.
            XCTAssertTrue(shown.contains("pause,resume"), "\(shown)")
            XCTAssertTrue(shown.contains("snap"), "\(shown)")
            XCTAssertTrue(shown.contains("res off"), "\(shown)")
        }
    }

    /// A label with too little room before the next line is cut with an ellipsis, not run over it.
    func testAMarkerLabelWithoutRoomIsShortened() {
        let flat = [SeriesPoint(x: 0, y: 0), SeriesPoint(x: 100, y: 0)]
        let chart = LineChart(title: "", series: [ChartSeries(name: "", points: flat, color: .red)],
                              markers: [Marker(step: 4, label: "lr 0.000125"), Marker(step: 20, label: "pause")], yRange: 0...10)
        var b = CellBuffer(width: 61, height: 8)
        chart.draw(into: &b, rect: b.bounds, caps: .full)
        XCTAssertTrue(b.contains("┊pause"), b.text)
        XCTAssertFalse(b.contains("lr 0.000125"), b.text)
        XCTAssertNotNil(b.text.range(of: #"┊lr [0-9.]*… +┊pause"#, options: .regularExpression), b.text)
    }

    func testASCIIModeIsPureASCII() {
        let chart = LineChart(title: "Loss", series: [ChartSeries(name: "raw", points: diagonal, color: .green)],
                              markers: [Marker(step: 50, label: "pause")])
        var b = CellBuffer(width: 40, height: 12)
        chart.draw(into: &b, rect: b.bounds, caps: .ascii)
        XCTAssertTrue(b.allText.unicodeScalars.allSatisfy { $0.isASCII }, b.text)
        XCTAssertTrue(b.contains("10+") || b.contains("10|"), b.text)
    }

    func testEMA() {
        let pts = [SeriesPoint(x: 0, y: 1), SeriesPoint(x: 1, y: 3)]
        // smoothing 0 = raw
        XCTAssertEqual(LineChart.ema(pts, smoothing: 0).map(\.y), [1, 3])
        // debiased: first value unchanged; second = (0.5*0.5*1 + 0.5*3) / (1 - 0.25) = 2.333...
        let s = LineChart.ema(pts, smoothing: 0.5).map(\.y)
        XCTAssertEqual(s[0], 1, accuracy: 1e-12)
        XCTAssertEqual(s[1], 1.75 / 0.75, accuracy: 1e-12)
    }

    func testEmptyAndTinyChartsDoNotCrash() {
        var b = CellBuffer(width: 20, height: 5)
        LineChart(title: "x", series: []).draw(into: &b, rect: b.bounds, caps: .full)
        XCTAssertTrue(b.contains("waiting for data"))
        for w in 0..<12 { for h in 0..<5 {
            var c = CellBuffer(width: 12, height: 5)
            LineChart(title: "x", series: [ChartSeries(name: "", points: diagonal, color: .red)])
                .draw(into: &c, rect: Rect(x: 1, y: 1, width: w, height: h), caps: .full)
        } }
    }
}

final class LineChartRobustnessTests: XCTestCase {
    func testNonFiniteAndHugeValues() throws {
        let pts = [SeriesPoint(x: 0, y: 2), SeriesPoint(x: 1, y: .nan), SeriesPoint(x: 2, y: .infinity),
                   SeriesPoint(x: 3, y: 3e30), SeriesPoint(x: .nan, y: 1)]
        let chart = LineChart(title: "", series: [ChartSeries(name: "", points: pts, color: .red)])
        var b = CellBuffer(width: 40, height: 10)
        chart.draw(into: &b, rect: b.bounds, caps: .full)
        let g = try XCTUnwrap(chart.geometry(in: b.bounds, caps: .full))
        XCTAssertEqual(g.yMax, 3e30)
        XCTAssertEqual(g.xMax, 3)
        XCTAssertLessThanOrEqual(displayWidth(g.yTicks[0].text), 7)
        XCTAssertEqual(Double(g.yTicks[0].text), 3e30)
    }

    func testFlatSeriesGetsARange() throws {
        let pts = [SeriesPoint(x: 0, y: 5), SeriesPoint(x: 10, y: 5)]
        let g = try XCTUnwrap(LineChart(title: "", series: [ChartSeries(name: "", points: pts, color: .red)])
            .geometry(in: Rect(x: 0, y: 0, width: 30, height: 8), caps: .full))
        XCTAssertLessThan(g.yMin, 5)
        XCTAssertGreaterThan(g.yMax, 5)
        // The flat line sits in the middle row.
        let c = try XCTUnwrap(g.cell(x: 5, y: 5))
        XCTAssertEqual(Double(c.y - g.plot.y), Double(g.plot.height - 1) / 2, accuracy: 0.5)
    }
}

final class LineChartRangeTests: XCTestCase {
    func testPointsFarOutsideAFixedRangeAreClippedNotFatal() {
        let pts = [SeriesPoint(x: 0, y: 1), SeriesPoint(x: 1, y: 1e300), SeriesPoint(x: 2, y: -1e300),
                   SeriesPoint(x: 1e300, y: 5), SeriesPoint(x: 3, y: 2)]
        let chart = LineChart(title: "", series: [ChartSeries(name: "", points: pts, color: .red)],
                              yRange: 0...10, xRange: 0...3)
        var b = CellBuffer(width: 30, height: 8)
        chart.draw(into: &b, rect: Rect(x: 2, y: 1, width: 26, height: 6), caps: .full)
        for y in 0..<8 { for x in 0..<30 where !(2..<28).contains(x) || !(1..<7).contains(y) {
            XCTAssertEqual(b[x, y].text, " ")
        } }
    }
}
