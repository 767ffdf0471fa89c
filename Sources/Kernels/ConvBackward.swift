import Foundation

/// Gradients of `convForward`: dWeight (and dBias) overwritten, dx overwritten when given (plus
/// `dxAdding`, x's shape, where given). The paths each takes are tabled in ConvBackwardData.swift and
/// ConvBackwardWeights.swift. dW's blocks for taps no output reaches are zeroed, unless `idleTapsZeroed`
/// says the caller's last backward of this geometry left them so.
public func convBackward(dy: UnsafePointer<Float>, x: UnsafePointer<Float>, weight: UnsafePointer<Float>,
                         geometry g: ConvGeometry, dWeight: UnsafeMutablePointer<Float>,
                         dBias: UnsafeMutablePointer<Float>?, dx: UnsafeMutablePointer<Float>?,
                         dxAdding: UnsafePointer<Float>? = nil, idleTapsZeroed: Bool = false) {
    if let dx { convBackwardData(dy: dy, weight: weight, geometry: g, dx: dx, adding: dxAdding) }
    convBackwardWeights(dy: dy, x: x, geometry: g, dWeight: dWeight, dBias: dBias, idleTapsZeroed: idleTapsZeroed)
}
