import SimplyCore

/// `SafetensorsFile.parse`, then every tensor read as floats, doubles and
/// integers; float tensors written back must parse again.
enum SafetensorsTarget {
    static let target = FuzzTarget(name: "safetensors", summary: "SafetensorsFile.parse, then every tensor read",
                                   run: run, seeds: seeds)

    @Sendable static func run(_ bytes: [UInt8]) {
        guard let file = try? SafetensorsFile.parse(bytes, name: "fuzz.safetensors") else { return }
        var floats: [(name: String, tensor: Tensor)] = []
        for name in file.names {
            if let t = try? file.tensor(name) { floats.append((name, t)) }
            _ = try? file.doubles(name)
            _ = try? file.int32s(name)
        }
        let written = SafetensorsWriter.encode(tensors: floats, metadata: file.metadata)
        invariant((try? SafetensorsFile.parse(written, name: "rewritten")) != nil, "a parsed file's float tensors do not write back")
    }

    /// A header by hand: `tensors` are (name, dtype, shape, data bytes).
    static func file(_ tensors: [(String, String, [Int], [UInt8])], metadata: [(String, String)] = []) -> [UInt8] {
        var pairs: [(String, JSONValue)] = []
        var offset = 0
        var data: [UInt8] = []
        for (name, dtype, shape, bytes) in tensors {
            pairs.append((name, .object([("dtype", .string(dtype)), ("shape", .array(shape.map { .int($0) })),
                                         ("data_offsets", .array([.int(offset), .int(offset + bytes.count)]))])))
            offset += bytes.count
            data += bytes
        }
        if !metadata.isEmpty { pairs.append(("__metadata__", .object(metadata.map { ($0.0, .string($0.1)) }))) }
        let header = Array(JSONValue.object(pairs).serialized().utf8)
        var out: [UInt8] = []
        withUnsafeBytes(of: UInt64(header.count).littleEndian) { out.append(contentsOf: $0) }
        return out + header + data
    }

    @Sendable static func seeds() -> [[UInt8]] {
        let t = Tensor(shape: [2, 3], values: [1, -2, 3.5, 0, .infinity, -0.0])
        let v = Tensor(shape: [4], values: [0.25, 0.5, 0.75, 1])
        return [
            SafetensorsWriter.encode(tensors: [("w", t), ("b", v)], metadata: ["format": "pt"]),
            SafetensorsWriter.encode(tensors: [("scalar", Tensor(shape: [], values: [7]))]),
            file([("f64", "F64", [2], Array(repeating: 0x3F, count: 16)), ("bf16", "BF16", [3], [0, 0x3F, 0x80, 0xBF, 0xFF, 0x7F]),
                  ("f16", "F16", [1, 2], [0x00, 0x3C, 0x00, 0xFC]), ("i64", "I64", [2], [1, 0, 0, 0, 0, 0, 0, 0, 255, 255, 255, 255, 255, 255, 255, 127]),
                  ("i32", "I32", [1], [5, 0, 0, 0]), ("u8", "U8", [3], [1, 2, 3]), ("empty", "F32", [0, 4], [])],
                 metadata: [("note", "hand-built")]),
        ]
    }
}
