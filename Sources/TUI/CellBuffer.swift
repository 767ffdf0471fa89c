// The grid every widget draws into. Pure Swift: no ncurses here, so tests can read it back.

/// A colour in the buffer, translated by `Terminal` to what the terminal supports
/// (24-bit direct colour, 256 colours, 8 colours, or none).
public enum Color: Hashable, Sendable {
    case `default`
    case black, red, green, yellow, blue, magenta, cyan, white
    /// A 256-colour grey ramp level, 0 (darkest) ... 23 (lightest): xterm colours 232...255.
    case gray(Int)
    /// Any xterm 256-colour index.
    case index(Int)
    /// A 24-bit colour (red, green, blue): exact on a direct-colour terminal, else the nearest
    /// of the 256-colour cube and grey ramp, or of the 8 basic colours.
    case rgb(UInt8, UInt8, UInt8)

    /// The nearest of the 8 basic colours (0...7), or -1 for the terminal default.
    public var basic: Int {
        switch self {
        case .default: return -1
        case .black: return 0
        case .red: return 1
        case .green: return 2
        case .yellow: return 3
        case .blue: return 4
        case .magenta: return 5
        case .cyan: return 6
        case .white: return 7
        case .gray(let g): return g < 12 ? 0 : 7
        case .index(let i):
            if i < 16 { return i % 8 }
            if i >= 232 { return i < 244 ? 0 : 7 }
            // 6x6x6 cube: pick the basic colour from the dominant channels.
            let c = i - 16
            let r = c / 36, g = (c / 6) % 6, b = c % 6
            let bits = (r >= 3 ? 1 : 0) | (g >= 3 ? 2 : 0) | (b >= 3 ? 4 : 0)
            return bits
        case .rgb(let r, let g, let b):
            return (r >= 128 ? 1 : 0) | (g >= 128 ? 2 : 0) | (b >= 128 ? 4 : 0)
        }
    }

    /// The xterm 256-colour index (or -1 for the terminal default).
    public var index256: Int {
        switch self {
        case .default: return -1
        case .gray(let g): return 232 + max(0, min(23, g))
        case .index(let i): return max(0, min(255, i))
        case .rgb(let r, let g, let b): return Palette.nearest256(r, g, b)
        default: return basic
        }
    }
}

/// Text attributes of a cell.
public struct Attr: OptionSet, Hashable, Sendable {
    public let rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }
    public static let bold = Attr(rawValue: 1)
    public static let dim = Attr(rawValue: 2)
    public static let reverse = Attr(rawValue: 4)
    public static let underline = Attr(rawValue: 8)
}

public struct Style: Hashable, Sendable {
    public var fg: Color
    public var bg: Color
    public var attrs: Attr
    public init(fg: Color = .default, bg: Color = .default, attrs: Attr = []) {
        self.fg = fg; self.bg = bg; self.attrs = attrs
    }
    public static let plain = Style()
    public static let bold = Style(attrs: .bold)
    public static let dim = Style(attrs: .dim)
    public static let reverse = Style(attrs: .reverse)
}

/// One terminal cell. A double-width character occupies its cell and the next one, which
/// holds a `continuation` cell (empty text).
public struct Cell: Hashable, Sendable {
    public var text: String
    public var style: Style
    public var continuation: Bool
    public init(_ text: String = " ", style: Style = .plain, continuation: Bool = false) {
        self.text = text; self.style = style; self.continuation = continuation
    }
    public static let blank = Cell()
}

public struct Rect: Hashable, Sendable, CustomStringConvertible {
    public var x: Int, y: Int, width: Int, height: Int
    public init(x: Int, y: Int, width: Int, height: Int) {
        self.x = x; self.y = y; self.width = max(0, width); self.height = max(0, height)
    }
    public var maxX: Int { x + width }
    public var maxY: Int { y + height }
    public var isEmpty: Bool { width <= 0 || height <= 0 }
    public func intersection(_ o: Rect) -> Rect {
        let nx = max(x, o.x), ny = max(y, o.y)
        let mx = min(maxX, o.maxX), my = min(maxY, o.maxY)
        return Rect(x: nx, y: ny, width: mx - nx, height: my - ny)
    }
    public func contains(x px: Int, y py: Int) -> Bool {
        px >= x && px < maxX && py >= y && py < maxY
    }
    /// Shrinks by `d` on every side.
    public func inset(_ d: Int) -> Rect { Rect(x: x + d, y: y + d, width: width - 2 * d, height: height - 2 * d) }
    public var description: String { "(\(x),\(y) \(width)x\(height))" }
}

/// Display width of one Unicode scalar in a terminal (a small wcwidth that does not depend
/// on the process locale): 0 for combining and zero-width, 2 for East Asian wide and most
/// emoji, 1 otherwise. Control characters count as 0 (they are never drawn).
public func displayWidth(_ s: Unicode.Scalar) -> Int {
    let v = s.value
    if v < 0x20 || (v >= 0x7F && v < 0xA0) { return 0 }
    if v < 0x300 { return 1 }
    if (0x300...0x36F).contains(v) || (0x1AB0...0x1AFF).contains(v) || (0x1DC0...0x1DFF).contains(v)
        || (0x20D0...0x20FF).contains(v) || (0xFE20...0xFE2F).contains(v)
        || (0x200B...0x200F).contains(v) || v == 0x2060 || v == 0xFEFF
        || (0xFE00...0xFE0F).contains(v) || (0x0483...0x0489).contains(v)
        || (0x0591...0x05BD).contains(v) || (0x0610...0x061A).contains(v) || (0x064B...0x065F).contains(v)
        || (0x0E31 == v) || (0x0E34...0x0E3A).contains(v) {
        return 0
    }
    if (0x1100...0x115F).contains(v) || (0x2E80...0x303E).contains(v) || (0x3041...0x33FF).contains(v)
        || (0x3400...0x4DBF).contains(v) || (0x4E00...0x9FFF).contains(v) || (0xA000...0xA4CF).contains(v)
        || (0xAC00...0xD7A3).contains(v) || (0xF900...0xFAFF).contains(v) || (0xFE30...0xFE4F).contains(v)
        || (0xFF00...0xFF60).contains(v) || (0xFFE0...0xFFE6).contains(v)
        || (0x1F300...0x1F64F).contains(v) || (0x1F900...0x1F9FF).contains(v)
        || (0x20000...0x3FFFD).contains(v) {
        return 2
    }
    return 1
}

/// Display width of a grapheme cluster: the width of its first non-zero-width scalar.
public func displayWidth(_ c: Character) -> Int {
    var w = 0
    for s in c.unicodeScalars {
        let sw = displayWidth(s)
        if sw > 0 { w = sw; break }
    }
    return w
}

/// Display width of a string in terminal columns.
public func displayWidth(_ s: String) -> Int {
    var w = 0
    for c in s { w += displayWidth(c) }
    return w
}

/// Truncates `s` to at most `width` columns (appending `ellipsis` when cut and it fits).
public func truncate(_ s: String, toWidth width: Int, ellipsis: String = "") -> String {
    if width <= 0 { return "" }
    if displayWidth(s) <= width { return s }
    let ew = displayWidth(ellipsis)
    let target = ew < width ? width - ew : width
    var out = "", w = 0
    for c in s {
        let cw = displayWidth(c)
        if w + cw > target { break }
        out.append(c); w += cw
    }
    return ew < width ? out + ellipsis : out
}

/// Pads (or truncates) `s` to exactly `width` columns.
public func pad(_ s: String, _ width: Int, right: Bool = false) -> String {
    let t = truncate(s, toWidth: width)
    let n = max(0, width - displayWidth(t))
    let spaces = String(repeating: " ", count: n)
    return right ? spaces + t : t + spaces
}

/// A width x height grid of cells. Every write is clipped to the buffer and to the current
/// clip rectangle; nothing is ever written outside, and writes never wrap.
public struct CellBuffer: Sendable {
    public private(set) var width: Int
    public private(set) var height: Int
    public private(set) var cells: [Cell]
    /// Writes outside this rectangle (intersected with the buffer) are dropped.
    public var clip: Rect

    public init(width: Int, height: Int) {
        self.width = max(0, width)
        self.height = max(0, height)
        self.cells = Array(repeating: .blank, count: self.width * self.height)
        self.clip = Rect(x: 0, y: 0, width: self.width, height: self.height)
    }

    public var bounds: Rect { Rect(x: 0, y: 0, width: width, height: height) }

    public subscript(x: Int, y: Int) -> Cell {
        get {
            guard x >= 0, y >= 0, x < width, y < height else { return .blank }
            return cells[y * width + x]
        }
    }

    private var effectiveClip: Rect { clip.intersection(bounds) }

    /// Runs `body` with the clip narrowed to `rect` (intersected with the current clip).
    public mutating func withClip(_ rect: Rect, _ body: (inout CellBuffer) -> Void) {
        let saved = clip
        clip = clip.intersection(rect)
        body(&self)
        clip = saved
    }

    public mutating func clear(style: Style = .plain) {
        for i in cells.indices { cells[i] = Cell(" ", style: style) }
    }

    /// Sets one cell to a single-width character (wider characters go through `put`).
    public mutating func set(x: Int, y: Int, _ ch: Character, style: Style = .plain) {
        _ = put(x: x, y: y, String(ch), style: style)
    }

    /// Changes the style of an existing cell (inside the clip) without touching its text.
    public mutating func restyle(x: Int, y: Int, _ transform: (inout Style) -> Void) {
        guard effectiveClip.contains(x: x, y: y) else { return }
        transform(&cells[y * width + x].style)
    }

    /// Fills `rect` (clipped) with `ch`.
    public mutating func fill(_ rect: Rect, _ ch: Character = " ", style: Style = .plain) {
        let r = rect.intersection(effectiveClip)
        guard !r.isEmpty else { return }
        let w = displayWidth(ch) == 1 ? ch : " "
        for yy in r.y..<r.maxY {
            for xx in r.x..<r.maxX { store(x: xx, y: yy, Cell(String(w), style: style)) }
        }
    }

    private mutating func store(x: Int, y: Int, _ cell: Cell) {
        let i = y * width + x
        // Overwriting either half of a wide character blanks the other half.
        if cells[i].continuation, !cell.continuation, x > 0 {
            cells[i - 1] = Cell(" ", style: cells[i - 1].style)
        }
        if x + 1 < width, cells[i + 1].continuation {
            cells[i + 1] = Cell(" ", style: cells[i + 1].style)
        }
        cells[i] = cell
    }

    /// Writes `text` starting at column `x` of row `y`, at most `maxWidth` columns, clipped
    /// to the buffer and the clip rectangle. Control characters (including newlines) are
    /// drawn as spaces; a wide character that does not fit whole is replaced by a space.
    /// Returns the number of columns the text advanced (even the clipped part).
    @discardableResult
    public mutating func put(x: Int, y: Int, _ text: String, style: Style = .plain, maxWidth: Int? = nil) -> Int {
        let c = effectiveClip
        let limit = maxWidth.map { x + max(0, $0) } ?? Int.max
        var col = x
        for ch in text {
            var cw = displayWidth(ch)
            var g = String(ch)
            if cw == 0 {
                if ch.unicodeScalars.allSatisfy({ $0.value < 0x20 || ($0.value >= 0x7F && $0.value < 0xA0) }) {
                    g = " "; cw = 1
                } else {
                    // A lone combining mark: attach to nothing, skip.
                    continue
                }
            }
            if col + cw > limit { break }
            guard y >= c.y, y < c.maxY else { col += cw; continue }
            if cw == 2 {
                let fits = col >= c.x && col + 1 < c.maxX
                if fits {
                    store(x: col, y: y, Cell(g, style: style))
                    store(x: col + 1, y: y, Cell("", style: style, continuation: true))
                } else {
                    // Draw whatever half is visible as a space.
                    if col >= c.x && col < c.maxX { store(x: col, y: y, Cell(" ", style: style)) }
                    if col + 1 >= c.x && col + 1 < c.maxX { store(x: col + 1, y: y, Cell(" ", style: style)) }
                }
            } else if col >= c.x && col < c.maxX {
                store(x: col, y: y, Cell(g, style: style))
            }
            col += cw
        }
        return col - x
    }

    /// Writes `text` centred in `rect`'s row `y`.
    public mutating func putCentered(_ text: String, in rect: Rect, y: Int, style: Style = .plain) {
        let t = truncate(text, toWidth: rect.width)
        let x = rect.x + max(0, (rect.width - displayWidth(t)) / 2)
        put(x: x, y: y, t, style: style, maxWidth: rect.maxX - x)
    }

    public mutating func hline(x: Int, y: Int, width: Int, _ ch: Character, style: Style = .plain) {
        guard width > 0 else { return }
        fill(Rect(x: x, y: y, width: width, height: 1), ch, style: style)
    }

    public mutating func vline(x: Int, y: Int, height: Int, _ ch: Character, style: Style = .plain) {
        guard height > 0 else { return }
        fill(Rect(x: x, y: y, width: 1, height: height), ch, style: style)
    }

    /// Draws a box around `rect` with an optional title in the top edge.
    public mutating func box(_ rect: Rect, title: String = "", unicode: Bool, style: Style = .plain, titleStyle: Style = .bold) {
        guard rect.width >= 2, rect.height >= 2 else { return }
        let (h, v, tl, tr, bl, br): (Character, Character, Character, Character, Character, Character) =
            unicode ? ("─", "│", "┌", "┐", "└", "┘") : ("-", "|", "+", "+", "+", "+")
        hline(x: rect.x + 1, y: rect.y, width: rect.width - 2, h, style: style)
        hline(x: rect.x + 1, y: rect.maxY - 1, width: rect.width - 2, h, style: style)
        vline(x: rect.x, y: rect.y + 1, height: rect.height - 2, v, style: style)
        vline(x: rect.maxX - 1, y: rect.y + 1, height: rect.height - 2, v, style: style)
        set(x: rect.x, y: rect.y, tl, style: style)
        set(x: rect.maxX - 1, y: rect.y, tr, style: style)
        set(x: rect.x, y: rect.maxY - 1, bl, style: style)
        set(x: rect.maxX - 1, y: rect.maxY - 1, br, style: style)
        if !title.isEmpty, rect.width > 4 {
            put(x: rect.x + 1, y: rect.y, " " + title + " ", style: titleStyle, maxWidth: rect.width - 2)
        }
    }

    // MARK: reading back (tests, debugging)

    /// The text of row `y` (continuation cells contribute nothing).
    public func row(_ y: Int) -> String {
        guard y >= 0, y < height else { return "" }
        var s = ""
        for x in 0..<width {
            let c = cells[y * width + x]
            if !c.continuation { s += c.text }
        }
        return s
    }

    /// All rows joined with newlines.
    public var text: String { (0..<height).map { row($0) }.joined(separator: "\n") }

    /// Whether any row contains `s`.
    public func contains(_ s: String) -> Bool { (0..<height).contains { row($0).contains(s) } }

    /// The first (x, y) where row text contains `s`, x in columns.
    public func find(_ s: String) -> (x: Int, y: Int)? {
        for y in 0..<height {
            let r = row(y)
            if let range = r.range(of: s) {
                return (displayWidth(String(r[r.startIndex..<range.lowerBound])), y)
            }
        }
        return nil
    }
}
