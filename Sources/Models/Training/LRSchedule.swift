import Foundation

/// The LR schedule: the factor the base LR is multiplied by for each step, from the step count alone
/// (so a resumed run continues it exactly).
///
/// - `constant`: 1.
/// - `cosine`: 0.5·(1 + cos(π·p)), p the fraction of the steps after the warmup that are done: from 1
///   at the warmup's end to 0 at the run's end (without warmup, over the whole run).
/// - `step`: γ^k, k the milestones (in epochs, fractional allowed) already passed: a milestone at
///   epoch E makes the first step after E·steps-per-epoch steps, and every one after, use γ times more
///   (Keras' 80/120/160/180 epochs, He et al.'s 32k and 48k iterations ≈ epochs 82 and 123 of 391 steps).
/// - warmup (any of them): the first W = warmup·steps-per-epoch steps are multiplied by
///   (s + 1)/W, from base/W at the first step up to the base at the W-th.
public struct LRSchedule: Equatable, Sendable {
    public enum Kind: String, CaseIterable, Sendable { case constant, cosine, step }
    public var kind: Kind
    /// Epochs (fractional allowed) at which a step schedule multiplies the LR by `gamma`.
    public var milestones: [Double]
    public var gamma: Float
    /// Linear warmup, in epochs (fractional allowed; 0: none).
    public var warmupEpochs: Double
    public var stepsPerEpoch: Int
    public var totalSteps: Int

    public init(kind: Kind, milestones: [Double] = [], gamma: Float = 0.1, warmupEpochs: Double = 0,
                stepsPerEpoch: Int, totalSteps: Int) {
        self.kind = kind; self.milestones = milestones; self.gamma = gamma; self.warmupEpochs = warmupEpochs
        self.stepsPerEpoch = stepsPerEpoch; self.totalSteps = totalSteps
    }

    /// A run's schedule: its options, its steps per epoch and epochs (an unknown kind reads as constant;
    /// the CLI refuses it first).
    public init(_ c: TrainConfig, stepsPerEpoch: Int) {
        self.init(kind: Kind(rawValue: c.schedule) ?? .constant, milestones: c.milestones ?? [], gamma: c.gamma ?? 0.1,
                  warmupEpochs: c.warmup ?? 0, stepsPerEpoch: stepsPerEpoch, totalSteps: stepsPerEpoch * c.epochs)
    }

    /// Steps of warmup.
    public var warmupSteps: Int { max(0, Int((warmupEpochs * Double(stepsPerEpoch)).rounded())) }
    /// The step counts at which each milestone takes effect (the step after that many steps uses γ).
    public var milestoneSteps: [Int] { milestones.map { Int(($0 * Double(stepsPerEpoch)).rounded()) } }

    /// The factor for the step taken after `step` steps.
    public func factor(step: Int) -> Float {
        let w = warmupSteps
        let warm: Float = step < w ? Float(step + 1) / Float(w) : 1
        switch kind {
        case .constant:
            return warm
        case .cosine:
            let span = totalSteps - w
            guard span > 0 else { return warm }
            let p = Float(min(max(step - w, 0), span)) / Float(span)
            return warm * 0.5 * (1 + cos(Float.pi * p))
        case .step:
            let passed = milestoneSteps.filter { $0 <= step }.count
            return warm * powf(gamma, Float(passed))
        }
    }

    /// The largest factor of any step from `step` on: where a set LR would take the run (the factor is
    /// monotone between the warmup's end and the milestones, so those and `step` are the candidates).
    public func peakFactor(from step: Int) -> Float {
        let candidates = [step, warmupSteps - 1] + milestoneSteps
        return candidates.filter { $0 >= step }.map(factor(step:)).max() ?? factor(step: step)
    }

    /// Parses --milestones: epochs separated by commas, each positive, in increasing order.
    public static func parseMilestones(_ text: String) throws -> [Double] {
        let parts = text.split(separator: ",", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
        var out: [Double] = []
        for p in parts {
            guard let v = Double(p), v.isFinite, v > 0 else {
                throw DataError("--milestones \(text): give epochs greater than 0 separated by commas, e.g. 80,120 or 81.8,122.8")
            }
            if let last = out.last, v <= last { throw DataError("--milestones \(text): epochs must increase (\(p) after \(formatEpochs(last)))") }
            out.append(v)
        }
        return out
    }

    /// One line saying what the schedule does, for the run's first message and config.
    public var description: String {
        var s: String
        switch kind {
        case .constant: s = "constant LR"
        case .cosine: s = "cosine decay to 0"
        case .step: s = "step: ×\(formatLR(gamma)) at epoch" + (milestones.count == 1 ? " " : "s ") + milestones.map(formatEpochs).joined(separator: ", ")
        }
        if warmupEpochs > 0 { s += ", after \(formatEpochs(warmupEpochs)) epoch" + (warmupEpochs == 1 ? "" : "s") + " of linear warmup" }
        return s
    }
}

/// An epoch count as given: 7, 0.5, 91.1681 (no rounding to six digits, no trailing .0).
func formatEpochs(_ e: Double) -> String { e == e.rounded() && abs(e) < 1e15 ? String(Int(e)) : "\(e)" }
