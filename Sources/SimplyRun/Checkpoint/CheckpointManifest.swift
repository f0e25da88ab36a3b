import Foundation
import SimplyCore

/// manifest.json: everything needed to find, check and load a checkpoint's
/// tensors. Written with sorted keys; `manifest_sha256` is the SHA-256 of the
/// compact sorted serialization of the manifest without that key, so any
/// change of a value (a damaged step, cursor or hash) is detected, while
/// whitespace is not significant.
public struct CheckpointManifest: Sendable {
    /// 2: the state hash in 1 MiB pieces (StateHasher). Format 1 hashed
    /// the state as one SHA-256 stream; its state hashes cannot be checked.
    public static let currentFormatVersion = 2

    public struct TensorEntry: Sendable, Equatable {
        public let name: String
        public let dtype: String           // "F32"
        public let shape: [Int]
        public let shard: Int              // index into `shards`
        public let offset: Int             // byte offset within the shard's safetensors data section
        public let length: Int             // bytes
        public let sha256: String          // of the tensor's raw little-endian bytes

        package init(name: String, dtype: String, shape: [Int], shard: Int, offset: Int, length: Int, sha256: String) {
            self.name = name; self.dtype = dtype; self.shape = shape; self.shard = shard
            self.offset = offset; self.length = length; self.sha256 = sha256
        }
    }

    public struct ShardEntry: Sendable, Equatable {
        public let file: String            // shard-NNNNN.safetensors.zst
        public let sha256: String          // of the .zst file
        public let bytes: Int              // size of the .zst file
        public let rawBytes: Int           // size of the safetensors file inside

        package init(file: String, sha256: String, bytes: Int, rawBytes: Int) {
            self.file = file; self.sha256 = sha256; self.bytes = bytes; self.rawBytes = rawBytes
        }
    }

    public let formatVersion: Int
    public let step: Int
    public let configSHA256: String
    public let stateSHA256: String
    public let dataCursor: JSONValue
    public let extra: JSONValue
    public let tensors: [TensorEntry]
    public let shards: [ShardEntry]

    public static func shardFileName(_ index: Int) -> String {
        let digits = String(index)
        return "shard-" + String(repeating: "0", count: max(0, 5 - digits.count)) + digits + ".safetensors.zst"
    }

    /// The manifest without `manifest_sha256`.
    var body: JSONValue {
        .object([
            ("format_version", .int(formatVersion)),
            ("step", .int(step)),
            ("config_sha256", .string(configSHA256)),
            ("state_sha256", .string(stateSHA256)),
            ("data_cursor", dataCursor),
            ("extra", extra),
            ("tensors", .array(tensors.map { t in
                .object([("name", .string(t.name)), ("dtype", .string(t.dtype)), ("shape", .array(t.shape.map { .int($0) })),
                         ("shard", .int(t.shard)), ("offset", .int(t.offset)), ("length", .int(t.length)),
                         ("sha256", .string(t.sha256))])
            })),
            ("shards", .array(shards.map { s in
                .object([("file", .string(s.file)), ("sha256", .string(s.sha256)), ("bytes", .int(s.bytes)),
                         ("raw_bytes", .int(s.rawBytes))])
            })),
        ])
    }

    static func bodyHash(_ body: JSONValue) -> String { sha256Hex(Array(body.serialized().utf8)) }

    /// The full manifest.json document.
    public var json: JSONValue {
        guard case var .object(pairs) = body else { return body }
        pairs.append(("manifest_sha256", .string(CheckpointManifest.bodyHash(body))))
        return .object(pairs)
    }

    /// The bytes of manifest.json: indented, sorted keys, final newline.
    public var fileBytes: [UInt8] { Array((json.pretty() + "\n").utf8) }

    package init(formatVersion: Int, step: Int, configSHA256: String, stateSHA256: String, dataCursor: JSONValue,
         extra: JSONValue, tensors: [TensorEntry], shards: [ShardEntry]) {
        self.formatVersion = formatVersion
        self.step = step
        self.configSHA256 = configSHA256
        self.stateSHA256 = stateSHA256
        self.dataCursor = dataCursor
        self.extra = extra
        self.tensors = tensors
        self.shards = shards
    }

    /// Parses and checks manifest.json; `file` is its path, for errors. Checks
    /// the format, every field's type and range, that shard files are named
    /// as the writer names them, and that the tensors tile the shards in order.
    public static func parse(_ bytes: [UInt8], file: String) throws -> CheckpointManifest {
        func fail(_ field: String?, _ message: String) -> CheckpointError { CheckpointError(file, field: field, message) }
        guard let text = String(validating: bytes, as: UTF8.self) else { throw fail(nil, "not UTF-8 text (damaged)") }
        let json: JSONValue
        do { json = try JSONValue.parse(text) } catch { throw fail(nil, "not valid JSON (\(error))") }
        guard case let .object(pairs) = json else { throw fail(nil, "not a JSON object") }
        var seen = Set<String>()
        for (k, _) in pairs where !seen.insert(k).inserted { throw fail(k, "appears twice") }

        func int(_ v: JSONValue?, _ field: String, min: Int = 0) throws -> Int {
            guard let v else { throw fail(field, "missing") }
            guard let i = v.intValue, i >= min else { throw fail(field, "must be an integer >= \(min), got \(v.serialized())") }
            return i
        }
        func string(_ v: JSONValue?, _ field: String) throws -> String {
            guard let v else { throw fail(field, "missing") }
            guard let s = v.stringValue else { throw fail(field, "must be a string, got \(v.serialized())") }
            return s
        }
        func sha(_ v: JSONValue?, _ field: String) throws -> String {
            let s = try string(v, field)
            guard isSHA256Hex(s) else { throw fail(field, "must be 64 lowercase hex digits, got \"\(s)\"") }
            return s
        }
        func object(_ v: JSONValue?, _ field: String) throws -> JSONValue {
            guard let v else { throw fail(field, "missing") }
            guard case .object = v else { throw fail(field, "must be a JSON object, got \(v.serialized())") }
            return v
        }
        func array(_ v: JSONValue?, _ field: String) throws -> [JSONValue] {
            guard let v else { throw fail(field, "missing") }
            guard case let .array(a) = v else { throw fail(field, "must be a JSON array") }
            return a
        }

        let version = try int(json["format_version"], "format_version")
        guard version == currentFormatVersion else {
            let why = version == 1 ? ": format 1 hashed the state as one SHA-256 stream, format 2 in 1 MiB pieces (docs/design.md)" : ""
            throw fail("format_version", "\(version) is not supported (this Simply reads \(currentFormatVersion)\(why))")
        }
        let known: Set<String> = ["format_version", "step", "config_sha256", "state_sha256", "data_cursor", "extra",
                                  "tensors", "shards", "manifest_sha256"]
        for (k, _) in pairs where !known.contains(k) { throw fail(k, "unknown field") }
        let recorded = try sha(json["manifest_sha256"], "manifest_sha256")
        let actual = bodyHash(.object(pairs.filter { $0.0 != "manifest_sha256" }))
        guard recorded == actual else {
            throw fail("manifest_sha256", "is \(recorded), but the manifest's content hashes to \(actual): manifest.json was changed or damaged")
        }

        let step = try int(json["step"], "step")
        let config = try sha(json["config_sha256"], "config_sha256")
        let state = try sha(json["state_sha256"], "state_sha256")
        let cursor = try object(json["data_cursor"], "data_cursor")
        let extra = try object(json["extra"], "extra")

        var shards: [ShardEntry] = []
        for (i, s) in try array(json["shards"], "shards").enumerated() {
            let f = "shards[\(i)]"
            guard case .object = s else { throw fail(f, "must be a JSON object") }
            let name = try string(s["file"], f + ".file")
            // Only the writer's own names: never a path that leaves the directory.
            guard name == shardFileName(i) else { throw fail(f + ".file", "is \"\(name)\", expected \"\(shardFileName(i))\"") }
            let entry = ShardEntry(file: name, sha256: try sha(s["sha256"], f + ".sha256"),
                                   bytes: try int(s["bytes"], f + ".bytes", min: 1),
                                   rawBytes: try int(s["raw_bytes"], f + ".raw_bytes", min: 8))
            // zstd cannot shrink data more than ~43000x (RLE blocks), so a larger
            // claim is damage; the bound also keeps allocations sane.
            guard entry.bytes <= Int.max >> 17, entry.rawBytes <= entry.bytes << 16 else {
                throw fail(f + ".raw_bytes", "\(entry.rawBytes) is impossible for a \(entry.bytes)-byte zstd frame")
            }
            shards.append(entry)
        }

        let memory = Int(clamping: ProcessInfo.processInfo.physicalMemory)
        var tensors: [TensorEntry] = []
        var names = Set<String>()
        var position = (shard: 0, offset: 0)   // where the next tensor must start
        for (i, t) in try array(json["tensors"], "tensors").enumerated() {
            var f = "tensors[\(i)]"
            guard case .object = t else { throw fail(f, "must be a JSON object") }
            let name = try string(t["name"], f + ".name")
            f += " (\(name))"
            guard !name.isEmpty, name != "__metadata__", names.insert(name).inserted else {
                throw fail(f + ".name", name.isEmpty || name == "__metadata__" ? "is not a valid tensor name" : "appears twice")
            }
            let dtype = try string(t["dtype"], f + ".dtype")
            guard dtype == "F32" else { throw fail(f + ".dtype", "is \(dtype); checkpoints hold F32 only") }
            var count = 1
            let shape = try array(t["shape"], f + ".shape").map { d -> Int in
                guard let n = d.intValue, n >= 0 else { throw fail(f + ".shape", "must hold non-negative integers") }
                let (c, overflow) = count.multipliedReportingOverflow(by: n)
                guard !overflow, c <= Int.max / 8 else { throw fail(f + ".shape", "too many elements") }
                count = c
                return n
            }
            let shard = try int(t["shard"], f + ".shard")
            guard shard < shards.count else { throw fail(f + ".shard", "\(shard) but there are \(shards.count) shards") }
            let offset = try int(t["offset"], f + ".offset")
            let length = try int(t["length"], f + ".length")
            guard length == 4 * count else { throw fail(f + ".length", "\(length) bytes, but F32\(shape) needs \(4 * count)") }
            guard length <= memory else { throw fail(f + ".length", "\(length) bytes, more than this machine's memory (\(memory) bytes)") }
            // Tensors are packed in order: each starts where the previous ended,
            // or at 0 in a later shard.
            if shard != position.shard {
                guard shard > position.shard else { throw fail(f + ".shard", "tensors are not in shard order") }
                position = (shard, 0)
            }
            guard offset == position.offset else {
                throw fail(f + ".offset", "\(offset), expected \(position.offset) (tensors must tile the shard in order)")
            }
            let (end, overflow) = position.offset.addingReportingOverflow(length)
            guard !overflow, end <= Int.max / 2 else { throw fail(f + ".length", "too large") }
            position.offset = end
            tensors.append(TensorEntry(name: name, dtype: dtype, shape: shape, shard: shard, offset: offset, length: length,
                                       sha256: try sha(t["sha256"], f + ".sha256")))
        }
        let used = Set(tensors.map(\.shard))
        for i in 0..<shards.count where !used.contains(i) { throw fail("shards[\(i)]", "holds no tensor of the table") }
        // Each shard is exactly the safetensors file of its tensors (the
        // writer's header, then their data): raw_bytes is known before any
        // frame is opened, so a frame cannot make a reader allocate more.
        var total = 0
        for (i, shard) in shards.enumerated() {
            let own = tensors.filter { $0.shard == i }
            let data = own.reduce(0) { $0 + $1.length }
            let header = Checkpoints.safetensorsHeader(own.map { ($0.name, $0.shape, $0.length / 4) }).count
            guard shard.rawBytes == header + data else {
                throw fail("shards[\(i)].raw_bytes", "\(shard.rawBytes), but its tensors make a \(header + data)-byte safetensors file")
            }
            let (sum, overflow) = total.addingReportingOverflow(data)
            guard !overflow else { throw fail("tensors", "too many bytes") }
            total = sum
        }
        guard total <= memory else {
            throw fail("tensors", "\(total) bytes of tensors, more than this machine's memory (\(memory) bytes)")
        }

        return CheckpointManifest(formatVersion: version, step: step, configSHA256: config, stateSHA256: state,
                                  dataCursor: cursor, extra: extra, tensors: tensors, shards: shards)
    }
}

func isSHA256Hex(_ s: String) -> Bool {
    s.utf8.count == 64 && s.utf8.allSatisfy { ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x61 && $0 <= 0x66) }
}
