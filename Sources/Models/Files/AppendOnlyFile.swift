import Foundation

/// A log file opened for appending and written one whole record per call with write(2), unbuffered:
/// a killed process loses at most the record being written. The first error is remembered and ends
/// writing; it never throws at the caller, so a full disk cannot stop a training run.
final class AppendOnlyFile {
    let path: String
    private let lock = NSLock()
    private var fd: Int32 = -1
    private var failure: String?

    /// The first error (opening or writing), after which nothing more is written.
    var error: String? { lock.lock(); defer { lock.unlock() }; return failure }

    init(path: String) {
        self.path = path
        fd = open(path, O_WRONLY | O_CREAT | O_APPEND, 0o644)
        if fd < 0 { failure = "cannot open \(path): \(String(cString: strerror(errno)))" }
    }

    deinit { if fd >= 0 { close(fd) } }

    func append(_ bytes: [UInt8]) {
        lock.lock(); defer { lock.unlock() }
        guard failure == nil, fd >= 0 else { return }
        var done = 0
        while done < bytes.count {
            let n = bytes.withUnsafeBytes { Foundation.write(fd, $0.baseAddress! + done, $0.count - done) }
            if n < 0 {
                if errno == EINTR { continue }
                failure = "cannot write \(path): \(String(cString: strerror(errno)))"
                return
            }
            done += n
        }
    }
}
