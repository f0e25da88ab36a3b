import Foundation
import SimplyCore

/// A prepared dataset file ("token shard"): a fixed 128-byte header, then the
/// tokens as little-endian unsigned integers of `token_width` bytes.
///
///     offset  size  field
///          0     8  magic           "SIMPLYTK" (ASCII)
///          8     4  version         UInt32 LE, currently 1
///         12     4  token_width     UInt32 LE, 2 (vocab_size <= 65536) or 4
///         16     8  token_count     UInt64 LE
///         24     8  vocab_size      UInt64 LE, every token is < vocab_size
///         32     8  document_count  UInt64 LE
///         40    32  sha256          SHA-256 of the token bytes exactly as stored (offset 128 to the end)
///         72    48  tokenizer_name  UTF-8, zero-padded (at most 48 bytes, e.g. "byte")
///        120     8  reserved        zero
///        128     …  tokens          token_count × token_width bytes; the file ends there
///
/// The width is a function of the vocabulary alone, so the same tokens always
/// give the same file bytes. Reading checks every field and the hash; any
/// mismatch is a `DataError` naming the file and the field.
public struct TokenShard: Sendable {
    public static let magic: [UInt8] = Array("SIMPLYTK".utf8)
    public static let version: UInt32 = 1
    public static let headerSize = 128
    public static let maxNameBytes = 48

    public let tokens: [Int32]
    public let vocabSize: Int
    public let tokenizerName: String
    public let documentCount: Int
    /// SHA-256 (hex) of the token bytes as stored in the file.
    public let contentHash: String

    /// Bytes per stored token for a vocabulary.
    public static func tokenWidth(vocabSize: Int) -> Int { vocabSize <= 65536 ? 2 : 4 }

    /// Little-endian stored form of the tokens (no range checks).
    static func tokenBytes(_ tokens: [Int32], width: Int) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: tokens.count * width)
        tokens.withUnsafeBufferPointer { src in
            out.withUnsafeMutableBytes { raw in
                if width == 2 {
                    for i in 0..<src.count {
                        raw.storeBytes(of: UInt16(truncatingIfNeeded: src[i]).littleEndian, toByteOffset: 2 * i, as: UInt16.self)
                    }
                } else {
                    for i in 0..<src.count {
                        raw.storeBytes(of: UInt32(bitPattern: src[i]).littleEndian, toByteOffset: 4 * i, as: UInt32.self)
                    }
                }
            }
        }
        return out
    }

    /// Writes a shard to `url` through `url.tmp` (fsynced, then renamed), so a
    /// reader never sees a half-written file.
    public static func write(tokens: [Int32], vocabSize: Int, tokenizerName: String,
                             documentCount: Int, to url: URL) throws {
        guard vocabSize >= 1, vocabSize <= Int(Int32.max) else {
            throw DataError(url, "vocab_size \(vocabSize) is out of range 1...\(Int32.max)")
        }
        let name = Array(tokenizerName.utf8)
        guard name.count <= maxNameBytes, !name.contains(0) else {
            throw DataError(url, "tokenizer_name '\(tokenizerName)' must be at most \(maxNameBytes) UTF-8 bytes without NUL")
        }
        guard documentCount >= 0 else { throw DataError(url, "document_count \(documentCount) is negative") }
        if let i = tokens.firstIndex(where: { $0 < 0 || Int($0) >= vocabSize }) {
            throw DataError(url, "token \(tokens[i]) at index \(i) is outside vocab_size \(vocabSize)")
        }
        let width = tokenWidth(vocabSize: vocabSize)
        let body = tokenBytes(tokens, width: width)

        var header = [UInt8](repeating: 0, count: headerSize)
        func put<T: FixedWidthInteger>(_ v: T, at offset: Int) {
            withUnsafeBytes(of: v.littleEndian) { for (j, b) in $0.enumerated() { header[offset + j] = b } }
        }
        header.replaceSubrange(0..<8, with: magic)
        put(version, at: 8)
        put(UInt32(width), at: 12)
        put(UInt64(tokens.count), at: 16)
        put(UInt64(vocabSize), at: 24)
        put(UInt64(documentCount), at: 32)
        header.replaceSubrange(40..<72, with: sha256(body))
        header.replaceSubrange(72..<(72 + name.count), with: name)

        try writeFile(url, parts: [header, body])
    }

    /// Writes `parts` to `url` through `url.tmp` (fsynced, then renamed), so a
    /// reader never sees a half-written file.
    static func writeFile(_ url: URL, parts: [[UInt8]]) throws {
        let tmp = URL(fileURLWithPath: url.path + ".tmp")
        guard FileManager.default.createFile(atPath: tmp.path, contents: nil) else {
            throw DataError(tmp, "cannot create file")
        }
        do {
            let fh = try FileHandle(forWritingTo: tmp)
            defer { try? fh.close() }
            for part in parts { try fh.write(contentsOf: part) }
            try fh.synchronize()
        } catch {
            try? FileManager.default.removeItem(at: tmp)
            throw DataError(tmp, "write failed: \(error)")
        }
        if rename(tmp.path, url.path) != 0 {
            let code = errno
            try? FileManager.default.removeItem(at: tmp)
            throw DataError(url, "cannot rename \(tmp.path) into place (errno \(code))")
        }
    }

    /// Reads and verifies a shard: magic, version, width, sizes, name, hash
    /// and token range.
    public static func read(_ url: URL) throws -> TokenShard {
        let data: Data
        do { data = Data(try FileBytes.read(url)) } catch { throw DataError(url, "cannot read token shard: \(error.reason)") }
        return try data.withUnsafeBytes { raw -> TokenShard in
            guard raw.count >= headerSize else {
                throw DataError(url, "truncated: \(raw.count) bytes, shorter than the \(headerSize)-byte header")
            }
            func get<T: FixedWidthInteger>(_: T.Type, _ offset: Int) -> T {
                T(littleEndian: raw.loadUnaligned(fromByteOffset: offset, as: T.self))
            }
            let fileMagic = Array(raw[0..<8])
            guard fileMagic == magic else {
                throw DataError(url, "magic: expected \"SIMPLYTK\", found \(hex(fileMagic)) (not a Simply token shard)")
            }
            let version = get(UInt32.self, 8)
            guard version == Self.version else {
                throw DataError(url, "version: format version \(version) is not supported (this build reads \(Self.version))")
            }
            let width = Int(get(UInt32.self, 12))
            let count = get(UInt64.self, 16)
            let vocab = get(UInt64.self, 24)
            let docs = get(UInt64.self, 32)
            guard vocab >= 1, vocab <= UInt64(Int32.max) else {
                throw DataError(url, "vocab_size: \(vocab) is out of range 1...\(Int32.max)")
            }
            guard width == tokenWidth(vocabSize: Int(vocab)) else {
                throw DataError(url, "token_width: \(width) bytes does not match vocab_size \(vocab) (expected \(tokenWidth(vocabSize: Int(vocab))))")
            }
            let bodyBytes = raw.count - headerSize
            guard count <= UInt64(Int.max / 8), Int(count) * width == bodyBytes else {
                throw DataError(url, "token_count: header says \(count) tokens (\(count &* UInt64(width)) bytes) but the file holds \(bodyBytes) bytes after the header (truncated or padded)")
            }
            guard docs <= UInt64(Int.max) else { throw DataError(url, "document_count: \(docs) is out of range") }
            let nameField = Array(raw[72..<120])
            let nameBytes = nameField.prefix(while: { $0 != 0 })
            guard nameField[nameBytes.count...].allSatisfy({ $0 == 0 }),
                  let name = String(validating: nameBytes, as: UTF8.self) else {
                throw DataError(url, "tokenizer_name: not zero-padded UTF-8")
            }
            guard raw[120..<128].allSatisfy({ $0 == 0 }) else { throw DataError(url, "reserved: bytes 120..<128 are not zero") }

            let body = UnsafeRawBufferPointer(rebasing: raw[headerSize...])
            let h = SHA256Hasher()
            h.update(body)
            let actual = h.finalize()
            let stored = Array(raw[40..<72])
            guard actual == stored else {
                throw DataError(url, "sha256: token bytes hash to \(hex(actual)) but the header says \(hex(stored)) (file corrupted)")
            }

            let n = Int(count)
            var tokens = [Int32](repeating: 0, count: n)
            if width == 2 {
                for i in 0..<n { tokens[i] = Int32(UInt16(littleEndian: body.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self))) }
            } else {
                for i in 0..<n { tokens[i] = Int32(bitPattern: UInt32(littleEndian: body.loadUnaligned(fromByteOffset: 4 * i, as: UInt32.self))) }
            }
            if let i = tokens.firstIndex(where: { $0 < 0 || UInt64($0) >= vocab }) {
                throw DataError(url, "tokens: token \(UInt32(bitPattern: tokens[i])) at index \(i) is outside vocab_size \(vocab)")
            }
            return TokenShard(tokens: tokens, vocabSize: Int(vocab), tokenizerName: name,
                              documentCount: Int(docs), contentHash: hex(actual))
        }
    }

    private static func sha256(_ bytes: [UInt8]) -> [UInt8] {
        let h = SHA256Hasher()
        h.update(bytes)
        return h.finalize()
    }
}
