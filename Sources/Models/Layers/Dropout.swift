import Kernels

/// nn.Dropout(p): in training each element is zeroed with probability p and the rest scaled by
/// 1/(1-p); in evaluation the identity. The mask is a pure function of the model's seed, this layer's
/// name, the training step and the element's place in the batch (Kernels/Dropout.swift), so resuming
/// at step s draws the masks an unbroken run would, and so does a batch split across replicas.
public final class Dropout: Layer, GradientBufferUser {
    public let name: String
    public let p: Float
    public var needsInputGradient = true
    public var gradientBuffers: GradientBuffers?
    public var parameters: [Parameter] { [] }
    /// The run's seed (set by ModelZoo.make).
    public var seed: UInt64 = 0
    /// The step whose masks the next training forward draws, and the batch index of the first sample it
    /// sees (a replica's slice starts past 0): set by Network before each step.
    public var step: UInt64 = 0, firstSample = 0
    /// Each layer's masks differ: FNV-1a of its name.
    public let salt: UInt64

    private var out: Tensor?, mask: Tensor?
    private var trained = false

    public init(_ name: String, p: Float = 0.5) {
        precondition(p >= 0 && p < 1, "dropout probability \(p)")
        self.name = name; self.p = p
        salt = name.utf8.reduce(0xcbf2_9ce4_8422_2325 as UInt64) { ($0 ^ UInt64($1)) &* 0x100_0000_01b3 }
    }

    public var kind: String { "Dropout(\(p))" }

    public func forward(_ x: Tensor, training: Bool) -> Tensor {
        trained = training
        guard training && p > 0 else { return x }
        let y = Tensor.reuse(out, x.shape); out = y
        let m = Tensor.reuse(mask, x.shape); mask = m
        let perSample = x.count / x.shape[0]
        dropoutForward(x: x.data, count: x.count, p: p, seed: seed, salt: salt, step: step,
                       firstPosition: UInt64(firstSample * perSample), mask: m.data, y: y.data)
        return y
    }

    public func backward(_ dy: Tensor) -> Tensor? {
        guard trained && p > 0 else { return dy }
        guard let mask else { preconditionFailure("\(name): backward before forward") }
        let d = gradientBuffer(dy.shape)
        dropoutBackward(dy: dy.data, mask: mask.data, count: dy.count, dx: d.data)
        return d
    }
}
