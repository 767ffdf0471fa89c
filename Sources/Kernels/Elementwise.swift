import Foundation

private let elementGrain = 65536

public func reluForward(x: UnsafePointer<Float>, count: Int, y: UnsafeMutablePointer<Float>) {
    Parallel.ranges(count, grain: elementGrain) { r in
        var i = r.lowerBound
        let zero = SIMD16<Float>()
        while i + 16 <= r.upperBound { store16(load16(x + i).replacing(with: zero, where: load16(x + i) .< zero), y + i); i += 16 }
        while i < r.upperBound { y[i] = max(x[i], 0); i += 1 }
    }
}

/// dx = dy where the forward output was positive, else 0.
public func reluBackward(dy: UnsafePointer<Float>, y: UnsafePointer<Float>, count: Int, dx: UnsafeMutablePointer<Float>) {
    Parallel.ranges(count, grain: elementGrain) { r in
        var i = r.lowerBound
        let zero = SIMD16<Float>()
        while i + 16 <= r.upperBound { store16(load16(dy + i).replacing(with: zero, where: load16(y + i) .<= zero), dx + i); i += 16 }
        while i < r.upperBound { dx[i] = y[i] > 0 ? dy[i] : 0; i += 1 }
    }
}

/// y += x (the residual add).
public func addInPlace(_ y: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, count: Int) {
    Parallel.ranges(count, grain: elementGrain) { r in
        var i = r.lowerBound
        while i + 16 <= r.upperBound { store16(load16(y + i) + load16(x + i), y + i); i += 16 }
        while i < r.upperBound { y[i] += x[i]; i += 1 }
    }
}
