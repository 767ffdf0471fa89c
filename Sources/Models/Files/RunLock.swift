import Foundation

/// The lock a training run holds on its run folder for as long as its process lives: an exclusive
/// `flock(2)` on `run.lock` in the folder. A second writer is refused; the kernel drops the lock
/// when the process ends however it ends (kill -9 included), so a killed run never blocks the
/// next one, and a reader (`nntop runs`, `nntop view`) tells a live run from a killed one by
/// whether the lock is held, not by how recently the log changed.
///
/// The file itself stays behind (it holds the holder's pid, for messages only): its presence
/// means nothing, only the lock on it does.
public final class RunLock {
    public static let fileName = "run.lock"

    public let directory: String
    public var path: String { Self.path(in: directory) }
    private var fd: Int32

    /// Why the lock could not be taken; the description names the folder.
    public struct Failure: Error, CustomStringConvertible, Equatable {
        /// The folder is locked by a live process (its pid, when the lock file says it).
        public var heldBy: Int32?
        public var isHeld: Bool
        public var description: String
    }

    /// Takes the folder's lock without waiting (the folder must exist). Throws when another
    /// process holds it, or the lock file cannot be opened.
    public init(directory: String) throws {
        self.directory = directory
        let path = Self.path(in: directory)
        fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else {
            throw Failure(heldBy: nil, isHeld: false, description: "cannot open \(path): \(String(cString: strerror(errno)))")
        }
        var r: Int32
        repeat { r = flock(fd, LOCK_EX | LOCK_NB) } while r != 0 && errno == EINTR
        guard r == 0 else {
            let busy = errno == EWOULDBLOCK
            let why = String(cString: strerror(errno))
            close(fd); fd = -1
            if busy {
                let pid = Self.holder(directory: directory)
                throw Failure(heldBy: pid, isHeld: true,
                              description: "run folder \(directory) is in use by another nntop run\(pid.map { " (pid \($0))" } ?? "")")
            }
            throw Failure(heldBy: nil, isHeld: false, description: "cannot lock \(path): \(why)")
        }
        // Who holds it, for the message a second writer gets.
        let pid = Array("\(getpid())\n".utf8)
        if ftruncate(fd, 0) == 0 { _ = pid.withUnsafeBytes { pwrite(fd, $0.baseAddress, $0.count, 0) } }
    }

    /// Gives the lock up (also done when the object goes away or the process ends).
    public func release() {
        if fd >= 0 { close(fd); fd = -1 }
    }

    deinit { release() }

    public static func path(in directory: String) -> String {
        (directory as NSString).appendingPathComponent(fileName)
    }

    /// True while a live process holds the folder's lock (this process included). No lock file, or
    /// one nobody holds (a killed run's), is false.
    public static func isHeld(directory: String) -> Bool {
        let fd = open(path(in: directory), O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var r: Int32
        repeat { r = flock(fd, LOCK_SH | LOCK_NB) } while r != 0 && errno == EINTR
        if r == 0 { flock(fd, LOCK_UN); return false }
        return errno == EWOULDBLOCK
    }

    /// The pid the lock file names (whoever held it last; only meaningful while it is held).
    public static func holder(directory: String) -> Int32? {
        guard let d = FileManager.default.contents(atPath: path(in: directory)) else { return nil }
        return Int32(String(decoding: d, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines))
    }
}
