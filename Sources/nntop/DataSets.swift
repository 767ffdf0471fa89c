import Foundation
import Models

/// The one place the command line turns --dataset/--data/--image-size into image sets. The image
/// readers (CIFAR binary, PNG/JPEG folders: DataSource.load) plug in here; until they do, the idx
/// formats are read and the others refused with one line.
enum DataSets {
    static let names = ["mnist", "fashion-mnist", "cifar10", "cifar100", "folder"]
    static let fashionNames = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt",
                               "Sneaker", "Bag", "Ankle boot"]

    struct Loaded { var train: ImageSet; var test: ImageSet; var description: String }

    static func load(dataset: String, directory: String?, imageSize: Int?, testOnly: Bool = false) throws -> Loaded {
        switch dataset {
        case "mnist", "fashion-mnist":
            guard let dir = directory ?? (dataset == "mnist" ? MNIST.defaultDirectory() : nil) else {
                throw DataError(dataset == "mnist"
                    ? "cannot find the bundled assets/mnist; run from the repository or pass --data DIR (a folder with the four MNIST idx files)"
                    : "--dataset fashion-mnist needs --data DIR (a folder with Fashion-MNIST's four idx files)")
            }
            // `eval` and `predict` need no training set: the test set stands in for it.
            var train: ImageSet?, test: ImageSet
            if testOnly { test = try MNIST.loadTest(directory: dir) } else { (train, test) = try MNIST.load(directory: dir) }
            if let imageSize, imageSize != 28 {
                throw DataError("--image-size \(imageSize): resizing comes with the image readers; \(dataset) is used at 28×28")
            }
            if dataset == "fashion-mnist" {
                train = train.map { renamed($0, fashionNames) }; test = renamed(test, fashionNames)
            }
            return Loaded(train: train ?? test, test: test, description: "")
        default:
            throw DataError("--dataset \(dataset): this build reads only MNIST-format idx files (mnist, fashion-mnist); the CIFAR and image-folder readers are not in it yet")
        }
    }

    static func renamed(_ s: ImageSet, _ names: [String]) -> ImageSet {
        ImageSet(images: s.images, labels: s.labels, channels: s.channels, rows: s.rows, cols: s.cols, classNames: names)
    }
}

/// "0.5,0.4,0.3" → [0.5, 0.4, 0.3]; nil if any part is not a number.
func parseFloats(_ s: String) -> [Float]? {
    let parts = s.split(separator: ",", omittingEmptySubsequences: false).map { Float($0.trimmingCharacters(in: .whitespaces)) }
    guard !parts.isEmpty, parts.allSatisfy({ $0 != nil }) else { return nil }
    return parts.map { $0! }
}
