import Foundation
import SimplyCore

extension Checkpoints {
    /// Every tensor stored in a checkpoint's shards, decoded without checking
    /// recorded hashes: what `verify` compares a replay against, so that a
    /// damaged tensor is reported by name and by how far it is off.
    /// `maxShardBytes` bounds what one shard may decompress to (a damaged
    /// frame's claim is not trusted).
    public static func readValues(_ checkpoint: URL, maxShardBytes: Int) throws -> [String: [Float]] {
        let fm = FileManager.default
        let files = try fm.contentsOfDirectory(atPath: checkpoint.path)
            .filter { $0.hasPrefix("shard-") && $0.hasSuffix(".safetensors.zst") }.sorted()
        if files.isEmpty { throw RunError("\(checkpoint.path): no shard files") }
        var out: [String: [Float]] = [:]
        for f in files {
            let path = checkpoint.appendingPathComponent(f).path
            guard let size = try CheckpointFiles.size(path) else { throw RunError("\(path): missing") }
            guard size <= CheckpointZstd.Compressor.bound(maxShardBytes) else {
                throw RunError("\(path): \(size) bytes, more than a shard of this state can be")
            }
            let raw = try CheckpointZstd.decompress(try CheckpointFiles.read(path), name: path, maxSize: maxShardBytes)
            let file = try SafetensorsFile.parse(raw, name: path)
            for name in file.names { out[name] = try file.tensor(name).toArray() }
        }
        return out
    }
}
