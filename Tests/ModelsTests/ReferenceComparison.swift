import Foundation

// How the PyTorch reference tests compare tensors: a relative error for whole tensors, and for long
// gradients the three projections the fixtures store (make_zoo_fixtures.py, make_zoo2_fixtures.py).

/// ‖a − b‖ / ‖b‖ in double (‖a − b‖ when b is zero).
func relativeError(_ a: [Float], _ b: [Float]) -> Double {
    precondition(a.count == b.count)
    var num = 0.0, den = 0.0
    for (x, y) in zip(a, b) { num += Double(x - y) * Double(x - y); den += Double(y) * Double(y) }
    return den == 0 ? num.squareRoot() : (num / den).squareRoot()
}

/// [Σ g_i sin(0.013 i), Σ g_i cos(0.007 i + 1), |g|] in double; the angles advance by rotation,
/// re-seeded every 4096 elements (a debug build would spend minutes in sin and cos for VGG's 100 M).
func projections(_ g: [Float]) -> [Double] {
    var s0 = 0.0, s1 = 0.0, sq = 0.0
    let (ca, sa, cb, sb) = (cos(0.013), sin(0.013), cos(0.007), sin(0.007))
    g.withUnsafeBufferPointer { g in
        var i = 0
        while i < g.count {
            var (s, c) = (sin(0.013 * Double(i)), cos(0.013 * Double(i)))
            var (u, v) = (sin(0.007 * Double(i) + 1), cos(0.007 * Double(i) + 1))
            for j in i..<min(g.count, i + 4096) {
                let x = Double(g[j])
                s0 += x * s; s1 += x * v; sq += x * x
                (s, c) = (s * ca + c * sa, c * ca - s * sa)
                (u, v) = (u * cb + v * sb, v * cb - u * sb)
            }
            i += 4096
        }
    }
    return [s0, s1, sq.squareRoot()]
}
