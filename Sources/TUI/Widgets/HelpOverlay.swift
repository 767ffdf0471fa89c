/// The `?`/F1 overlay: a centred box listing every key.
public struct HelpOverlay: Sendable {
    /// (keys, what they do), in display order. Tests check every binding is listed.
    public static let entries: [(keys: String, help: String)] = [
        ("space, p", "pause / resume training"),
        ("+  -", "double / halve the learning rate"),
        ("l", "type an exact learning rate"),
        ("r", "toggle residual connections"),
        ("s", "save a checkpoint snapshot"),
        ("e", "evaluate on the validation set now"),
        ("tab, 1-4", "panel: 1 curves 2 layers 3 samples 4 confusion"),
        ("m", "samples / mistakes"),
        ("o", "layers: sort by time / model order"),
        ("g", "layers panel: times / gradient flow"),
        ("y", "loss: log / linear scale"),
        ("[  ]", "less / more loss smoothing"),
        ("x", "curves over steps / epochs"),
        ("?, F1", "this help"),
        ("q, F10", "quit (asks first while training)"),
        ("d", "detach: training goes on; nntop attach comes back"),
    ]

    /// `nntop view`: only the keys that do something when nothing trains.
    public static let replayEntries: [(keys: String, help: String)] = [
        ("tab, 1-4", "panel: 1 curves 2 runs and events 3 samples 4 matrix"),
        ("x", "curves over steps / epochs"),
        ("g", "panel 2: runs / gradient flow"),
        ("y", "loss: log / linear scale"),
        ("[  ]", "less / more loss smoothing"),
        ("?, F1", "this help"),
        ("q, F10", "quit"),
    ]

    /// Runs viewed by tag (TensorBoard logs).
    public static let tagEntries: [(keys: String, help: String)] = [
        ("tab, 1-2", "panel: 1 charts per tag 2 runs and last values"),
        ("/", "filter tags by regex (empty clears)"),
        ("t", "next tag group (loss & accuracy, prefixes, all)"),
        ("x", "x axis: steps / relative time / wall time"),
        ("y", "log / linear y"),
        ("[  ]", "less / more smoothing (TensorBoard's EMA)"),
        ("?, F1", "this help"),
        ("q, F10", "quit"),
    ]

    public var replay: Bool
    public var tags = false
    /// Whether the model has residual connections to switch (`r` is listed only then).
    public var residual: Bool
    public init(replay: Bool = false, residual: Bool = true) { self.replay = replay; self.residual = residual }

    public func draw(into buf: inout CellBuffer, area: Rect, caps: RenderCaps) {
        let entries = tags ? HelpOverlay.tagEntries : replay ? HelpOverlay.replayEntries : HelpOverlay.entries.filter { $0.keys != "r" || residual }
        let keyW = entries.map { displayWidth($0.keys) }.max() ?? 8
        let textW = entries.map { displayWidth($0.help) }.max() ?? 30
        let w = min(area.width, keyW + textW + 7)
        let h = min(area.height, entries.count + 4)
        guard w >= 10, h >= 3 else { return }
        let r = Rect(x: area.x + (area.width - w) / 2, y: area.y + (area.height - h) / 2, width: w, height: h)
        buf.withClip(r) { b in
            b.fill(r, " ")
            b.box(r, title: "Keys", unicode: caps.unicode, style: caps.fg(.cyan, .bold))
            let inner = r.inset(1)
            b.withClip(inner) { b in
                for (i, e) in entries.enumerated() {
                    let y = inner.y + 1 + i
                    b.put(x: inner.x + 1, y: y, pad(e.keys, keyW), style: caps.fg(.yellow, .bold))
                    b.put(x: inner.x + 3 + keyW, y: y, e.help)
                }
                b.putCentered("press any key to close", in: inner, y: inner.maxY - 1, style: .dim)
            }
        }
    }
}
