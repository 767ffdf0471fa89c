import TUI

/// Test data built by hand (no values taken from the code under test).
enum Fixtures {
    /// A '1': a vertical bar of ink in pixel columns 12...15, rows 4...23.
    static func one() -> [UInt8] {
        var px = [UInt8](repeating: 0, count: 784)
        for y in 4...23 { for x in 12...15 { px[y * 28 + x] = 255 } }
        return px
    }

    static func model(state: RunState = .running) -> DashboardModel {
        var loss: [SeriesPoint] = []
        for i in 0..<200 { loss.append(SeriesPoint(x: Double(i), y: 2.5 - Double(i) / 100)) }
        let acc = (0..<20).map { SeriesPoint(x: Double($0 * 10), y: 50 + Double($0) * 2) }
        var conf = [[Int]](repeating: [Int](repeating: 0, count: 10), count: 10)
        for r in 0..<10 { conf[r][r] = 900 + r; conf[r][(r + 1) % 10] = 7 }
        return DashboardModel(
            model: "resnet18", residual: true, state: state, epoch: 2, epochs: 10, step: 1234, totalSteps: 5000,
            etaSeconds: 192, lr: 0.0125, samplesPerSecond: 4321, threads: 8, trainLoss: loss, trainAcc: acc,
            valAcc: acc, testAcc: [], markers: [Marker(step: 100, label: "lr 0.02")],
            layers: [LayerTiming(name: "conv1", forwardMs: 1, backwardMs: 2),
                     LayerTiming(name: "layer4.1.conv2", forwardMs: 4, backwardMs: 8),
                     LayerTiming(name: "fc", forwardMs: 0.5, backwardMs: 0.5)],
            samples: [DigitSample(pixels: one(), label: 1, predicted: 1, confidence: 0.97).image,
                      DigitSample(pixels: one(), label: 7, predicted: 1, confidence: 0.51).image],
            mistakes: [DigitSample(pixels: one(), label: 7, predicted: 1, confidence: 0.51).image],
            confusion: conf, status: "")
    }
}

extension CellBuffer {
    /// Every cell's text, for "nothing but ASCII" checks.
    var allText: String { (0..<height).map { row($0) }.joined() }
}
