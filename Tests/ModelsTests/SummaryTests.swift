import XCTest
@testable import Models

/// `ModelSummary` against numbers derived independently in PyTorch from the reference modules
/// (../shared/reference/torch_models.py) with `python3 scripts/torch_interop.py summary MODEL [--no-residual]`
/// (torch 2.13.0+cpu): forward hooks on every leaf module plus wrappers around the functional ops the
/// modules call (F.relu, F.max_pool2d, F.adaptive_avg_pool2d) record each output shape of one zero
/// 1x1x32x32 sample in execution order; MACs per fvcore's convention (conv Cout*OH*OW*Cin*K*K,
/// linear in*out, everything else 0); parameters as numel(); activation bytes = 4 x the elements of
/// every recorded output. The rows below are that script's output, pasted.
final class SummaryTests: XCTestCase {
    typealias Expected = (name: String, shape: [Int], params: Int, macs: Int)

    // python3 scripts/torch_interop.py summary lenet5
    static let lenet5: [Expected] = [
        ("conv1", [6, 28, 28], 156, 117_600),
        ("F.relu", [6, 28, 28], 0, 0),
        ("F.max_pool2d", [6, 14, 14], 0, 0),
        ("conv2", [16, 10, 10], 2_416, 240_000),
        ("F.relu", [16, 10, 10], 0, 0),
        ("F.max_pool2d", [16, 5, 5], 0, 0),
        ("fc1", [120], 48_120, 48_000),
        ("F.relu", [120], 0, 0),
        ("fc2", [84], 10_164, 10_080),
        ("F.relu", [84], 0, 0),
        ("fc3", [10], 850, 840),
    ]

    // python3 scripts/torch_interop.py summary resnet18 (residual on). F.adaptive_avg_pool2d's [512, 1, 1]
    // is followed by torch.flatten; nntop's GlobalAvgPool does both, so its row shows [512].
    static let resnet18: [Expected] = [
        ("conv1", [64, 16, 16], 3_200, 802_816),
        ("bn1", [64, 16, 16], 128, 0),
        ("F.relu", [64, 16, 16], 0, 0),
        ("maxpool", [64, 8, 8], 0, 0),
        ("layer1.0.conv1", [64, 8, 8], 36_864, 2_359_296),
        ("layer1.0.bn1", [64, 8, 8], 128, 0),
        ("F.relu", [64, 8, 8], 0, 0),
        ("layer1.0.conv2", [64, 8, 8], 36_864, 2_359_296),
        ("layer1.0.bn2", [64, 8, 8], 128, 0),
        ("F.relu", [64, 8, 8], 0, 0),
        ("layer1.1.conv1", [64, 8, 8], 36_864, 2_359_296),
        ("layer1.1.bn1", [64, 8, 8], 128, 0),
        ("F.relu", [64, 8, 8], 0, 0),
        ("layer1.1.conv2", [64, 8, 8], 36_864, 2_359_296),
        ("layer1.1.bn2", [64, 8, 8], 128, 0),
        ("F.relu", [64, 8, 8], 0, 0),
        ("layer2.0.conv1", [128, 4, 4], 73_728, 1_179_648),
        ("layer2.0.bn1", [128, 4, 4], 256, 0),
        ("F.relu", [128, 4, 4], 0, 0),
        ("layer2.0.conv2", [128, 4, 4], 147_456, 2_359_296),
        ("layer2.0.bn2", [128, 4, 4], 256, 0),
        ("layer2.0.downsample.0", [128, 4, 4], 8_192, 131_072),
        ("layer2.0.downsample.1", [128, 4, 4], 256, 0),
        ("F.relu", [128, 4, 4], 0, 0),
        ("layer2.1.conv1", [128, 4, 4], 147_456, 2_359_296),
        ("layer2.1.bn1", [128, 4, 4], 256, 0),
        ("F.relu", [128, 4, 4], 0, 0),
        ("layer2.1.conv2", [128, 4, 4], 147_456, 2_359_296),
        ("layer2.1.bn2", [128, 4, 4], 256, 0),
        ("F.relu", [128, 4, 4], 0, 0),
        ("layer3.0.conv1", [256, 2, 2], 294_912, 1_179_648),
        ("layer3.0.bn1", [256, 2, 2], 512, 0),
        ("F.relu", [256, 2, 2], 0, 0),
        ("layer3.0.conv2", [256, 2, 2], 589_824, 2_359_296),
        ("layer3.0.bn2", [256, 2, 2], 512, 0),
        ("layer3.0.downsample.0", [256, 2, 2], 32_768, 131_072),
        ("layer3.0.downsample.1", [256, 2, 2], 512, 0),
        ("F.relu", [256, 2, 2], 0, 0),
        ("layer3.1.conv1", [256, 2, 2], 589_824, 2_359_296),
        ("layer3.1.bn1", [256, 2, 2], 512, 0),
        ("F.relu", [256, 2, 2], 0, 0),
        ("layer3.1.conv2", [256, 2, 2], 589_824, 2_359_296),
        ("layer3.1.bn2", [256, 2, 2], 512, 0),
        ("F.relu", [256, 2, 2], 0, 0),
        ("layer4.0.conv1", [512, 1, 1], 1_179_648, 1_179_648),
        ("layer4.0.bn1", [512, 1, 1], 1_024, 0),
        ("F.relu", [512, 1, 1], 0, 0),
        ("layer4.0.conv2", [512, 1, 1], 2_359_296, 2_359_296),
        ("layer4.0.bn2", [512, 1, 1], 1_024, 0),
        ("layer4.0.downsample.0", [512, 1, 1], 131_072, 131_072),
        ("layer4.0.downsample.1", [512, 1, 1], 1_024, 0),
        ("F.relu", [512, 1, 1], 0, 0),
        ("layer4.1.conv1", [512, 1, 1], 2_359_296, 2_359_296),
        ("layer4.1.bn1", [512, 1, 1], 1_024, 0),
        ("F.relu", [512, 1, 1], 0, 0),
        ("layer4.1.conv2", [512, 1, 1], 2_359_296, 2_359_296),
        ("layer4.1.bn2", [512, 1, 1], 1_024, 0),
        ("F.relu", [512, 1, 1], 0, 0),
        ("F.adaptive_avg_pool2d", [512, 1, 1], 0, 0),
        ("fc", [10], 5_130, 5_120),
    ]

    /// Compares nntop's rows that run (views excluded: PyTorch's torch.flatten is not recorded) with
    /// PyTorch's, in order: module rows by name and shape, functional rows by the kind of op and shape.
    func assertRows(_ s: ModelSummary, _ expected: [Expected], file: StaticString = #filePath, line: UInt = #line) {
        let rows = s.rows.filter { $0.used && !$0.isView }
        XCTAssertEqual(rows.count, expected.count, "row count", file: file, line: line)
        for (r, e) in zip(rows, expected) {
            let shape = e.name == "F.adaptive_avg_pool2d" ? [e.shape.reduce(1, *)] : e.shape
            if e.name.hasPrefix("F.") {
                let kinds = ["F.relu": "ReLU", "F.max_pool2d": "MaxPool2d", "F.adaptive_avg_pool2d": "AdaptiveAvgPool"]
                XCTAssertTrue(r.kind.hasPrefix(kinds[e.name]!), "\(r.name) is \(r.kind), PyTorch runs \(e.name) here", file: file, line: line)
            } else {
                XCTAssertEqual(r.name, e.name, file: file, line: line)
            }
            XCTAssertEqual(r.outputShape, shape, "\(r.name) shape", file: file, line: line)
            XCTAssertEqual(r.parameters, e.params, "\(r.name) parameters", file: file, line: line)
            XCTAssertEqual(r.macs, e.macs, "\(r.name) MACs", file: file, line: line)
        }
    }

    func testLeNet5MatchesPyTorch() throws {
        let s = ModelSummary(try XCTUnwrap(ModelZoo.make("lenet5")))
        assertRows(s, Self.lenet5)
        // PyTorch: total parameters 61,706; total MACs 416,520; 14,602 floats = 58,408 bytes.
        XCTAssertEqual(s.totalParameters, 61_706)
        XCTAssertEqual(s.totalMACs, 416_520)
        XCTAssertEqual(s.activationBytes, 58_408)
        XCTAssertEqual(s.unusedParameters, 0)
        XCTAssertNil(s.residual)
        // The flatten row is there, as a view of pool2's 16x5x5.
        let flatten = try XCTUnwrap(s.rows.first { $0.name == "flatten" })
        XCTAssertEqual(flatten.outputShape, [400]); XCTAssertTrue(flatten.isView)
    }

    func testResNet18WithResidualsMatchesPyTorch() throws {
        let s = ModelSummary(try XCTUnwrap(ModelZoo.make("resnet18", residual: true)))
        assertRows(s, Self.resnet18)
        // PyTorch: total parameters 11,175,434; total MACs 35,410,944; 153,098 floats = 612,392 bytes.
        XCTAssertEqual(s.totalParameters, 11_175_434)
        XCTAssertEqual(s.totalMACs, 35_410_944)
        XCTAssertEqual(s.activationBytes, 612_392)
        XCTAssertEqual(s.unusedParameters, 0)
        XCTAssertEqual(s.rows.map(\.name).filter { $0.contains("downsample") }.count, 6)
    }

    func testResNet18WithoutResidualsShowsUnusedShortcutsAndDoesNotCountThem() throws {
        let s = ModelSummary(try XCTUnwrap(ModelZoo.make("resnet18", residual: false)))
        // PyTorch with set_residual(False): the same rows minus the six projection modules, which do not
        // run ("modules that did not run": layer{2,3,4}.0.downsample.{0,1}); total parameters 11,175,434
        // (173,824 of them in those modules); total MACs 35,017,728; 145,930 floats = 583,720 bytes.
        assertRows(s, Self.resnet18.filter { !$0.name.contains("downsample") })
        XCTAssertEqual(s.totalParameters, 11_175_434)
        XCTAssertEqual(s.unusedParameters, 173_824)
        XCTAssertEqual(s.totalMACs, 35_017_728)
        XCTAssertEqual(s.activationBytes, 583_720)
        let unused = s.rows.filter { !$0.used }.map(\.name)
        XCTAssertEqual(unused, ["layer2.0.downsample.0", "layer2.0.downsample.1", "layer3.0.downsample.0",
                                "layer3.0.downsample.1", "layer4.0.downsample.0", "layer4.0.downsample.1"])
        XCTAssertEqual(s.residual, false)
        let table = s.table()
        XCTAssertTrue(table.contains("unused"))
        XCTAssertTrue(table.contains("35,017,728"), table)
    }

    func testTableListsEveryLayerAndTheTotals() throws {
        let s = ModelSummary(try XCTUnwrap(ModelZoo.make("resnet18")))
        let table = s.table()
        for r in s.rows { XCTAssertTrue(table.contains(r.name), "table lacks \(r.name)") }
        for needle in ["11,175,434", "35,410,944", "612,392", "layer1.0.conv1", "[512, 1, 1]"] {
            XCTAssertTrue(table.contains(needle), "table lacks \(needle)")
        }
    }

    /// The columns line up: every layer line of LeNet-5's table is as long as the header, and its
    /// numbers end where the header's "Params" and "MACs" end.
    func testTableColumnsLineUp() throws {
        let lines = ModelSummary(try XCTUnwrap(ModelZoo.make("lenet5"))).table().split(separator: "\n").map(String.init)
        let header = try XCTUnwrap(lines.first { $0.hasPrefix("Layer") })
        let rows = lines.filter { $0.hasPrefix("conv") || $0.hasPrefix("fc") || $0.hasPrefix("pool") || $0.hasPrefix("relu") }
        XCTAssertGreaterThanOrEqual(rows.count, 5, lines.joined(separator: "\n"))
        // In characters, not String indices: the rows hold multi-byte "→" and "×".
        let paramsEnd = header.distance(from: header.startIndex, to: try XCTUnwrap(header.range(of: "Params")).upperBound)
        for r in rows {
            XCTAssertEqual(r.count, header.count, r)
            XCTAssertNotEqual(Array(r)[paramsEnd - 1], " ", "params column misaligned: \(r)")
            XCTAssertEqual(Array(r)[paramsEnd], " ", "params column misaligned: \(r)")
        }
        let fc1 = try XCTUnwrap(rows.first { $0.hasPrefix("fc1") })
        XCTAssertTrue(String(Array(fc1)[..<paramsEnd]).hasSuffix(" 48,120"), fc1)
    }

    func testPaddedWidensWithoutCutting() {
        XCTAssertEqual("ab".padded(to: 5), "ab   ")
        XCTAssertEqual("ab".padded(to: 5, right: true), "   ab")
        XCTAssertEqual("abcdef".padded(to: 3), "abcdef")
        XCTAssertEqual("ab".padded(to: 0, right: true), "ab")
    }
}
