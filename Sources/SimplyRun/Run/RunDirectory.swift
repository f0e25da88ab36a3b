#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation
import SimplyCore

// File scope: inside `LineWriter`, `write` means its own method.
private func sysWrite(_ fd: Int32, _ buffer: UnsafeRawPointer, _ count: Int) -> Int { write(fd, buffer, count) }

/// The run directory of docs/design.md:
///   config.json   resolved config, sorted keys, Simply version and mode
///   hashes.jsonl  step, loss bits, state SHA-256, batch SHA-256 — nothing else
///   metrics.jsonl loss, lr, grad_norm, tokens/s, ...
public struct RunDirectory: Sendable {
    public let url: URL
    public var configURL: URL { url.appendingPathComponent("config.json") }
    public var hashesURL: URL { url.appendingPathComponent("hashes.jsonl") }
    public var metricsURL: URL { url.appendingPathComponent("metrics.jsonl") }

    public init(_ url: URL) { self.url = url }

    /// Creates the directory (and its parents) if it does not exist yet.
    public func prepare() throws {
        do { try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true) } catch {
            throw RunError("\(url.path): cannot create the run directory (\(error.localizedDescription))")
        }
    }

    /// Creates the directory for a new run. Refuses to overwrite a directory
    /// that already holds a run, so nothing already written is lost.
    public func create(config: JSONValue) throws {
        let fm = FileManager.default
        var isDir: ObjCBool = false
        if fm.fileExists(atPath: url.path, isDirectory: &isDir) {
            guard isDir.boolValue else { throw RunError("\(url.path) exists and is not a directory") }
            if fm.fileExists(atPath: hashesURL.path) || fm.fileExists(atPath: configURL.path) {
                throw RunError("\(url.path) already holds a run (config.json/hashes.jsonl): continue it with `simply train --experiment_dir \(url.path) --resume`, or choose a new --experiment_dir")
            }
        }
        try prepare()
        try writeAtomically(Array((config.pretty() + "\n").utf8), to: configURL)
        for f in [hashesURL, metricsURL] { _ = fm.createFile(atPath: f.path, contents: nil) }
    }
}

public struct RunError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// Writes `bytes` to `url` through a temporary file and a rename.
public func writeAtomically(_ bytes: [UInt8], to url: URL) throws {
    let tmp = url.appendingPathExtension("tmp")
    guard FileManager.default.createFile(atPath: tmp.path, contents: Data(bytes)) else {
        throw RunError("cannot write \(tmp.path)")
    }
    if rename(tmp.path, url.path) != 0 { throw RunError("cannot rename \(tmp.path) to \(url.path)") }
}

/// Appends lines to a file, one write per line (so a crash loses at most the
/// line being written). A failed write (a full disk) throws one line naming
/// the file; the lines before it stay as they were.
public final class LineWriter {
    private let fd: Int32
    public let url: URL

    public init(_ url: URL) throws {
        self.url = url
        let fd = open(url.path, O_WRONLY | O_APPEND | O_CLOEXEC)
        guard fd >= 0 else { throw RunError("\(url.path): cannot open for appending (\(String(cString: strerror(errno))))") }
        self.fd = fd
    }

    public func write(_ json: JSONValue) throws {
        let bytes = Array((json.serialized() + "\n").utf8)
        var done = 0
        while done < bytes.count {
            let n = bytes.withUnsafeBytes { sysWrite(fd, $0.baseAddress! + done, bytes.count - done) }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else {
                throw RunError("\(url.path): write failed after \(done) of \(bytes.count) bytes of a line "
                               + "(\(String(cString: strerror(errno)))); the run stops here and can be resumed from its last checkpoint")
            }
            done += n
        }
    }

    deinit { close(fd) }
}

/// hashes.jsonl read back: step → line, with every problem named by line.
public struct HashesRecord: Sendable {
    /// Steps in file order, each with its line.
    public let lines: [(step: Int, line: String)]
    /// Lines that are not hashes lines, or steps out of order ("FILE:LINE: ...").
    public let problems: [String]
    /// A last line without its newline: a process killed while writing it.
    public let partialLastLine: Bool

    public var byStep: [Int: String] { Dictionary(lines.map { ($0.step, $0.line) }, uniquingKeysWith: { a, _ in a }) }

    /// step → state_sha256 of the lines that have one.
    public var states: [Int: String] {
        var out: [Int: String] = [:]
        for (step, line) in lines where out[step] == nil {
            if let s = (try? JSONValue.parse(line))?["state_sha256"]?.stringValue { out[step] = s }
        }
        return out
    }

    /// Reads `url`. Steps must run 1, 2, 3, … in order; a line cut short at
    /// the very end of the file is not a problem (`partialLastLine`).
    public static func read(_ url: URL) throws -> HashesRecord {
        guard let size = try CheckpointFiles.size(url.path) else { throw RunError("\(url.path): missing") }
        guard size <= 1 << 32 else { throw RunError("\(url.path): \(size) bytes, too large for a hashes file") }
        let bytes = try CheckpointFiles.read(url.path)
        var pieces = bytes.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false)
        let partial = !(pieces.last?.isEmpty ?? true)
        pieces.removeLast()   // after the final newline (empty), or the cut-short line
        var lines: [(Int, String)] = []
        var problems: [String] = []
        for (i, piece) in pieces.enumerated() {
            let text = String(decoding: piece, as: UTF8.self)
            guard let v = try? JSONValue.parse(text), let step = v["step"]?.intValue,
                  v["state_sha256"]?.stringValue != nil, v["loss_bits"]?.stringValue != nil else {
                problems.append("\(url.path):\(i + 1): not a hashes line (step, loss_bits, state_sha256, batch_sha256)")
                continue
            }
            let expected = (lines.last?.0 ?? 0) + 1
            if step != expected {
                problems.append("\(url.path):\(i + 1): step \(step), expected \(expected) (lines missing, repeated or out of order)")
            }
            lines.append((step, text))
        }
        return HashesRecord(lines: lines, problems: problems, partialLastLine: partial)
    }
}

extension RunDirectory {
    /// The `run` section of this run's config.json.
    public func recordedRun() throws -> JSONValue {
        guard let data = FileManager.default.contents(atPath: configURL.path) else {
            throw RunError("\(url.path) is not a run directory (no config.json)")
        }
        let json: JSONValue
        do { json = try JSONValue.parse(String(decoding: data, as: UTF8.self)) } catch {
            throw RunError("\(configURL.path): invalid JSON: \(error)")
        }
        guard let run = json["run"] else { throw RunError("\(configURL.path): no run section") }
        return run
    }

    /// The line saying config.json no longer hashes to the `config_sha256`
    /// its `run` section (`recordedRun`) recorded, or nil.
    public func configChange(configSHA256: String, recordedRun: JSONValue) -> String? {
        guard let want = recordedRun["config_sha256"]?.stringValue, !want.isEmpty, want != configSHA256 else { return nil }
        return "\(configURL.path): the config hashes to \(configSHA256), but run.config_sha256 records \(want): config.json was changed"
    }

    /// Drops the lines of hashes.jsonl and metrics.jsonl past `step` (a run
    /// killed after its last checkpoint wrote them), so a resumed run appends
    /// exactly where the checkpoint stands. Each file is rewritten atomically.
    public func truncateLogs(afterStep step: Int) throws {
        for file in [hashesURL, metricsURL] {
            guard let data = FileManager.default.contents(atPath: file.path) else {
                try writeAtomically([], to: file)   // a run restarting from step 0 may have lost it
                continue
            }
            var kept: [UInt8] = []
            var lineNumber = 0
            for line in data.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false) {
                lineNumber += 1
                if line.isEmpty { continue }
                // A line cut short by kill -9 is not JSON: it is past the checkpoint by construction.
                guard let v = try? JSONValue.parse(String(decoding: line, as: UTF8.self)), let s = v["step"]?.intValue else {
                    continue
                }
                if s <= step { kept += line; kept.append(UInt8(ascii: "\n")) }
            }
            try writeAtomically(kept, to: file)
        }
    }
}

extension Checkpoints {
    /// A checkpoint directory, or a run directory (its newest complete checkpoint).
    public static func resolve(_ url: URL) throws -> URL {
        let fm = FileManager.default
        if fm.fileExists(atPath: url.appendingPathComponent("manifest.json").path) { return url }
        if fm.fileExists(atPath: url.appendingPathComponent("checkpoints").path) {
            return try latest(runDirectory: url)
        }
        throw RunError("\(url.path): neither a checkpoint (no manifest.json) nor a run directory (no checkpoints/)")
    }
}
