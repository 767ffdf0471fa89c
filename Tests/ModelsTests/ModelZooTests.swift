import Foundation
import XCTest
@testable import Kernels
@testable import Models

/// The registry and the tools that walk a model's layer tree, for every model it lists: the numbers
/// here are PyTorch's (scripts/torch_summary.py prints them from torch_models.py), never nntop's.
final class ModelZooTests: XCTestCase {
    /// (model, PyTorch parameters for 10 classes, MACs per sample with residuals on, off, state_dict
    /// entries, FNV-1a 64 of the comma-joined state_dict names) at the model's natural input.
    static let pytorch: [(String, Int, Int, Int, Int, UInt64)] = [
        ("lenet5", 61_706, 416_520, 416_520, 10, 0x80471e0ae87a4286),
        ("resnet18", 11_175_434, 35_410_944, 35_017_728, 123, 0x909e16c11832347b),
        ("resnet34", 21_289_802, 3_663_254_528, 3_643_986_944, 218, 0xe4cd3c9c1506d6d7),
        ("resnet50", 23_528_522, 4_087_156_736, 3_727_495_168, 320, 0x09523cc0c767e259),
        ("resnet101", 42_520_650, 7_799_377_920, 7_439_716_352, 626, 0x6244fd4d2a286d2e),
        ("resnet152", 58_164_298, 11_511_599_104, 11_151_937_536, 932, 0xde75d4dfbdb1a2d1),
        ("resnet20-cifar", 272_474, 40_813_184, 40_551_040, 128, 0x77b2893914241107),
        ("resnet32-cifar", 466_906, 69_124_736, 68_862_592, 200, 0x57d0fadc10ea8833),
        ("resnet44-cifar", 661_338, 97_436_288, 97_174_144, 272, 0x702403a21536594f),
        ("resnet56-cifar", 855_770, 125_747_840, 125_485_696, 344, 0xc0c49a3efcbc20cb),
        ("resnet110-cifar", 1_730_714, 253_149_824, 252_887_680, 668, 0x67861dbfea7f30fd),
    ]

    static func fnv1a64(_ s: String) -> UInt64 {
        s.utf8.reduce(0xcbf2_9ce4_8422_2325 as UInt64) { ($0 ^ UInt64($1)) &* 0x100_0000_01b3 }
    }

    /// Every registered model has PyTorch's numbers: in the table above, or (AlexNet, VGG, GoogLeNet)
    /// in zoo2_counts.json, which ZooReferenceTests checks.
    func testEveryModelIsListedWithPyTorchsNumbers() throws {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/zoo2_counts.json")
        let others = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: url)) as? [String: Any]).keys
        XCTAssertEqual(Set(ModelZoo.names), Set(Self.pytorch.map(\.0)).union(others))
        XCTAssertEqual(ModelZoo.names.count, Self.pytorch.count + others.count, "a model listed twice")
    }

    /// Parameters, MACs (residual on and off) and state_dict names equal PyTorch's, and the registry's
    /// capability agrees with the built network, for every model at its natural input.
    func testSummaryAndStateNamesMatchPyTorchForEveryModel() throws {
        for (name, params, macsOn, macsOff, entries, fingerprint) in Self.pytorch {
            let spec = try XCTUnwrap(ModelZoo.spec(name))
            let net = try XCTUnwrap(ModelZoo.make(name, inChannels: spec.input[0]))
            XCTAssertEqual(net.name, name)
            XCTAssertEqual(net.residual != nil, spec.hasResidualSwitch, name)
            let on = ModelSummary(net, inputShape: spec.input)
            XCTAssertEqual(on.totalParameters, params, name)
            XCTAssertEqual(net.parameterCount, params, name)
            XCTAssertEqual(on.totalMACs, macsOn, "\(name) MACs")
            XCTAssertEqual(on.rows.last?.outputShape, [10], name)
            XCTAssertEqual(net.state.count, entries, "\(name) state_dict entries")
            XCTAssertEqual(Self.fnv1a64(net.state.map(\.name).joined(separator: ",")), fingerprint, "\(name) state_dict names")
            // Every leaf with weights shows in the summary exactly once.
            XCTAssertEqual(on.rows.filter { $0.parameters > 0 }.map(\.name),
                           net.leaves.filter { !$0.parameters.isEmpty }.map(\.name).sorted { a, b in
                               on.rows.firstIndex { $0.name == a }! < on.rows.firstIndex { $0.name == b }! }, name)
            if spec.hasResidualSwitch {
                net.residual = false
                let off = ModelSummary(net, inputShape: spec.input)
                XCTAssertEqual(off.totalMACs, macsOff, "\(name) MACs without residuals")
                XCTAssertEqual(off.totalParameters, params)
                XCTAssertGreaterThan(off.unusedParameters, 0)
                XCTAssertTrue(off.rows.filter { !$0.used }.allSatisfy { $0.name.contains(".downsample.") }, name)
            } else {
                XCTAssertEqual(macsOn, macsOff)
            }
        }
    }

    /// torchvision's ResNet-50 for ImageNet: 25,557,032 parameters for 3 channels and 1,000 classes.
    func testResNet50ForImageNetHasTorchvisionsParameterCount() throws {
        let net = try XCTUnwrap(ModelZoo.make("resnet50", inChannels: 3, classes: 1000))
        XCTAssertEqual(net.parameterCount, 25_557_032)
        XCTAssertEqual(ModelSummary(net, inputShape: [3, 224, 224]).totalMACs, 4_089_184_256)
    }

    /// The residual switch on the live model, for a model of each block kind: off changes the output,
    /// on again gives it back bit for bit, and the projection weights keep their values throughout.
    func testResidualTogglesOnEveryKindOfResNet() throws {
        for name in ["resnet20-cifar", "resnet34", "resnet50"] {
            let net = try XCTUnwrap(ModelZoo.make(name, inChannels: 3, seed: 3))
            let projections = net.leaves.compactMap { $0 as? Conv2d }.filter { $0.name.contains(".downsample.") }
            XCTAssertFalse(projections.isEmpty, name)
            let before = projections.map(\.weight.value.array)
            let x = Tensor(shape: [2, 3, 32, 32])
            for i in 0..<x.count { x[i] = Float(i % 7) - 3 }
            let on = net.forward(x, training: false).array
            net.residual = false
            XCTAssertTrue(projections.allSatisfy { !$0.weight.inUse }, name)
            let off = net.forward(x, training: false).array
            XCTAssertNotEqual(on, off, name)
            net.residual = true
            XCTAssertTrue(projections.allSatisfy(\.weight.inUse), name)
            XCTAssertEqual(net.forward(x, training: false).array, on, name)
            XCTAssertEqual(projections.map(\.weight.value.array), before, name)
        }
    }

    /// A checkpoint of each kind of ResNet loads into a fresh model of another seed and restores every
    /// tensor under PyTorch's names (residual flag included).
    func testCheckpointRoundTripForEachKindOfResNet() throws {
        let dir = NSTemporaryDirectory() + "nntop-zoo-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        for name in ["resnet20-cifar", "resnet34", "resnet50"] {
            let a = try XCTUnwrap(ModelZoo.make(name, seed: 1)), b = try XCTUnwrap(ModelZoo.make(name, seed: 2))
            for case let bn as BatchNorm2d in a.leaves { bn.runningMean.fill(0.25); bn.batchesTracked[0] = 3 }
            a.residual = false
            let path = dir + "/\(name).safetensors"
            try Checkpoint.save(a, to: path)
            XCTAssertNotEqual(a.state.map(\.tensor.array), b.state.map(\.tensor.array))
            _ = try Checkpoint.load(path, into: b)
            XCTAssertEqual(a.state.map(\.tensor.array), b.state.map(\.tensor.array), name)
            XCTAssertEqual(b.residual, false, name)
            let file = try SafetensorsFile(path: path)
            XCTAssertEqual(Set(file.names.filter { !$0.hasPrefix("optimizer.") }), Set(a.state.map(\.name)), name)
        }
    }
}
