import Foundation

/// The confusion matrix of N classes (rows = true class, columns = predicted).
///
/// Up to `fullMatrixLimit` classes: every count, shaded by its row's share, class names
/// (abbreviated) as row and column labels, and each class's recall on the right. Beyond, counts
/// no longer fit: a heat map (one cell per class, or per bin of k classes when the panel is
/// smaller than N), the most frequent confusions ("cat → dog  87") and the classes with the
/// lowest recall.
public struct ConfusionMatrix: Sendable {
    public var counts: [[Int]]?
    /// Class names in index order; when their count is not N, the indices stand in.
    public var classNames: [String]
    public var title: String
    /// Shown under the title when there is no matrix.
    public var emptyNote: String
    /// The same evaluation's top-5 accuracy in percent, shown beside the accuracy when known.
    public var top5: Double?
    public init(counts: [[Int]]?, classNames: [String] = [], title: String = "Confusion matrix (rows true, columns predicted)",
                emptyNote: String = "no evaluation yet (press e)", top5: Double? = nil) {
        self.counts = counts; self.classNames = classNames; self.title = title; self.emptyNote = emptyNote; self.top5 = top5
    }

    /// The most classes drawn as a full matrix of counts (12 columns of 5 fit in 80 columns).
    public static let fullMatrixLimit = 12

    /// Column width of the full matrix (counts right-aligned in it) for a rectangle width, with
    /// `labelWidth` columns of row labels: 4...7.
    public static func cellWidth(for width: Int, classes: Int = 10, labelWidth: Int = 2) -> Int {
        max(4, min(7, (width - labelWidth - 1 - 8) / max(1, classes)))
    }

    public func draw(into buf: inout CellBuffer, rect: Rect, caps: RenderCaps) {
        buf.withClip(rect) { b in self.drawClipped(into: &b, rect: rect, caps: caps) }
    }

    /// The style of a cell showing `share` (0...1) of its row; diagonal cells are correct.
    public static func shade(share: Double, diagonal: Bool, caps: RenderCaps) -> Style {
        if caps.has256 {
            if share <= 0 { return Style(fg: .gray(8)) }
            // Green ramp for the diagonal, red ramp off it (xterm cube indices).
            let i = min(4, Int(share * 5))
            let level = diagonal ? greens[i] : reds[min(4, Int(min(1, share * 4) * 4.99))]
            return Style(fg: .index(231), bg: .index(level), attrs: share > 0.5 ? .bold : [])
        }
        if caps.hasColor {
            if share <= 0 { return Style(attrs: .dim) }
            if diagonal { return Style(fg: .black, bg: .green) }
            return share >= 0.05 ? Style(fg: .white, bg: .red, attrs: .bold) : Style(fg: .red)
        }
        if share <= 0 { return Style(attrs: .dim) }
        if diagonal { return Style(attrs: .bold) }
        return share >= 0.05 ? Style(attrs: .reverse) : Style()
    }

    static let greens = [22, 28, 34, 40, 46], reds = [52, 88, 124, 160, 196]

    /// The names the widget shows for `n` classes.
    func names(_ n: Int) -> [String] {
        classNames.count == n ? classNames : (0..<n).map(String.init)
    }

    /// The off-diagonal cells, most frequent first (ties: lower true class, then lower predicted).
    public static func topConfusions(_ m: [[Int]], limit: Int) -> [(truth: Int, predicted: Int, count: Int)] {
        var all: [(truth: Int, predicted: Int, count: Int)] = []
        for (r, row) in m.enumerated() {
            for (c, n) in row.enumerated() where r != c && n > 0 { all.append((r, c, n)) }
        }
        all.sort { $0.count != $1.count ? $0.count > $1.count : ($0.truth, $0.predicted) < ($1.truth, $1.predicted) }
        return Array(all.prefix(max(0, limit)))
    }

    /// Each class's recall (diagonal / row sum), nil for a class with no images.
    public static func recalls(_ m: [[Int]]) -> [Double?] {
        m.enumerated().map { r, row in
            let sum = row.reduce(0, +)
            return sum > 0 && r < row.count ? Double(row[r]) / Double(sum) : nil
        }
    }

    private func footer(_ m: [[Int]]) -> String? {
        var correct = 0, total = 0
        for (r, row) in m.enumerated() { total += row.reduce(0, +); if r < row.count { correct += row[r] } }
        guard total > 0 else { return nil }
        var s = String(format: "accuracy %.2f%% (%d/%d)", Double(correct) / Double(total) * 100, correct, total)
        if let t = top5, t.isFinite { s += String(format: "  top-5 %.2f%%", t) }
        return s
    }

    private func drawClipped(into buf: inout CellBuffer, rect: Rect, caps: RenderCaps) {
        guard rect.height >= 1, rect.width >= 1 else { return }
        guard let m = counts, !m.isEmpty, m.allSatisfy({ $0.count == m.count }) else {
            buf.put(x: rect.x, y: rect.y, title, style: .bold, maxWidth: rect.width)
            if rect.height >= 2 { buf.put(x: rect.x, y: rect.y + 1, emptyNote, style: .dim, maxWidth: rect.width) }
            return
        }
        if m.count <= ConfusionMatrix.fullMatrixLimit {
            drawFull(m, into: &buf, rect: rect, caps: caps)
        } else {
            drawLarge(m, into: &buf, rect: rect, caps: caps)
        }
    }

    private func drawFull(_ m: [[Int]], into buf: inout CellBuffer, rect: Rect, caps: RenderCaps) {
        let n = m.count, names = names(n)
        // The title row goes first when there is no room for it and every class row.
        var rect = rect
        if rect.height >= n + 2 {
            buf.put(x: rect.x, y: rect.y, title, style: .bold, maxWidth: rect.width)
        } else {
            rect.y -= 1
            rect.height += 1
        }
        let digits = String(m.joined().max() ?? 0).count
        // Row labels as wide as the longest name, up to 10 columns and no wider than leaves the
        // counts (and, unless that cuts names below 5 columns, the recall) their room.
        let longest = names.map(displayWidth).max() ?? 1
        let room = rect.width - 1 - n * (digits + 1)
        let labelW = max(2, min(longest, 10, room - 8 >= min(longest, 5) ? room - 8 : room))
        let cw = max(ConfusionMatrix.cellWidth(for: rect.width, classes: n, labelWidth: labelW), digits + 1)
        let x0 = rect.x + labelW + 1
        var header = ""
        for c in 0..<n { header += pad(truncate(names[c], toWidth: cw - 1), cw, right: true) }
        buf.put(x: x0, y: rect.y + 1, header, style: .dim)
        let recallX = x0 + n * cw + 1
        let showRecall = recallX + 7 <= rect.maxX
        if showRecall { buf.put(x: recallX, y: rect.y + 1, "recall", style: .dim) }
        let ell = caps.unicode ? "…" : "."
        for r in 0..<n {
            let y = rect.y + 2 + r
            let rowSum = m[r].reduce(0, +)
            buf.put(x: rect.x, y: y, pad(truncate(names[r], toWidth: labelW, ellipsis: ell), labelW, right: true) + String(caps.vbar),
                    style: .dim)
            for c in 0..<n {
                let k = m[r][c]
                let share = rowSum > 0 ? Double(k) / Double(rowSum) : 0
                let st = ConfusionMatrix.shade(share: share, diagonal: r == c, caps: caps)
                buf.put(x: x0 + c * cw, y: y, pad(String(k), cw - 1, right: true) + " ", style: st)
            }
            if showRecall {
                let rec = rowSum > 0 ? String(format: "%5.1f%%", Double(m[r][r]) / Double(rowSum) * 100) : "    --"
                buf.put(x: recallX, y: y, rec)
            }
        }
        if let f = footer(m) { buf.put(x: rect.x, y: rect.y + 2 + n, f, style: .bold, maxWidth: rect.width) }
    }

    /// Title; heat map on the left (when there is room) with the top confusions and the lowest
    /// recalls on its right; the accuracy at the bottom.
    private func drawLarge(_ m: [[Int]], into buf: inout CellBuffer, rect: Rect, caps: RenderCaps) {
        let n = m.count, names = names(n)
        buf.put(x: rect.x, y: rect.y, "\(title), \(n) classes", style: .bold, maxWidth: rect.width)
        if let f = footer(m), rect.height >= 3 { buf.put(x: rect.x, y: rect.maxY - 1, f, style: .bold, maxWidth: rect.width) }
        let body = Rect(x: rect.x, y: rect.y + 1, width: rect.width, height: rect.height - 2)
        guard body.height >= 2 else { return }

        // The heat map: square bins of k classes, as many as fit in the body (less a caption
        // row) and in the width the lists leave; two bins per row with half blocks.
        let listMin = 30
        let half = caps.unicode && caps.has256
        let mapRows = body.height - 1, maxW = body.width - listMin - 2
        var listX = body.x
        if mapRows >= 4 && maxW >= 10 {
            let maxBins = min(n, maxW, half ? 2 * mapRows : mapRows)
            let k = (n + maxBins - 1) / maxBins
            let bins = (n + k - 1) / k
            drawHeatMap(m, k: k, bins: bins, half: half, into: &buf, x: body.x, y: body.y, caps: caps)
            let mapH = half ? (bins + 1) / 2 : bins
            let note = k == 1 ? "1 class per cell" : "\(k) classes per cell"
            buf.put(x: body.x, y: body.y + mapH, note, style: .dim, maxWidth: max(bins, displayWidth(note)))
            listX = body.x + max(bins, min(displayWidth(note), maxW)) + 2
        }
        let list = Rect(x: listX, y: body.y, width: body.maxX - listX, height: body.height)
        let arrow = " " + caps.arrow + " "
        // Rows for the two lists: a heading each and a blank line between.
        let lines = max(0, list.height - 3)
        let topCount = (lines + 1) / 2, lowCount = lines - topCount
        let tops = ConfusionMatrix.topConfusions(m, limit: max(1, topCount))
        let countW = String(tops.first?.count ?? 0).count
        buf.put(x: list.x, y: list.y, "top confusions (true\(arrow)predicted)", style: .bold, maxWidth: list.width)
        let ell = caps.unicode ? "…" : "."
        // Names as wide as the longest listed, so the counts line up close to them.
        let shown = tops.prefix(topCount)
        let longest = shown.map { displayWidth(names[$0.truth]) + displayWidth(names[$0.predicted]) }.max() ?? 0
        let nameW = max(3, (list.width - countW - 1 - displayWidth(arrow)) / 2)
        let pairW = min(longest, 2 * nameW) + displayWidth(arrow)
        for (i, t) in shown.enumerated() {
            let pair = truncate(names[t.truth], toWidth: nameW, ellipsis: ell) + arrow + truncate(names[t.predicted], toWidth: nameW, ellipsis: ell)
            let text = pad(pair, pairW) + " " + pad(String(t.count), countW, right: true)
            buf.put(x: list.x, y: list.y + 1 + i, text, style: caps.fg(.red), maxWidth: list.width)
        }
        if tops.isEmpty, topCount > 0 { buf.put(x: list.x, y: list.y + 1, "none", style: .dim) }
        guard lowCount >= 1 else { return }
        let ly = list.y + 2 + topCount
        buf.put(x: list.x, y: ly, "lowest recall", style: .bold, maxWidth: list.width)
        let rec = ConfusionMatrix.recalls(m)
        let order = rec.indices.filter { rec[$0] != nil }.sorted { (rec[$0]!, $0) < (rec[$1]!, $1) }
        let lows = order.prefix(lowCount)
        let lowNameW = lows.map { displayWidth(names[$0]) }.max() ?? 3
        for (i, c) in lows.enumerated() {
            let sum = m[c].reduce(0, +)
            let tail = String(format: " %5.1f%% (%d/%d)", rec[c]! * 100, m[c][c], sum)
            let w = max(3, min(lowNameW, list.width - displayWidth(tail)))
            let text = pad(truncate(names[c], toWidth: w, ellipsis: ell), w) + tail
            buf.put(x: list.x, y: ly + 1 + i, text, maxWidth: list.width)
        }
    }

    /// Bins of k×k classes: each shaded by its share of the true classes' images; the diagonal
    /// green by recall, the rest red relative to the largest confusion, so it always stands out.
    private func drawHeatMap(_ m: [[Int]], k: Int, bins: Int, half: Bool, into buf: inout CellBuffer, x: Int, y: Int,
                             caps: RenderCaps) {
        let n = m.count
        var block = [[Int]](repeating: [Int](repeating: 0, count: bins), count: bins)
        var rowSum = [Int](repeating: 0, count: bins)
        for r in 0..<n {
            for c in 0..<n { block[r / k][c / k] += m[r][c] }
            rowSum[r / k] += m[r].reduce(0, +)
        }
        func share(_ i: Int, _ j: Int) -> Double { rowSum[i] > 0 ? Double(block[i][j]) / Double(rowSum[i]) : 0 }
        var maxOff = 0.0
        for i in 0..<bins { for j in 0..<bins where i != j { maxOff = max(maxOff, share(i, j)) } }
        // Intensity 0 (nothing) ... 1 (the strongest of its kind).
        func level(_ i: Int, _ j: Int) -> Double {
            let s = share(i, j)
            if s <= 0 { return 0 }
            return i == j ? s : s / max(maxOff, 1e-9)
        }
        func color(_ i: Int, _ j: Int) -> Color {
            let v = level(i, j)
            if v <= 0 { return .gray(2) }
            let idx = min(4, Int(v * 4.99))
            return .index(i == j ? ConfusionMatrix.greens[idx] : ConfusionMatrix.reds[idx])
        }
        if half {
            for i in stride(from: 0, to: bins, by: 2) {
                for j in 0..<bins {
                    let bottom: Color = i + 1 < bins ? color(i + 1, j) : .default
                    buf.set(x: x + j, y: y + i / 2, "▀", style: Style(fg: color(i, j), bg: bottom))
                }
            }
            return
        }
        let ramp = caps.unicode ? DigitGlyphMode.shadeRamp : DigitGlyphMode.asciiRamp
        for i in 0..<bins {
            for j in 0..<bins {
                let v = level(i, j)
                // Anything at all shows as at least the ramp's first mark.
                let g = v <= 0 ? 0 : max(1, min(ramp.count - 1, Int(v * Double(ramp.count - 1) + 0.5)))
                buf.set(x: x + j, y: y + i, ramp[g], style: caps.fg(i == j ? .green : .red))
            }
        }
    }
}
