import SimplyCore
import SimplyRun

/// `CheckpointManifest.parse`. Mutants rarely keep a valid manifest_sha256,
/// so each input that is a JSON object is also parsed with the hash fixed
/// up: the checks behind the hash get fuzzed too.
enum ManifestTarget {
    static let target = FuzzTarget(name: "manifest", summary: "CheckpointManifest.parse (as given, and with manifest_sha256 fixed up)",
                                   run: run, seeds: seeds)

    @Sendable static func run(_ bytes: [UInt8]) {
        if let m = try? CheckpointManifest.parse(bytes, file: "manifest.json") {
            invariant((try? CheckpointManifest.parse(m.fileBytes, file: "rewritten")) != nil, "a parsed manifest does not write back")
        }
        guard let text = String(validating: bytes, as: UTF8.self), case let .object(pairs)? = try? JSONValue.parse(text) else { return }
        let fixed = withHash(pairs.filter { $0.0 != "manifest_sha256" })
        if let m = try? CheckpointManifest.parse(fixed, file: "manifest.json") {
            invariant((try? CheckpointManifest.parse(m.fileBytes, file: "rewritten")) != nil, "a parsed manifest does not write back")
        }
    }

    /// The manifest with `manifest_sha256` = SHA-256 of the compact sorted body.
    static func withHash(_ body: [(String, JSONValue)]) -> [UInt8] {
        let hash = sha256Hex(Array(JSONValue.object(body).serialized().utf8))
        return Array(JSONValue.object(body + [("manifest_sha256", .string(hash))]).pretty().utf8)
    }

    @Sendable static func seeds() -> [[UInt8]] {
        let h = { (s: String) in JSONValue.string(sha256Hex(Array(s.utf8))) }
        func tensor(_ name: String, _ shape: [Int], shard: Int, offset: Int) -> JSONValue {
            .object([("name", .string(name)), ("dtype", .string("F32")), ("shape", .array(shape.map { .int($0) })),
                     ("shard", .int(shard)), ("offset", .int(offset)), ("length", .int(4 * shape.reduce(1, *))), ("sha256", h(name))])
        }
        func shard(_ i: Int, bytes: Int, raw: Int) -> JSONValue {
            .object([("file", .string(CheckpointManifest.shardFileName(i))), ("sha256", h("shard\(i)")),
                     ("bytes", .int(bytes)), ("raw_bytes", .int(raw))])
        }
        let body: [(String, JSONValue)] = [
            ("format_version", .int(CheckpointManifest.currentFormatVersion)), ("step", .int(42)),
            ("config_sha256", h("config")), ("state_sha256", h("state")),
            ("data_cursor", .object([("epoch", .int(1)), ("position", .int(17))])),
            ("extra", .object([("simply_version", .string("0.1")), ("loss", .number("2.5"))])),
            ("tensors", .array([tensor("model.embed_tokens.weight", [8, 4], shard: 0, offset: 0),
                                tensor("model.norm.weight", [4], shard: 0, offset: 128),
                                tensor("lm_head.weight", [8, 4], shard: 1, offset: 0)])),
            ("shards", .array([shard(0, bytes: 100, raw: 300), shard(1, bytes: 90, raw: 250)])),
        ]
        let small: [(String, JSONValue)] = [
            ("format_version", .int(1)), ("step", .int(0)), ("config_sha256", h("c")), ("state_sha256", h("s")),
            ("data_cursor", .object([])), ("extra", .object([])),
            ("tensors", .array([tensor("t", [], shard: 0, offset: 0)])), ("shards", .array([shard(0, bytes: 1, raw: 8)])),
        ]
        return [withHash(body), withHash(small)]
    }
}
