import Foundation
import Models

/// The one place the command line turns --dataset/--data/--image-size into image sets.
enum DataSets {
    static let names = DataKind.allCases.map(\.rawValue)

    struct Loaded { var train: ImageSet; var test: ImageSet; var description: String }

    /// What --data holds when --dataset does not say: detected, else MNIST (whose loader then says
    /// what is missing).
    static func kind(dataset: String?, directory: String?) -> String {
        dataset ?? directory.flatMap { DataSource.detect(directory: $0)?.kind.rawValue } ?? DataKind.mnist.rawValue
    }

    /// Reads the data set. A single-folder image set holds out its test images with a fixed seed (not
    /// the run's), so `eval` and every run on that folder test on the same images. `testOnly` callers
    /// (eval, predict) use `test`.
    static func load(dataset: String, directory: String?, imageSize: Int?, testOnly: Bool = false,
                     progress: ((Double) -> Void)? = nil) throws -> Loaded {
        guard let dir = directory ?? (dataset == "mnist" ? MNIST.defaultDirectory() : nil) else {
            throw DataError(dataset == "mnist"
                ? "cannot find the bundled assets/mnist; run from the repository or pass --data DIR (a folder with the four MNIST idx files)"
                : "--dataset \(dataset) needs --data DIR (the folder that holds it)")
        }
        if testOnly && directory == nil && imageSize == nil {
            // The bundled MNIST's test set alone (eval needs no training set).
            let test = try MNIST.loadTest(directory: dir)
            return Loaded(train: test, test: test, description: "")
        }
        let loaded = try DataSource.load(directory: dir, kind: DataKind(rawValue: dataset), imageSize: imageSize, progress: progress)
        return Loaded(train: loaded.train, test: loaded.test, description: loaded.description)
    }
}

/// "0.5,0.4,0.3" → [0.5, 0.4, 0.3]; nil if any part is not a number.
func parseFloats(_ s: String) -> [Float]? {
    let parts = s.split(separator: ",", omittingEmptySubsequences: false).map { Float($0.trimmingCharacters(in: .whitespaces)) }
    guard !parts.isEmpty, parts.allSatisfy({ $0 != nil }) else { return nil }
    return parts.map { $0! }
}
