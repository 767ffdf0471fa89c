import Foundation

/// One decoded image: `channels` planes of rows × cols bytes (channel-planar, as ImageSet holds them).
public struct PlanarImage: Equatable, Sendable {
    public var channels: Int, rows: Int, cols: Int
    public var pixels: [UInt8]
    public init(channels: Int, rows: Int, cols: Int, pixels: [UInt8]) {
        precondition(pixels.count == channels * rows * cols, "pixel bytes do not match the size")
        self.channels = channels; self.rows = rows; self.cols = cols; self.pixels = pixels
    }
}


extension ImageSpec {
    /// `images` as an ImageSet of this spec's stored size and channels (labels 0, unused): grey is
    /// repeated into each colour channel, colour made grey by ITU-R 601 luma (PIL's convert("L")).
    /// An image of another size is resized to the stored size first (antialiased bilinear, as folders are).
    public func imageSet(_ images: [(name: String, image: PlanarImage)]) throws -> ImageSet {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(images.count * channels * storedHeight * storedWidth)
        for (name, given) in images {
            // Another size is resized to the one the model was trained on, as an image folder's images are.
            var im = given
            if im.rows != storedHeight || im.cols != storedWidth {
                im = PlanarImage(channels: im.channels, rows: storedHeight, cols: storedWidth,
                                 pixels: Resize.planes(im.pixels, planes: im.channels, width: im.cols, height: im.rows,
                                                       toWidth: storedWidth, toHeight: storedHeight))
            }
            let plane = im.rows * im.cols
            switch (im.channels, channels) {
            case let (a, b) where a == b: bytes += im.pixels
            case (1, _): for _ in 0..<channels { bytes += im.pixels }
            case (3, 1):
                for i in 0..<plane {
                    let (r, g, b) = (Int(im.pixels[i]), Int(im.pixels[plane + i]), Int(im.pixels[2 * plane + i]))
                    bytes.append(UInt8((r * 299 + g * 587 + b * 114 + 500) / 1000))
                }
            default:
                throw DataError("\(name): has \(im.channels) channels, the model takes \(channels)")
            }
        }
        return ImageSet(images: bytes, labels: Array(repeating: 0, count: images.count), channels: channels,
                        rows: storedHeight, cols: storedWidth, classNames: classNames)
    }
}

/// The k most probable classes, highest first (ties in class order, as argmax breaks them).
public func topClasses(_ probabilities: [Float], k: Int) -> [(index: Int, probability: Float)] {
    let order = probabilities.indices.sorted { probabilities[$0] != probabilities[$1] ? probabilities[$0] > probabilities[$1] : $0 < $1 }
    return order.prefix(k).map { ($0, probabilities[$0]) }
}
