extension String {
    /// Widened with spaces to `width` characters, after the text or (`right`, for numbers) before it;
    /// never cut. For the plain-text tables `nntop summary`, `eval` and `bench` print. The dashboard
    /// keeps its own `pad` (TUI imports no Models): it counts terminal columns and clips to fit.
    public func padded(to width: Int, right: Bool = false) -> String {
        guard count < width else { return self }
        let fill = String(repeating: " ", count: width - count)
        return right ? fill + self : self + fill
    }
}
