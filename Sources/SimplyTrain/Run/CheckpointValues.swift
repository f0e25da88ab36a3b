import Foundation
import SimplyCore

extension Checkpoints {
    /// Every tensor stored in a checkpoint's shards, decoded without checking
    /// recorded hashes: what `verify` compares a replay against, so that a
    /// damaged tensor is reported by name and by how far it is off.
    public static func readValues(_ checkpoint: URL) throws -> [String: [Float]] {
        let fm = FileManager.default
        let files = try fm.contentsOfDirectory(atPath: checkpoint.path)
            .filter { $0.hasPrefix("shard-") && $0.hasSuffix(".safetensors.zst") }.sorted()
        if files.isEmpty { throw RunError("\(checkpoint.path): no shard files") }
        var out: [String: [Float]] = [:]
        for f in files {
            let path = checkpoint.appendingPathComponent(f).path
            guard let data = fm.contents(atPath: path) else { throw RunError("\(path): cannot read") }
            let raw = try CheckpointZstd.decompress([UInt8](data), name: path)
            let file = try SafetensorsFile.parse(raw, name: path)
            for name in file.names { out[name] = try file.tensor(name).toArray() }
        }
        return out
    }
}
