import Foundation
import Testing

/// Bad input on the command line: exit status 1 and one line on stderr that
/// names the file or option, never a trap.
@Suite struct ParserCommandLineTests {
    func refusal(_ args: [String], cwd: URL, _ expected: String) throws {
        let r = try runSimply(args, cwd: cwd)
        #expect(r.status == 1, "\(args): status \(r.status), stderr \(r.stderr)")
        #expect(r.stderr == "error: \(expected)\n", "\(args)")
    }

    @Test func badInputsAreOneLineErrors() throws {
        let dir = try scratchDirectory("cli-parsers")
        defer { try? FileManager.default.removeItem(at: dir) }
        let sub = dir.appendingPathComponent("sub")
        try FileManager.default.createDirectory(at: sub, withIntermediateDirectories: true)
        try refusal(["data", "prepare", sub.path, "--output", dir.appendingPathComponent("o.tokens").path], cwd: dir,
                    "\(sub.path): is a directory, expected a file")
        // A directory is a model directory: its tokenizer.json is the tokenizer.
        try refusal(["tokenizer", "encode", "--tokenizer", sub.path, "--text", "hi"], cwd: dir,
                    "\(sub.path): is a directory without a tokenizer.json")
        try refusal(["tokenizer", "encode", "--tokenizer", "byte", sub.path], cwd: dir,
                    "\(sub.path): is a directory, expected a file")
        try refusal(["data", "synthetic", "--bytes", "9223372036854775807", "--output", dir.appendingPathComponent("s.txt").path],
                    cwd: dir, "--bytes must be in 1...4294967296, not 9223372036854775807")
        try refusal(["data", "generate", "--task", "addition", "--count", "1000000000000", "--max_digits", "9",
                     "--output", dir.appendingPathComponent("g.jsonl").path],
                    cwd: dir, "--count must be in 1...10000000 and --max_digits in 1...9")
    }
}
