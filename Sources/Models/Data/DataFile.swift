import Foundation

/// Reading a data file whole, with the reason in the error when it cannot be read.
enum DataFile {
    /// A file bigger than this is not one image or one CIFAR batch (the largest, CIFAR-100's train.bin, is 154 MB).
    static let maxBytes = 1 << 30

    static func read(_ path: String) throws -> [UInt8] {
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else { throw DataError("\(path): cannot be read (\(String(cString: strerror(errno))))") }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw DataError("\(path): cannot be read (\(String(cString: strerror(errno))))") }
        guard (st.st_mode & S_IFMT) == S_IFREG else { throw DataError("\(path): is not a regular file") }
        let size = Int(st.st_size)
        guard size <= maxBytes else { throw DataError("\(path): \(size >> 20) MB is too large for a data file") }
        var bytes = [UInt8](repeating: 0, count: size)
        var done = 0
        try bytes.withUnsafeMutableBytes { b in
            while done < size {
                let n = Foundation.read(fd, b.baseAddress! + done, size - done)
                if n < 0 && errno == EINTR { continue }
                guard n >= 0 else { throw DataError("\(path): cannot be read (\(String(cString: strerror(errno))))") }
                if n == 0 { break }
                done += n
            }
        }
        return done == size ? bytes : Array(bytes[..<done])
    }
}
