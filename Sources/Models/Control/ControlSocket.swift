import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Unix-domain stream sockets for a run's control socket: bind (owner-only), connect, and the
/// peer's credentials (SO_PEERCRED).
public enum UnixSocket {
    public struct Failure: Error, CustomStringConvertible { public var description: String }

    /// struct ucred (pid, uid, gid), as SO_PEERCRED fills it.
    struct PeerCredentials { var pid: Int32 = 0; var uid: UInt32 = 0; var gid: UInt32 = 0 }

    static var sunPathSize: Int { MemoryLayout.size(ofValue: sockaddr_un().sun_path) }

    /// Calls `body` with a sockaddr_un for `path`. A path too long for sun_path (108 bytes) is
    /// reached through its folder's descriptor: /proc/self/fd/N/control.sock.
    static func withAddress<R>(_ path: String, _ body: (UnsafePointer<sockaddr>, socklen_t) -> R) throws -> R {
        var dirFD: Int32 = -1
        defer { if dirFD >= 0 { close(dirFD) } }
        var usable = path
        if path.utf8.count >= sunPathSize {
            dirFD = open((path as NSString).deletingLastPathComponent, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
            guard dirFD >= 0 else { throw Failure(description: "\(path): \(String(cString: strerror(errno)))") }
            usable = "/proc/self/fd/\(dirFD)/\((path as NSString).lastPathComponent)"
        }
        var addr = sockaddr_un()
        addr.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(usable.utf8)
        guard bytes.count < sunPathSize else { throw Failure(description: "\(path): socket name too long") }
        withUnsafeMutableBytes(of: &addr.sun_path) { p in
            for (i, b) in bytes.enumerated() { p[i] = b }
            p[bytes.count] = 0
        }
        return withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { body($0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
    }

    /// A listening socket at `path` that only its owner can open (mode 0600); an old socket file
    /// left there by a killed run is replaced (the caller holds the run folder's lock).
    public static func listen(path: String) throws -> Int32 {
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue) | Int32(SOCK_NONBLOCK.rawValue), 0)
        guard fd >= 0 else { throw Failure(description: "socket: \(String(cString: strerror(errno)))") }
        unlink(path)
        // Made owner-only from the start (no moment at which another user could connect); the
        // trainer has not started yet, so no other thread creates files under this umask.
        let old = umask(0o177)
        let r = try withAddress(path) { bind(fd, $0, $1) }
        let e = errno
        umask(old)
        guard r == 0 else { close(fd); throw Failure(description: "cannot create \(path): \(String(cString: strerror(e)))") }
        chmod(path, 0o600)
        guard Glibc.listen(fd, 16) == 0 else {
            let why = String(cString: strerror(errno))
            close(fd); unlink(path)
            throw Failure(description: "listen on \(path): \(why)")
        }
        return fd
    }

    /// A connected (blocking) socket to `path`.
    public static func connect(path: String) throws -> Int32 {
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw Failure(description: "socket: \(String(cString: strerror(errno)))") }
        var r: Int32 = 0
        repeat { r = try withAddress(path) { Glibc.connect(fd, $0, $1) } } while r != 0 && errno == EINTR
        guard r == 0 else {
            let e = errno
            close(fd)
            throw Failure(description: String(cString: strerror(e)))
        }
        return fd
    }

    /// Non-blocking and closed on exec.
    static func setFlags(_ fd: Int32) {
        _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
        _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
    }

    /// The connected peer's pid and uid.
    static func peer(_ fd: Int32) -> PeerCredentials? {
        var c = PeerCredentials()
        var len = socklen_t(MemoryLayout<PeerCredentials>.size)
        guard getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &c, &len) == 0 else { return nil }
        return c
    }

    /// Writes all of `data` to a blocking socket (never raising SIGPIPE); false on any error.
    static func writeAll(_ fd: Int32, _ data: Data) -> Bool {
        data.withUnsafeBytes { raw -> Bool in
            var off = 0
            while off < raw.count {
                let n = send(fd, raw.baseAddress! + off, raw.count - off, Int32(MSG_NOSIGNAL))
                if n < 0 { if errno == EINTR { continue }; return false }
                off += n
            }
            return true
        }
    }
}
