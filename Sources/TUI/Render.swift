import Foundation

/// What the output device can show. Widgets pick glyphs and colours from it.
public struct RenderCaps: Equatable, Sendable {
    /// UTF-8 output: braille, blocks, box drawing. Otherwise ASCII only.
    public var unicode: Bool
    /// 0 (no colour), 8 (or 16), 256, or 2^24 (direct colour: `Terminal` found a terminfo entry
    /// such as xterm-direct that takes 24-bit colours; `Color.rgb` is then drawn exactly).
    public var colors: Int
    public init(unicode: Bool = true, colors: Int = 256) { self.unicode = unicode; self.colors = colors }

    public static let full = RenderCaps(unicode: true, colors: 256)
    public static let truecolor = RenderCaps(unicode: true, colors: 1 << 24)
    public static let basic = RenderCaps(unicode: true, colors: 8)
    public static let mono = RenderCaps(unicode: true, colors: 0)
    public static let ascii = RenderCaps(unicode: false, colors: 0)

    public var hasColor: Bool { colors >= 8 }
    public var has256: Bool { colors >= 256 }
    public var hasTrueColor: Bool { colors >= 1 << 24 }

    /// A style with foreground `c` when colours are available (attributes always).
    public func fg(_ c: Color, _ attrs: Attr = []) -> Style {
        Style(fg: hasColor ? c : .default, bg: .default, attrs: attrs)
    }

    public func style(fg: Color, bg: Color, _ attrs: Attr = []) -> Style {
        hasColor ? Style(fg: fg, bg: bg, attrs: attrs) : Style(attrs: attrs)
    }

    /// Horizontal and vertical rules and the tee/arrow glyphs used in several widgets.
    var hbar: Character { unicode ? "─" : "-" }
    var vbar: Character { unicode ? "│" : "|" }
    var check: String { unicode ? "✓" : "ok" }
    var cross: String { unicode ? "✗" : "X" }
    var arrow: String { unicode ? "→" : "->" }
    var dot: String { unicode ? "·" : "|" }
}

/// Number and time formatting shared by widgets.
public enum Fmt {
    /// Compact tick label: at most ~5 columns ("2.31", "0.052", "1.2k", "3e-4").
    public static func tick(_ v: Double) -> String {
        if !v.isFinite { return "?" }
        let a = abs(v)
        if a == 0 { return "0" }
        if a >= 1e7 { return String(format: "%.0e", v) }
        if a >= 1_000_000 { return trim(String(format: "%.1f", v / 1_000_000)) + "M" }
        if a >= 10_000 { return String(format: "%.0f", v / 1000) + "k" }
        if a >= 1000 { return trim(String(format: "%.1f", v / 1000)) + "k" }
        if a >= 100 { return String(format: "%.0f", v) }
        if a >= 10 { return trim(String(format: "%.1f", v)) }
        if a >= 1 { return trim(String(format: "%.2f", v)) }
        if a >= 0.01 { return trim(String(format: "%.3f", v)) }
        return String(format: "%.0e", v)
    }

    /// Drops trailing zeros after a decimal point ("2.50" -> "2.5", "3.00" -> "3").
    static func trim(_ s: String) -> String {
        guard s.contains(".") else { return s }
        var t = s
        while t.hasSuffix("0") { t.removeLast() }
        if t.hasSuffix(".") { t.removeLast() }
        return t
    }

    /// A learning rate: up to 4 significant digits ("0.01", "0.0025", "1e-05").
    public static func lr(_ v: Double) -> String {
        if v == 0 { return "0" }
        if abs(v) < 1e-4 { return String(format: "%.3g", v) }
        return String(format: "%.4g", v)
    }

    /// An accuracy in percent measured over `samples` images, with the decimals that sample
    /// supports: down to the place one image moves (100/samples %), at most two. One 64-image
    /// batch: "98%" (one image is 1.6 points); a 640-image log interval: "98.3%"; 5,000 or 10,000
    /// validation or test images: "98.34%". Unknown (0) samples keep two decimals.
    public static func accuracy(_ percent: Double, samples: Int) -> String {
        let decimals = samples > 0 ? max(0, min(2, Int(log10(Double(samples) / 100).rounded(.up)))) : 2
        return String(format: "%.\(decimals)f%%", percent)
    }

    /// "45s", "3m12s", "1h05m", "2d03h".
    public static func duration(_ s: Double) -> String {
        guard s.isFinite, s >= 0 else { return "--" }
        let t = Int(s.rounded())
        if t < 60 { return "\(t)s" }
        if t < 3600 { return "\(t / 60)m\(String(format: "%02d", t % 60))s" }
        if t < 86400 { return "\(t / 3600)h\(String(format: "%02d", (t % 3600) / 60))m" }
        return "\(t / 86400)d\(String(format: "%02d", (t % 86400) / 3600))h"
    }

    /// A wall-clock time of day from seconds since 1970, local time ("14:05:09").
    public static func clock(_ t: Double) -> String {
        guard t.isFinite, abs(t) < 1e12 else { return "?" }
        var secs = time_t(t.rounded(.down)), tm = tm()
        localtime_r(&secs, &tm)
        return String(format: "%02d:%02d:%02d", tm.tm_hour, tm.tm_min, tm.tm_sec)
    }

    /// A step count ("950", "12.3k", "120k").
    public static func steps(_ v: Double) -> String {
        let a = abs(v)
        if a < 10_000 { return String(Int(v.rounded())) }
        return tick(v)
    }

    /// An epoch position: whole epochs plainly, fractions to two decimals ("2", "0.5", "1.25").
    public static func epochs(_ v: Double) -> String {
        guard v.isFinite else { return "?" }
        return trim(String(format: "%.2f", v))
    }

    /// Milliseconds with 3 significant-ish digits ("0.123", "12.3", "123").
    public static func ms(_ v: Double) -> String {
        if !v.isFinite { return "?" }
        if v >= 100 { return String(format: "%.0f", v) }
        if v >= 10 { return String(format: "%.1f", v) }
        return String(format: "%.2f", v)
    }

    public static func rate(_ v: Double) -> String {
        if !v.isFinite { return "?" }
        if v >= 10_000 { return String(format: "%.1fk", v / 1000) }
        return String(format: "%.0f", v)
    }
}
