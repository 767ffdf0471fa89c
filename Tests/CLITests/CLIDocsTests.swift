import Foundation
import XCTest

/// The committed completions and man page are what the argument parser generates now
/// (scripts/generate-cli-docs.sh regenerates them).
final class CLIDocsTests: XCTestCase {
    let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    func testCompletionsAreUpToDate() throws {
        for (shell, file) in [("bash", "nntop.bash"), ("zsh", "_nntop"), ("fish", "nntop.fish")] {
            let r = try NntopBinary.run(["--generate-completion-script", shell], timeout: 30)
            XCTAssertEqual(r.status, 0, r.err)
            let committed = try String(contentsOf: root.appendingPathComponent("completions/\(file)"), encoding: .utf8)
            XCTAssertEqual(r.out, committed, "completions/\(file) is stale: run scripts/generate-cli-docs.sh")
        }
    }

    func testTheManPageHasEveryCommand() throws {
        let man = try String(contentsOf: root.appendingPathComponent("man/nntop.1"), encoding: .utf8)
        for command in ["train", "attach", "\"runs, ls\"", "stop", "pause", "resume", "lr", "snap", "view", "bench", "eval", "summary"] {
            XCTAssertTrue(man.contains(".It Em \(command)\n"), "man/nntop.1 lacks \(command): run scripts/generate-cli-docs.sh")
        }
    }
}
