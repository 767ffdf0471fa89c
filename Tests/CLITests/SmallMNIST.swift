import Foundation
@testable import Models

/// A smaller MNIST for CLI runs of big models: the first `train` training and `test` test digits of
/// the bundled set as raw idx files in a temporary folder (read in this process: no child to wait on).
enum SmallMNIST {
    static func make(train trainCount: Int, test testCount: Int) -> String {
        let (train, test) = try! MNIST.load(directory: MNIST.defaultDirectory()!)
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("nntop-small-mnist-\(UUID().uuidString)").path
        try! FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        func write(_ set: ImageSet, _ n: Int, images: String, labels: String) {
            func be(_ v: Int) -> [UInt8] { (0..<4).map { UInt8((v >> (24 - 8 * $0)) & 0xFF) } }
            let img = [0, 0, 8, 3] + be(n) + be(28) + be(28) + set.images.prefix(n * 784)
            let lab = [0, 0, 8, 1] + be(n) + set.labels.prefix(n).map { UInt8($0) }
            _ = FileManager.default.createFile(atPath: dir + "/" + images, contents: Data(img))
            _ = FileManager.default.createFile(atPath: dir + "/" + labels, contents: Data(lab))
        }
        write(train, trainCount, images: MNIST.fileStems.trainImages, labels: MNIST.fileStems.trainLabels)
        write(test, testCount, images: MNIST.fileStems.testImages, labels: MNIST.fileStems.testLabels)
        return dir
    }
}
