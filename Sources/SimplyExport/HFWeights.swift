import Foundation
import SimplyCore

/// The tensors of a Hugging Face model directory: one model.safetensors, or
/// shards listed by model.safetensors.index.json (`weight_map`: tensor name →
/// file). Files are opened on first use; every error names the file and key.
public final class HFWeights {
    public let directory: URL
    /// Tensor name → the file holding it, sorted by name.
    public let location: [(name: String, file: URL)]
    private var opened: [String: SafetensorsFile] = [:]

    public static let singleFile = "model.safetensors"
    public static let indexFile = "model.safetensors.index.json"

    public init(directory: URL) throws {
        self.directory = directory
        let fm = FileManager.default
        let index = directory.appendingPathComponent(Self.indexFile)
        let single = directory.appendingPathComponent(Self.singleFile)
        if fm.fileExists(atPath: index.path) {
            let data: [UInt8]
            do { data = try FileBytes.read(index, limit: 64 << 20) } catch { throw HFError(error.description) }
            let json: JSONValue
            do { json = try JSONValue.parse(String(decoding: data, as: UTF8.self)) } catch {
                throw HFError("\(index.path): invalid JSON: \(error)")
            }
            guard case let .object(map)? = json["weight_map"] else { throw HFError("\(index.path): weight_map: missing or not an object") }
            var loc: [(String, URL)] = []
            for (name, v) in map {
                guard let f = v.stringValue, !f.isEmpty, !f.contains("/"), f != ".." else {
                    throw HFError("\(index.path): weight_map.\(name): expected a file name in this directory, got \(v.brief())")
                }
                let url = directory.appendingPathComponent(f)
                guard fm.fileExists(atPath: url.path) else { throw HFError("\(index.path): weight_map.\(name): \(f) does not exist") }
                loc.append((name, url))
            }
            location = loc.sorted { $0.0 < $1.0 }
        } else if fm.fileExists(atPath: single.path) {
            let file = try SafetensorsFile.read(single)
            location = file.names.sorted().map { ($0, single) }
            opened[single.path] = file
        } else {
            let bin = fm.fileExists(atPath: directory.appendingPathComponent("pytorch_model.bin").path)
            throw HFError("\(directory.path): no \(Self.singleFile) or \(Self.indexFile)"
                          + (bin ? " (pytorch_model.bin is not read: save the model with safe_serialization=True)" : ""))
        }
    }

    public func file(of name: String) -> URL? { location.first { $0.name == name }?.file }

    /// dtype and shape as the file's header gives them.
    public func entry(_ name: String) throws -> (file: URL, entry: SafetensorsFile.Entry) {
        guard let url = file(of: name) else { throw HFError("\(directory.path): no tensor '\(name)'") }
        let f = try open(url)
        guard let e = f.entries[name] else {
            throw HFError("\(url.path): tensor '\(name)' is listed in \(Self.indexFile) but not in this file")
        }
        return (url, e)
    }

    /// The tensor as float32 (F16 and BF16 widen exactly; F64 rounds).
    public func tensor(_ name: String) throws -> Tensor {
        let (url, _) = try entry(name)
        return try open(url).tensor(name)
    }

    private func open(_ url: URL) throws -> SafetensorsFile {
        if let f = opened[url.path] { return f }
        let f = try SafetensorsFile.read(url)
        opened[url.path] = f
        return f
    }
}
