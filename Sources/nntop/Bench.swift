import ArgumentParser
import Foundation
import Kernels
import Models

/// `nntop bench MODEL`: training and inference throughput on random input, in the same line shape as
/// ../shared/reference/torch_bench.py (momentum SGD lr 0.01, 3 warm-up steps, then timed steps;
/// inference at batch 256), plus achieved GFLOP/s against a peak measured in the same run and a
/// per-layer forward/backward table.
struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Measure training and inference throughput (samples/s) and per-layer times on random input.")

    @Argument(help: "The model: \(ModelZoo.names.joined(separator: ", ")).")
    var model: String = "lenet5"
    @Option(name: .customLong("batch-size"), help: "Images per training step.")
    var batchSize: Int = 64
    @Option(help: "Worker threads for the kernels (default: all cores).")
    var threads: Int = ProcessInfo.processInfo.activeProcessorCount
    @Option(help: "Timed training steps (inference runs a third as many batches of 256).")
    var steps: Int = 30
    @Flag(name: .customLong("no-residual"), help: "A ResNet without its shortcut connections.")
    var noResidual = false
    @Option(help: ArgumentHelp("One sample's shape, e.g. 3,32,32 for CIFAR (default: 1,32,32).", valueName: "C,H,W"))
    var input: String = "1,32,32"
    @Option(parsing: .unconditional, help: "Classes of the model's head (default: 10).")
    var classes: Int = 10
    @Flag(name: .customLong("no-peak"), help: "Skip measuring the FMA peak.")
    var noPeak = false
    @Option(name: .customLong("gemm"), help: ArgumentHelp("Time one GEMM instead: MxNxK[:tA][:tB].", visibility: .hidden))
    var gemmShape: String?
    @Option(name: .customLong("conv"), help: ArgumentHelp("Time one conv instead: N,C,H,W,CO,K,S,P.", visibility: .hidden))
    var convShape: String?
    @Option(name: .customLong("pool"), help: ArgumentHelp("Time one max pool instead: N,C,H,W (2×2 stride 2) or N,C,H,W,K,S,P (ceil mode when strided).", visibility: .hidden))
    var poolShape: String?
    @Option(name: .customLong("norm"), help: ArgumentHelp("Time one training batch norm (with its ReLU) instead: N,C,H,W.", visibility: .hidden))
    var normShape: String?
    @Flag(name: .customLong("grad-cost"), help: "Time what the gradient-flow figures add to a training step (measured and plain steps interleaved).")
    var gradCost = false
    @Option(name: .customLong("micro"), help: ArgumentHelp("Time the conv microkernel at depth K instead.", visibility: .hidden))
    var micro: Int?
    @Flag(name: .customLong("fill"), help: ArgumentHelp("Time filling one batch of MNIST's training images instead (plain, and with crop,flip).", visibility: .hidden))
    var fill = false

    func validate() throws {
        guard ModelZoo.names.contains(model) else {
            throw ValidationError("unknown model '\(model)'; choose one of: \(ModelZoo.names.joined(separator: ", "))")
        }
        guard batchSize > 0 else { throw ValidationError("--batch-size must be a positive number (got \(batchSize))") }
        guard threads > 0 && threads <= 256 else { throw ValidationError("--threads must be between 1 and 256 (got \(threads))") }
        guard steps > 0 else { throw ValidationError("--steps must be a positive number (got \(steps))") }
        _ = try parseInputShape(input)
        guard classes >= 2 && classes <= 100_000 else { throw ValidationError("--classes must be between 2 and 100000 (got \(classes))") }
    }

    func run() throws {
        Parallel.maxThreads = threads
        if let gemmShape { benchGEMM(gemmShape); return }
        if let convShape { benchConv(convShape); return }
        if let poolShape { benchPool(poolShape); return }
        if let normShape { benchNorm(normShape); return }
        if fill { benchFill(batch: batchSize); return }
        if let micro {
            print(String(format: "microkernel 8x32 k=%d: %.1f GFLOP/s (1 thread, best of 20)", micro,
                         measureMicrokernelGFLOPs(k: micro, runs: 20)))
            return
        }
        let shape = try parseInputShape(input)
        guard let net = ModelZoo.make(model, inChannels: shape[0], classes: classes, residual: !noResidual, seed: 0) else { fail("unknown model \(model)") }
        let opt = Optimizer(.momentum, parameters: net.parameters, lr: 0.01, momentum: 0.9)
        var rng = SeededRandom(seed: 0)
        let b = batchSize
        let x = Tensor(shape: [b] + shape)
        for i in 0..<x.count { x[i] = gaussian(&rng) }
        let labels = UnsafeMutablePointer<Int32>.allocate(capacity: b)
        defer { labels.deallocate() }
        for i in 0..<b { labels[i] = Int32(rng.next() % UInt64(net.classes)) }
        var fwd = [Double](repeating: 0, count: net.units.count), bwd = fwd

        func step() {
            _ = net.trainStep(x, labels: labels)
            opt.step()
        }
        for _ in 0..<3 { step() }
        if gradCost { benchGradientCost(net, opt, x, labels, batch: b); return }
        let t0 = monotonicSeconds()
        var stepSeconds: [Double] = []
        for _ in 0..<steps {
            let ts = monotonicSeconds()
            step()
            stepSeconds.append(monotonicSeconds() - ts)
            for i in fwd.indices { fwd[i] += net.forwardSeconds[i]; bwd[i] += net.backwardSeconds[i] }
        }
        let trainSeconds = monotonicSeconds() - t0
        let trainRate = Double(steps * b) / trainSeconds
        let trainPeakMB = peakResidentMB()
        print(String(format: "nntop %@ train %.1f samples/s", model, trainRate))

        let xi = Tensor(shape: [256] + shape)
        for i in 0..<xi.count { xi[i] = gaussian(&rng) }
        _ = net.predict(xi)
        let n = max(1, steps / 3)
        var ifwd = [Double](repeating: 0, count: net.units.count)
        let t1 = monotonicSeconds()
        for _ in 0..<n {
            _ = net.predict(xi)
            for i in ifwd.indices { ifwd[i] += net.forwardSeconds[i] }
        }
        let inferRate = Double(n * 256) / (monotonicSeconds() - t1)
        print(String(format: "nntop %@ infer %.1f samples/s", model, inferRate))
        print(String(format: "peak memory (max RSS): %.0f MB after training, %.0f MB after inference at batch 256; kernel scratch %.0f MB",
                     trainPeakMB, peakResidentMB(), Double(ScratchPool.shared.allocatedFloats) * 4 / 1_048_576))

        // Nominal FLOPs (zero-padding taps counted, as PyTorch's FLOP counters do).
        let fwdFlops = forwardFlops(net, input: shape)
        let trainFlops = 3 * fwdFlops.total - fwdFlops.first
        let trainG = trainFlops * Double(b) * Double(steps) / trainSeconds / 1e9
        let inferG = fwdFlops.total * inferRate / 1e9
        let peak = noPeak ? 0 : measurePeakGFLOPs(threads: threads)
        func share(_ g: Double) -> String { peak > 0 ? String(format: " (%.0f%% of peak)", 100 * g / peak) : "" }
        print(String(format: "threads %d, batch %d, %d steps; %.1f MFLOP/sample forward, %.1f train (nominal)",
                     threads, b, steps, fwdFlops.total / 1e6, trainFlops / 1e6))
        if peak > 0 { print(String(format: "peak (SIMD16 FMA chain, %d threads): %.1f GFLOP/s", threads, peak)) }
        print(String(format: "achieved: train %.1f GFLOP/s%@, infer %.1f GFLOP/s%@", trainG, share(trainG), inferG, share(inferG)))

        print("")
        print("layer".padded(to: 12) + "     fwd ms     bwd ms   infer ms")
        var sf = 0.0, sb = 0.0, si = 0.0
        for (i, u) in net.units.enumerated() {
            let f = fwd[i] / Double(steps) * 1e3, bk = bwd[i] / Double(steps) * 1e3, inf = ifwd[i] / Double(n) * 1e3
            sf += f; sb += bk; si += inf
            print(String(format: "%@ %10.3f %10.3f %10.3f", u.name.padded(to: 12), f, bk, inf))
        }
        print(String(format: "%@ %10.3f %10.3f %10.3f", "total".padded(to: 12), sf, sb, si))
        // The median and fastest steps shrug off what a busy host adds to a few (A/B runs compare these).
        let sorted = stepSeconds.sorted()
        print(String(format: "step %.3f ms (layers + loss + optimizer); median %.3f ms, fastest %.3f ms",
                     trainSeconds / Double(steps) * 1e3, sorted[sorted.count / 2] * 1e3, sorted[0] * 1e3))
    }
}

/// The process's peak resident set so far (getrusage's ru_maxrss: kilobytes on Linux, bytes on macOS).
private func peakResidentMB() -> Double {
    var u = rusage()
    #if os(Linux)
    getrusage(RUSAGE_SELF.rawValue, &u)
    return Double(u.ru_maxrss) / 1024
    #else
    getrusage(RUSAGE_SELF, &u)
    return Double(u.ru_maxrss) / 1_048_576
    #endif
}

/// Box-Muller standard normal, like torch.randn's distribution.
private func gaussian(_ rng: inout SeededRandom) -> Float {
    let u1 = max(rng.uniform(0, 1), 1e-7), u2 = rng.uniform(0, 1)
    return (-2 * logf(u1)).squareRoot() * cosf(2 * Float.pi * u2)
}

/// Forward FLOPs per sample of the model's convolutions and linear layers (2 per multiply-add), and
/// those of its first layer (whose input gradient training skips).
/// Nominal forward FLOPs of one sample of `input` (2 per multiply-accumulate, as the summary counts
/// them): the whole model's and its first unit's (whose input gradient a training step skips).
private func forwardFlops(_ net: Network, input: [Int]) -> (total: Double, first: Double) {
    let first = net.units.first.map { $0.trace(input).filter(\.used).reduce(0) { $0 + $1.layer.multiplyAccumulates(for: $1.input) } } ?? 0
    return (2 * Double(ModelSummary(net, inputShape: input).totalMACs), 2 * Double(first))
}

/// `--gemm MxNxK[:tA][:tB]`: milliseconds and GFLOP/s of one GEMM shape, best of 20 (a kernel developer's probe).
private func benchGEMM(_ spec: String) {
    let parts = spec.split(separator: ":")
    let d = parts[0].split(separator: "x").compactMap { Int($0) }
    guard d.count == 3 else { fail("--gemm wants MxNxK") }
    let (m, n, k) = (d[0], d[1], d[2]), ta = parts.contains("tA"), tb = parts.contains("tB")
    let a = Tensor(shape: [m * k]), b = Tensor(shape: [k * n]), c = Tensor(shape: [m * n])
    var rng = SeededRandom(seed: 1)
    for i in 0..<a.count { a[i] = rng.uniform(-1, 1) }
    for i in 0..<b.count { b[i] = rng.uniform(-1, 1) }
    func once() {
        gemm(transA: ta, transB: tb, m: m, n: n, k: k, a: a.data, lda: ta ? m : k, b: b.data, ldb: tb ? k : n,
             c: c.data, ldc: n)
    }
    let ms = bestOf20(once)
    print(String(format: "gemm %@ %.3f ms %.1f GFLOP/s (best of 20)", spec, ms, 2 * Double(m * n * k) / ms / 1e6))
}

/// Best of 20 runs of `f`, in milliseconds, after one warm-up run.
private func bestOf20(_ f: () -> Void) -> Double {
    f()
    var best = Double.infinity
    for _ in 0..<20 { let t0 = monotonicSeconds(); f(); best = min(best, monotonicSeconds() - t0) }
    return best * 1e3
}

/// `--pool N,C,H,W[,K,S,P]`: milliseconds of one max pool's forward (with indices) and backward (with a
/// folded ReLU, as LeNet-5 runs it): 2×2 stride 2, or K×K stride S padding P (ceil mode when strided,
/// as GoogLeNet's).
private func benchPool(_ spec: String) {
    let v = spec.split(separator: ",").compactMap { Int($0) }
    guard v.count == 4 || v.count == 7 else { fail("--pool wants N,C,H,W or N,C,H,W,K,S,P") }
    var g = ConvGeometry(batch: v[0], inChannels: v[1], height: v[2], width: v[3], outChannels: v[1],
                         kernel: v.count == 7 ? v[4] : 2, stride: v.count == 7 ? v[5] : 2, padding: v.count == 7 ? v[6] : 0)
    g.ceilMode = v.count == 7 && v[5] > 1
    let x = Tensor(shape: [g.batch * g.inChannels * g.height * g.width]), dx = Tensor(shape: [x.count])
    let y = Tensor(shape: [g.batch * g.inChannels * g.outH * g.outW]), dy = Tensor(shape: [y.count])
    let am = UnsafeMutablePointer<Int32>.allocate(capacity: y.count)
    defer { am.deallocate() }
    var rng = SeededRandom(seed: 1)
    for i in 0..<x.count { x[i] = rng.uniform(-1, 1) }
    for i in 0..<y.count { dy[i] = rng.uniform(-1, 1) }
    let f = bestOf20 { maxPoolForward(x: x.data, geometry: g, y: y.data, argmax: am) }
    let b = bestOf20 { maxPoolBackward(dy: dy.data, argmax: am, geometry: g, dx: dx.data, reluOutput: y.data) }
    print(String(format: "pool %@: fwd %.4f ms, bwd %.4f ms", spec, f, b))
}

/// `--norm N,C,H,W`: milliseconds of one training batch norm's forward (with a ReLU; with a residual added
/// too) and backward through the ReLU, each on copies cycled through 64 MB (as a network meets them).
private func benchNorm(_ spec: String) {
    let v = spec.split(separator: ",").compactMap { Int($0) }
    guard v.count == 4 else { fail("--norm wants N,C,H,W") }
    let s = BatchNormShape(batch: v[0], channels: v[1], planeSize: v[2] * v[3]), count = v[0] * v[1] * v[2] * v[3]
    let copies = max(2, 64 << 20 / (4 * 4 * count))
    var rng = SeededRandom(seed: 1)
    let xs = (0..<copies).map { _ in Tensor(shape: [count]) }, ys = (0..<copies).map { _ in Tensor(shape: [count]) }
    let dys = (0..<copies).map { _ in Tensor(shape: [count]) }, rs = (0..<copies).map { _ in Tensor(shape: [count]) }
    for k in 0..<copies { for i in 0..<count { xs[k][i] = rng.uniform(-1, 2); dys[k][i] = rng.uniform(-1, 1); rs[k][i] = rng.uniform(-1, 1) } }
    let c = s.channels
    let gamma = Tensor(shape: [c]), beta = Tensor(shape: [c]), rm = Tensor(shape: [c]), rv = Tensor(shape: [c])
    let mean = Tensor(shape: [c]), inv = Tensor(shape: [c]), dg = Tensor(shape: [c]), db = Tensor(shape: [c])
    for i in 0..<c { gamma[i] = 1; rv[i] = 1 }
    var i = 0
    func cold(_ f: (Int) -> Void) -> Double { bestOf20 { f(i % copies); i += 1 } }
    let f = cold { k in
        batchNormTrainForward(x: xs[k].data, s: s, gamma: gamma.data, beta: beta.data, eps: 1e-5, momentum: 0.1, runningMean: rm.data,
                              runningVar: rv.data, savedMean: mean.data, savedInvStd: inv.data, y: ys[k].data, relu: true)
    }
    let fr = cold { k in
        batchNormTrainForward(x: xs[k].data, s: s, gamma: gamma.data, beta: beta.data, eps: 1e-5, momentum: 0.1, runningMean: rm.data,
                              runningVar: rv.data, savedMean: mean.data, savedInvStd: inv.data, y: ys[k].data, residual: rs[k].data, relu: true)
    }
    let b = cold { k in
        batchNormReLUBackward(dy: dys[k].data, reluOutput: ys[k].data, x: xs[k].data, s: s, gamma: gamma.data, savedMean: mean.data,
                              savedInvStd: inv.data, dGamma: dg.data, dBeta: db.data, dx: dys[k].data)
    }
    let bi = cold { k in
        batchNormReLUBackwardInPlace(dy: dys[k].data, reluOutput: ys[k].data, x: xs[k].data, s: s, gamma: gamma.data,
                                     beta: beta.data, savedMean: mean.data, savedInvStd: inv.data, dGamma: dg.data, dBeta: db.data)
    }
    print(String(format: "norm %@ (%d copies): fwd+relu %.3f ms, fwd+add+relu %.3f ms, bwd through relu %.3f ms, in place %.3f ms (%.1f MB a tensor)",
                 spec, copies, f, fr, b, bi, Double(4 * count) / 1e6))
}

/// `--conv N,C,H,W,CO,K,S,P`: milliseconds of one convolution's forward, dW and dx passes, each timed on
/// its own (best of 20).
private func benchConv(_ spec: String) {
    let v = spec.split(separator: ",").compactMap { Int($0) }
    guard v.count == 8 else { fail("--conv wants N,C,H,W,CO,K,S,P") }
    let g = ConvGeometry(batch: v[0], inChannels: v[1], height: v[2], width: v[3], outChannels: v[4], kernel: v[5],
                         stride: v[6], padding: v[7])
    let x = Tensor(shape: [g.batch * g.inChannels * g.height * g.width]), w = Tensor(shape: [g.outChannels * g.colRows])
    let y = Tensor(shape: [g.batch * g.outChannels * g.outH * g.outW]), dw = Tensor(shape: [w.count])
    let dx = Tensor(shape: [x.count])
    var rng = SeededRandom(seed: 1)
    for i in 0..<x.count { x[i] = rng.uniform(-1, 1) }
    for i in 0..<w.count { w[i] = rng.uniform(-1, 1) }
    for i in 0..<y.count { y[i] = rng.uniform(-1, 1) }
    let time = bestOf20
    let flops = 2 * Double(g.outChannels * g.colRows * g.colCols)
    let f = time { convForward(x: x.data, weight: w.data, bias: nil, geometry: g, y: y.data) }
    let bw = time { convBackwardWeights(dy: y.data, x: x.data, geometry: g, dWeight: dw.data, dBias: nil) }
    let bx = time { convBackwardData(dy: y.data, weight: w.data, geometry: g, dx: dx.data) }
    print(String(format: "conv %@: fwd %.3f ms, dW %.3f ms, dx %.3f ms (nominal %.1f MFLOP each; fwd %.0f GFLOP/s)",
                 spec, f, bw, bx, flops / 1e6, flops / f / 1e6))
    // The same calls on copies of x, y and dx cycled through 64 MB, as a network's layers meet them: out of cache.
    let copies = max(2, 64 << 20 / (4 * (x.count + y.count + dx.count)))
    let xs = (0..<copies).map { _ in Tensor(shape: [x.count]) }, ys = (0..<copies).map { _ in Tensor(shape: [y.count]) }
    let dxs = (0..<copies).map { _ in Tensor(shape: [x.count]) }
    for i in 0..<copies { xs[i].data.update(from: x.data, count: x.count); ys[i].data.update(from: y.data, count: y.count) }
    var i = 0
    func cold(_ f: (Int) -> Void) -> Double { bestOf20 { f(i % copies); i += 1 } }
    let cf = cold { convForward(x: xs[$0].data, weight: w.data, bias: nil, geometry: g, y: ys[$0].data) }
    let cw = cold { convBackwardWeights(dy: ys[$0].data, x: xs[$0].data, geometry: g, dWeight: dw.data, dBias: nil) }
    let cx = cold { convBackwardData(dy: ys[$0].data, weight: w.data, geometry: g, dx: dxs[$0].data) }
    print(String(format: "  out of cache (%d copies): fwd %.3f ms, dW %.3f ms, dx %.3f ms", copies, cf, cw, cx))
}

/// `--fill`: microseconds to fill one training batch from MNIST (the data side of every step), without
/// and with crop,flip augmentation, best of 200, so its share of a step can be read off `bench`'s step time.
private func benchFill(batch b: Int) {
    guard let dir = MNIST.defaultDirectory(), let (train, test) = try? MNIST.load(directory: dir),
          let data = try? DataSplits(train: train, test: test, validationSize: 0, trainLimit: nil) else { fail("cannot read the bundled MNIST") }
    let x = Tensor(shape: [b] + data.spec.inputShape)
    let labels = UnsafeMutablePointer<Int32>.allocate(capacity: b)
    defer { labels.deallocate() }
    let aug = Augmentation(crop: true, flip: true, pad: 4, seed: 1)
    var pos = 0
    func time(_ augmentation: Augmentation?) -> Double {
        var best = Double.infinity
        for _ in 0..<200 {
            let items = (pos..<pos + b).map { $0 % data.train.count }
            let t0 = monotonicSeconds()
            data.train.fill(items: items[...], x: x, labels: labels, augmentation: augmentation, epoch: 1, firstPosition: pos)
            best = min(best, monotonicSeconds() - t0)
            pos += b
        }
        return best * 1e6
    }
    print(String(format: "fill batch %d (1×32×32): %.1f µs plain, %.1f µs with crop,flip (best of 200)", b, time(nil), time(aug)))
}
