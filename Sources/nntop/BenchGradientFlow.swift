import Foundation
import Kernels
import Models

extension Bench {
    /// `nntop bench MODEL --grad-cost`: what measuring the gradient-flow figures adds to a training step,
    /// as the Trainer does it on a measured step (the optimizer's measured update, then the per-layer
    /// grouping). Plain and measured steps alternate in rounds within one run; each side's figure is its
    /// median round. Printed: whole steps both ways, and the optimizer step + grouping alone both ways
    /// (a steadier figure: the rest of the step is the same code), each difference as % of a plain step.
    func benchGradientCost(_ net: Network, _ opt: Optimizer, _ x: Tensor, _ labels: UnsafeMutablePointer<Int32>, batch b: Int) {
        let groups = GradientGroups(net)
        let perRound = max(1, steps / 10), rounds = 11
        var stepMs: [[Double]] = [[], []], optMs: [[Double]] = [[], []]
        var sink = 0.0
        for _ in 0..<rounds {
            for measure in [false, true] {
                var total = 0.0, optimizer = 0.0
                for _ in 0..<perRound {
                    let t0 = monotonicSeconds()
                    _ = net.trainStep(x, labels: labels)
                    let t1 = monotonicSeconds()
                    opt.measure = measure
                    opt.step()
                    if measure { sink += groups.figures(opt.measured, inUse: opt.parameters.map(\.inUse), step: 0).layers[0].gradSquares }
                    let t2 = monotonicSeconds()
                    total += t2 - t0; optimizer += t2 - t1
                }
                stepMs[measure ? 1 : 0].append(total / Double(perRound) * 1e3)
                optMs[measure ? 1 : 0].append(optimizer / Double(perRound) * 1e3)
            }
        }
        opt.measure = false
        func median(_ v: [Double]) -> Double { let s = v.sorted(); return s[s.count / 2] }
        let plain = median(stepMs[0]), measured = median(stepMs[1])
        let optPlain = median(optMs[0]), optMeasured = median(optMs[1])
        print(String(format: "nntop %@ gradient-flow cost, threads %d, batch %d, %d rounds of %d steps each way (medians)%@",
                     model, threads, b, rounds, perRound, sink.isNaN ? " (NaN seen)" : ""))
        print(String(format: "step: plain %.3f ms, measured %.3f ms: %+.2f%%", plain, measured, (measured - plain) / plain * 100))
        print(String(format: "optimizer + grouping: plain %.4f ms, measured %.4f ms: %+.4f ms = %+.2f%% of a plain step",
                     optPlain, optMeasured, optMeasured - optPlain, (optMeasured - optPlain) / plain * 100))
    }
}
