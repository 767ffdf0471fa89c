import Foundation

/// The nntop executable `swift test` builds next to the test bundle, run to completion.
enum NntopBinary {
    static let url = Bundle.main.bundleURL.appendingPathComponent("nntop")

    struct Result { var status: Int32; var out: String; var err: String }

    /// Runs nntop (or `executable`) with `args` (no standard input) and returns its exit status and output.
    static func run(_ args: [String], cwd: String? = nil, executable: String? = nil) throws -> Result {
        let p = Process()
        p.executableURL = executable.map { URL(fileURLWithPath: $0) } ?? url
        p.arguments = args
        if let cwd { p.currentDirectoryURL = URL(fileURLWithPath: cwd) }
        let out = Pipe(), err = Pipe()
        p.standardOutput = out; p.standardError = err
        p.standardInput = FileHandle.nullDevice
        try p.run()
        let o = out.fileHandleForReading.readDataToEndOfFile(), e = err.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return Result(status: p.terminationStatus, out: String(decoding: o, as: UTF8.self), err: String(decoding: e, as: UTF8.self))
    }
}
