import Foundation

/// The safetensors format (Hugging Face): an 8-byte little-endian header
/// length, a JSON header {name: {dtype, shape, data_offsets: [begin, end]},
/// "__metadata__": {string: string}}, then the raw little-endian data.
public struct SafetensorsFile: Sendable {
    public struct Entry: Sendable {
        public let dtype: String
        public let shape: [Int]
        public let begin: Int   // offsets into the data section
        public let end: Int
        /// Elements: the product of `shape`, checked against overflow and the data.
        public let count: Int
    }

    public let name: String
    public let metadata: [String: String]
    /// Tensor names in the order of their data offsets.
    public let names: [String]
    public let entries: [String: Entry]
    let bytes: [UInt8]
    let dataStart: Int

    public static func read(_ url: URL) throws -> SafetensorsFile {
        let bytes: [UInt8]
        do { bytes = try FileBytes.read(url) } catch { throw SafetensorsError(error.description) }
        return try parse(bytes, name: url.path)
    }

    public static func parse(_ bytes: [UInt8], name: String) throws -> SafetensorsFile {
        guard bytes.count >= 8 else { throw SafetensorsError("\(name): truncated (no header length)") }
        var headerLength = 0
        for i in 0..<8 { headerLength |= Int(bytes[i]) << (8 * i) }
        guard headerLength > 0, headerLength <= bytes.count - 8 else {
            throw SafetensorsError("\(name): header length \(headerLength) exceeds the file (\(bytes.count) bytes): truncated or not safetensors")
        }
        guard let text = String(validating: bytes[8..<(8 + headerLength)], as: UTF8.self) else {
            throw SafetensorsError("\(name): header is not UTF-8")
        }
        let header: JSONValue
        do { header = try JSONValue.parse(text.trimmingCharacters(in: .whitespaces)) } catch {
            throw SafetensorsError("\(name): header is not valid JSON (\(error))")
        }
        guard case let .object(pairs) = header else { throw SafetensorsError("\(name): header is not a JSON object") }
        let dataStart = 8 + headerLength
        let dataLength = bytes.count - dataStart
        var metadata: [String: String] = [:]
        var entries: [String: Entry] = [:]
        for (key, value) in pairs {
            if key == "__metadata__" {
                guard case let .object(m) = value else { throw SafetensorsError("\(name): __metadata__ is not an object") }
                for (k, v) in m {
                    guard let s = v.stringValue else { throw SafetensorsError("\(name): __metadata__.\(k) is not a string") }
                    metadata[k] = s
                }
                continue
            }
            guard let dtype = value["dtype"]?.stringValue,
                  case let .array(shapeJSON)? = value["shape"],
                  case let .array(offsets)? = value["data_offsets"], offsets.count == 2,
                  let begin = offsets[0].intValue, let end = offsets[1].intValue else {
                throw SafetensorsError("\(name): tensor '\(key)' needs dtype, shape and data_offsets")
            }
            let shape = try shapeJSON.map { v -> Int in
                guard let d = v.intValue, d >= 0 else { throw SafetensorsError("\(name): tensor '\(key)' has a bad shape \(JSONValue.array(shapeJSON).brief())") }
                return d
            }
            guard let size = dtypeSize(dtype) else { throw SafetensorsError("\(name): tensor '\(key)' has unsupported dtype \(dtype)") }
            guard begin >= 0, begin <= end, end <= dataLength else {
                throw SafetensorsError("\(name): tensor '\(key)' data_offsets [\(begin), \(end)] outside the data (\(dataLength) bytes): truncated?")
            }
            // The element count in checked arithmetic: a shape like
            // [2^32, 2^32] must be refused, not wrap or trap.
            guard let count = elementCount(shape), case let (bytes, overflow) = count.multipliedReportingOverflow(by: size), !overflow else {
                throw SafetensorsError("\(name): tensor '\(key)' shape \(shape) has too many elements for the \(dataLength)-byte data")
            }
            guard end - begin == bytes else {
                throw SafetensorsError("\(name): tensor '\(key)' holds \(end - begin) bytes, but \(dtype)\(shape) needs \(bytes)")
            }
            guard entries[key] == nil else { throw SafetensorsError("\(name): tensor '\(key)' appears twice in the header") }
            entries[key] = Entry(dtype: dtype, shape: shape, begin: begin, end: end, count: count)
        }
        let ordered = entries.sorted { ($0.value.begin, $0.value.end, $0.key) < ($1.value.begin, $1.value.end, $1.key) }
        let names = ordered.map(\.key)
        // Like the reference implementation: tensors tile the data section
        // exactly, with no overlap, gap or trailing bytes.
        var position = 0
        for (key, e) in ordered {
            guard e.begin == position else {
                throw SafetensorsError("\(name): tensor '\(key)' starts at data byte \(e.begin), expected \(position) (overlapping or gapped data_offsets)")
            }
            position = e.end
        }
        guard position == dataLength else {
            throw SafetensorsError("\(name): tensors cover \(position) data bytes but the file holds \(dataLength): trailing bytes or a wrong header")
        }
        return SafetensorsFile(name: name, metadata: metadata, names: names, entries: entries, bytes: bytes, dataStart: dataStart)
    }

    /// The product of `shape`, or nil when it overflows Int.
    public static func elementCount(_ shape: [Int]) -> Int? {
        var n = 1
        for d in shape {
            guard d >= 0 else { return nil }
            let (p, overflow) = n.multipliedReportingOverflow(by: d)
            if overflow { return nil }
            n = p
        }
        return n
    }

    static func dtypeSize(_ dtype: String) -> Int? {
        switch dtype {
        case "F64", "I64": return 8
        case "F32", "I32": return 4
        case "F16", "BF16", "I16": return 2
        case "U8", "I8", "BOOL": return 1
        default: return nil
        }
    }

    func entry(_ tensor: String) throws -> Entry {
        guard let e = entries[tensor] else { throw SafetensorsError("\(name): no tensor '\(tensor)'") }
        return e
    }

    /// The tensor as float32 (F32 as is; F64, F16 and BF16 converted).
    public func tensor(_ tensor: String) throws -> Tensor {
        let e = try entry(tensor)
        guard ["F32", "F64", "BF16", "F16"].contains(e.dtype) else {
            throw SafetensorsError("\(name): tensor '\(tensor)' is \(e.dtype), not a float type")
        }
        let out = Tensor(shape: e.shape)
        let base = dataStart + e.begin
        bytes.withUnsafeBytes { raw in
            for i in 0..<out.count {
                switch e.dtype {
                case "F32": out.pointer[i] = Float(bitPattern: raw.loadUnaligned(fromByteOffset: base + 4 * i, as: UInt32.self).littleEndian)
                case "F64": out.pointer[i] = Float(Double(bitPattern: raw.loadUnaligned(fromByteOffset: base + 8 * i, as: UInt64.self).littleEndian))
                case "BF16": out.pointer[i] = Float(bitPattern: UInt32(raw.loadUnaligned(fromByteOffset: base + 2 * i, as: UInt16.self).littleEndian) << 16)
                case "F16": out.pointer[i] = Float(Float16(bitPattern: raw.loadUnaligned(fromByteOffset: base + 2 * i, as: UInt16.self).littleEndian))
                default: break
                }
            }
        }
        return out
    }

    /// A float64 tensor's values (F64 exactly; F32 widened).
    public func doubles(_ tensor: String) throws -> [Double] {
        let e = try entry(tensor)
        let base = dataStart + e.begin
        let n = e.count
        switch e.dtype {
        case "F64":
            return bytes.withUnsafeBytes { raw in (0..<n).map { Double(bitPattern: raw.loadUnaligned(fromByteOffset: base + 8 * $0, as: UInt64.self).littleEndian) } }
        default:
            return try self.tensor(tensor).toArray().map(Double.init)
        }
    }

    /// An integer tensor (I32 or I64) as Int32 values.
    public func int32s(_ tensor: String) throws -> [Int32] {
        let e = try entry(tensor)
        let base = dataStart + e.begin
        let n = e.count
        switch e.dtype {
        case "I32":
            return bytes.withUnsafeBytes { raw in (0..<n).map { Int32(bitPattern: raw.loadUnaligned(fromByteOffset: base + 4 * $0, as: UInt32.self).littleEndian) } }
        case "I64":
            return try bytes.withUnsafeBytes { raw in
                try (0..<n).map {
                    let v = Int64(bitPattern: raw.loadUnaligned(fromByteOffset: base + 8 * $0, as: UInt64.self).littleEndian)
                    guard let x = Int32(exactly: v) else { throw SafetensorsError("\(name): tensor '\(tensor)' value \(v) does not fit Int32") }
                    return x
                }
            }
        default:
            throw SafetensorsError("\(name): tensor '\(tensor)' is \(e.dtype), not I32 or I64")
        }
    }
}

/// Writes float32 tensors as one safetensors file. The header's keys are
/// sorted and the data follow in the order given, so equal inputs give equal bytes.
public enum SafetensorsWriter {
    public static func encode(tensors: [(name: String, tensor: Tensor)], metadata: [String: String] = [:]) -> [UInt8] {
        var pairs: [(String, JSONValue)] = []
        var offset = 0
        for (name, t) in tensors {
            pairs.append((name, .object([("dtype", .string("F32")), ("shape", .array(t.shape.map { .int($0) })),
                                          ("data_offsets", .array([.int(offset), .int(offset + 4 * t.count)]))])))
            offset += 4 * t.count
        }
        if !metadata.isEmpty {
            pairs.append(("__metadata__", .object(metadata.sorted { $0.key < $1.key }.map { ($0.key, .string($0.value)) })))
        }
        var header = Array(JSONValue.object(pairs).serialized().utf8)
        while (8 + header.count) % 8 != 0 { header.append(0x20) }  // pad with spaces to 8-byte alignment
        var out = [UInt8]()
        out.reserveCapacity(8 + header.count + offset)
        withUnsafeBytes(of: UInt64(header.count).littleEndian) { out.append(contentsOf: $0) }
        out.append(contentsOf: header)
        for (_, t) in tensors {
            for i in 0..<t.count { withUnsafeBytes(of: t.pointer[i].bitPattern.littleEndian) { out.append(contentsOf: $0) } }
        }
        return out
    }
}

public struct SafetensorsError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}
