import Foundation
import SimplyCore

/// What every `simply eval` writes with `--out FILE`: one JSON object, keys
/// sorted, indented, numbers in Swift's shortest round-trip form. It names
/// the eval, the checkpoints (path and step), the data (path and SHA-256)
/// and the settings, so a results file says what produced it.
enum EvalResults {
    /// Writes `fields` plus ("eval", name) to `path` (nothing when nil).
    static func write(_ name: String, _ fields: [(String, JSONValue)], to path: String?) {
        guard let path else { return }
        let text = JSONValue.object([("eval", .string(name))] + fields).pretty() + "\n"
        writeOutput(Data(text.utf8), to: path)
    }

    /// ("path", "step") of a loaded checkpoint.
    static func checkpoint(_ url: URL, step: Int) -> JSONValue {
        .object([("path", .string(url.path)), ("step", .int(step))])
    }

    /// ("path", "sha256") of an input file.
    static func data(_ path: String, sha256: String) -> JSONValue {
        .object([("path", .string(path)), ("sha256", .string(sha256))])
    }

    /// A table with a header row, columns padded to their widest cell
    /// (numbers right-aligned).
    static func table(_ header: [String], _ rows: [[String]]) -> String {
        let all = [header] + rows
        let widths = header.indices.map { c in all.map { $0[c].count }.max()! }
        func line(_ r: [String]) -> String {
            r.indices.map { c in
                let pad = String(repeating: " ", count: widths[c] - r[c].count)
                return c == 0 ? r[c] + pad : pad + r[c]
            }.joined(separator: "  ")
        }
        let rule = widths.map { String(repeating: "-", count: $0) }.joined(separator: "  ")
        return ([line(header), rule] + rows.map(line)).joined(separator: "\n")
    }

    static func f4(_ x: Double) -> String { String(format: "%.4f", x) }
}
