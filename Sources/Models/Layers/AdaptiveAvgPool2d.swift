import Kernels

/// nn.AdaptiveAvgPool2d((outH, outW)): any input side to a fixed output side with PyTorch's bins
/// (Kernels/AdaptiveAvgPool.swift): VGG's 7×7 and AlexNet's 6×6 before their classifiers.
public final class AdaptiveAvgPool2d: Layer, GradientBufferUser {
    public let name: String
    public let outH, outW: Int
    public var needsInputGradient = true
    public var gradientBuffers: GradientBuffers?
    public var parameters: [Parameter] { [] }
    private var input: Tensor?, out: Tensor?

    public init(_ name: String, _ outH: Int, _ outW: Int) { self.name = name; self.outH = outH; self.outW = outW }

    public func outputShape(for s: [Int]) -> [Int] { [s[0], outH, outW] }
    public var kind: String { "AdaptiveAvgPool2d(\(outH)×\(outW))" }

    public func forward(_ x: Tensor, training: Bool) -> Tensor {
        precondition(x.shape.count == 4, "\(name): input \(x.shape)")
        keep(x, in: &input)
        let y = layerOutput(&out, [x.shape[0], x.shape[1], outH, outW])
        adaptiveAvgPoolForward(x: x.data, planes: x.shape[0] * x.shape[1], height: x.shape[2], width: x.shape[3],
                               outH: outH, outW: outW, y: y.data)
        return y
    }

    public func backward(_ dy: Tensor) -> Tensor? {
        guard let input else { preconditionFailure("\(name): backward before forward") }
        let d = gradientBuffer(input.shape)
        adaptiveAvgPoolBackward(dy: dy.data, planes: input.shape[0] * input.shape[1], height: input.shape[2],
                                width: input.shape[3], outH: outH, outW: outW, dx: d.data)
        return d
    }
}
