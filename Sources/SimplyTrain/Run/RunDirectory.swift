import Foundation
import SimplyCore

/// The run directory of DESIGN.md:
///   config.json   resolved config, sorted keys, Simply version and mode
///   hashes.jsonl  step, loss bits, state SHA-256, batch SHA-256 — nothing else
///   metrics.jsonl loss, lr, grad_norm, tokens/s, ...
public struct RunDirectory: Sendable {
    public let url: URL
    public var configURL: URL { url.appendingPathComponent("config.json") }
    public var hashesURL: URL { url.appendingPathComponent("hashes.jsonl") }
    public var metricsURL: URL { url.appendingPathComponent("metrics.jsonl") }

    public init(_ url: URL) { self.url = url }

    /// Creates the directory for a new run. Refuses to overwrite a directory
    /// that already holds a run, so nothing already written is lost.
    public func create(config: JSONValue) throws {
        let fm = FileManager.default
        var isDir: ObjCBool = false
        if fm.fileExists(atPath: url.path, isDirectory: &isDir) {
            guard isDir.boolValue else { throw RunError("\(url.path) exists and is not a directory") }
            if fm.fileExists(atPath: hashesURL.path) || fm.fileExists(atPath: configURL.path) {
                throw RunError("\(url.path) already holds a run (config.json/hashes.jsonl); choose a new --experiment_dir or remove it")
            }
        }
        try fm.createDirectory(at: url, withIntermediateDirectories: true)
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
/// line being written).
public final class LineWriter {
    private let handle: FileHandle
    public init(_ url: URL) throws {
        guard let h = FileHandle(forWritingAtPath: url.path) else { throw RunError("cannot open \(url.path) for writing") }
        h.seekToEndOfFile()
        handle = h
    }
    public func write(_ json: JSONValue) { handle.write(Data((json.serialized() + "\n").utf8)) }
    deinit { try? handle.close() }
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

    /// Drops the lines of hashes.jsonl and metrics.jsonl past `step` (a run
    /// killed after its last checkpoint wrote them), so a resumed run appends
    /// exactly where the checkpoint stands. Each file is rewritten atomically.
    public func truncateLogs(afterStep step: Int) throws {
        for file in [hashesURL, metricsURL] {
            guard let data = FileManager.default.contents(atPath: file.path) else {
                throw RunError("\(file.path): missing")
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
