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
