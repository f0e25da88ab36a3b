import Foundation
import SimplyCore

/// A prepared post-training dataset ("example shard"): tokenized examples with
/// per-token loss masks. A fixed 128-byte header, then the examples.
///
///     offset  size  field
///          0     8  magic           "SIMPLYEX" (ASCII)
///          8     4  version         UInt32 LE, currently 1
///         12     4  kind            UInt32 LE: 1 supervised, 2 preference, 3 prompt
///         16     4  token_width     UInt32 LE, 2 (vocab_size <= 65536) or 4
///         20     4  reserved        zero
///         24     8  example_count   UInt64 LE
///         32     8  token_count     UInt64 LE, over all sequences
///         40     8  vocab_size      UInt64 LE
///         48    32  sha256          SHA-256 of the body (offset 128 to the end)
///         80    48  tokenizer_name  UTF-8, zero-padded
///        128     …  examples        one after another:
///
///     example  := sequence × (1 | 3 for preference), answer
///     sequence := UInt32 LE length n, n tokens of token_width bytes, n mask bytes (0 or 1)
///     answer   := UInt32 LE byte count (0xFFFFFFFF: none), UTF-8 bytes
///
/// The same examples always give the same bytes; reading checks every field,
/// the hash, token range, masks and the answer's UTF-8, and names the file and
/// the field (or example) that is wrong.
public struct ExampleShard: Sendable {
    public static let magic: [UInt8] = Array("SIMPLYEX".utf8)
    public static let version: UInt32 = 1
    public static let headerSize = 128
    static let noAnswer = UInt32.max

    public let kind: ExampleKind
    public let examples: [PreparedExample]
    public let vocabSize: Int
    public let tokenizerName: String
    public let contentHash: String

    /// True when the file starts with this format's magic.
    public static func isExampleShard(_ url: URL) -> Bool {
        guard let fh = try? FileHandle(forReadingFrom: url) else { return false }
        defer { try? fh.close() }
        guard let head = try? fh.read(upToCount: 8) else { return false }
        return [UInt8](head) == magic
    }

    public static func write(_ examples: [PreparedExample], kind: ExampleKind, vocabSize: Int,
                             tokenizerName: String, to url: URL) throws {
        guard vocabSize >= 1, vocabSize <= Int(Int32.max) else { throw DataError(url, "vocab_size \(vocabSize) is out of range") }
        let name = Array(tokenizerName.utf8)
        guard name.count <= TokenShard.maxNameBytes, !name.contains(0) else {
            throw DataError(url, "tokenizer_name '\(tokenizerName)' must be at most \(TokenShard.maxNameBytes) UTF-8 bytes")
        }
        let width = TokenShard.tokenWidth(vocabSize: vocabSize)
        var body: [UInt8] = []
        var tokenCount = 0
        func put32(_ v: UInt32) { withUnsafeBytes(of: v.littleEndian) { body.append(contentsOf: $0) } }
        for (i, e) in examples.enumerated() {
            guard e.kind == kind else { throw DataError(url, "example \(i) is \(e.kind.rawValue), the file holds \(kind.rawValue) examples") }
            for s in e.sequences {
                if let t = s.tokens.first(where: { $0 < 0 || Int($0) >= vocabSize }) {
                    throw DataError(url, "example \(i): token \(t) is outside vocab_size \(vocabSize)")
                }
                guard s.count <= Int(UInt32.max - 1) else { throw DataError(url, "example \(i): sequence too long") }
                put32(UInt32(s.count))
                body.append(contentsOf: TokenShard.tokenBytes(s.tokens, width: width))
                body.append(contentsOf: s.mask.map { $0 ? 1 : 0 })
                tokenCount += s.count
            }
            if let a = e.answer {
                let bytes = Array(a.utf8)
                guard bytes.count < Int(noAnswer) else { throw DataError(url, "example \(i): answer too long") }
                put32(UInt32(bytes.count))
                body.append(contentsOf: bytes)
            } else {
                put32(noAnswer)
            }
        }
        var header = [UInt8](repeating: 0, count: headerSize)
        func put<T: FixedWidthInteger>(_ v: T, at offset: Int) {
            withUnsafeBytes(of: v.littleEndian) { for (j, b) in $0.enumerated() { header[offset + j] = b } }
        }
        header.replaceSubrange(0..<8, with: magic)
        put(version, at: 8)
        put(kind.code, at: 12)
        put(UInt32(width), at: 16)
        put(UInt64(examples.count), at: 24)
        put(UInt64(tokenCount), at: 32)
        put(UInt64(vocabSize), at: 40)
        let h = SHA256Hasher()
        h.update(body)
        header.replaceSubrange(48..<80, with: h.finalize())
        header.replaceSubrange(80..<(80 + name.count), with: name)
        try TokenShard.writeFile(url, parts: [header, body])
    }

    public static func read(_ url: URL) throws -> ExampleShard {
        let raw: [UInt8]
        do { raw = try FileBytes.read(url) } catch { throw DataError(url, "cannot read example shard: \(error.reason)") }
        guard raw.count >= headerSize else {
            throw DataError(url, "truncated: \(raw.count) bytes, shorter than the \(headerSize)-byte header")
        }
        func get<T: FixedWidthInteger>(_: T.Type, _ offset: Int) -> T {
            var v: T = 0
            for j in 0..<MemoryLayout<T>.size { v |= T(raw[offset + j]) << (8 * j) }
            return v
        }
        guard Array(raw[0..<8]) == magic else {
            throw DataError(url, "magic: expected \"SIMPLYEX\", found \(hex(Array(raw[0..<8]))) (not a Simply example shard)")
        }
        let version = get(UInt32.self, 8)
        guard version == Self.version else { throw DataError(url, "version: format version \(version) is not supported") }
        guard let kind = ExampleKind(code: get(UInt32.self, 12)) else {
            throw DataError(url, "kind: \(get(UInt32.self, 12)) is not 1 (supervised), 2 (preference) or 3 (prompt)")
        }
        let width = Int(get(UInt32.self, 16))
        let count = get(UInt64.self, 24)
        let tokenTotal = get(UInt64.self, 32)
        let vocab = get(UInt64.self, 40)
        guard vocab >= 1, vocab <= UInt64(Int32.max) else { throw DataError(url, "vocab_size: \(vocab) is out of range") }
        guard width == TokenShard.tokenWidth(vocabSize: Int(vocab)) else {
            throw DataError(url, "token_width: \(width) does not match vocab_size \(vocab)")
        }
        guard get(UInt32.self, 20) == 0 else { throw DataError(url, "reserved: bytes 20..<24 are not zero") }
        let nameField = Array(raw[80..<128])
        let nameBytes = nameField.prefix(while: { $0 != 0 })
        guard nameField[nameBytes.count...].allSatisfy({ $0 == 0 }), let name = String(validating: nameBytes, as: UTF8.self) else {
            throw DataError(url, "tokenizer_name: not zero-padded UTF-8")
        }
        let h = SHA256Hasher()
        h.update(Array(raw[headerSize...]))
        let actual = h.finalize()
        guard actual == Array(raw[48..<80]) else {
            throw DataError(url, "sha256: the examples hash to \(hex(actual)) but the header says \(hex(Array(raw[48..<80]))) (file corrupted)")
        }

        var p = headerSize
        func need(_ n: Int, _ what: @autoclosure () -> String) throws {
            guard n >= 0, raw.count - p >= n else { throw DataError(url, "truncated in \(what())") }
        }
        func u32(_ what: @autoclosure () -> String) throws -> UInt32 {
            try need(4, what())
            defer { p += 4 }
            return UInt32(raw[p]) | UInt32(raw[p + 1]) << 8 | UInt32(raw[p + 2]) << 16 | UInt32(raw[p + 3]) << 24
        }
        var examples: [PreparedExample] = []
        var seen: UInt64 = 0
        guard count <= UInt64(raw.count) else { throw DataError(url, "example_count: \(count) is more than the file can hold") }
        examples.reserveCapacity(min(Int(count), raw.count / 4))   // an example takes at least 4 bytes
        for i in 0..<Int(count) {
            var seqs: [MaskedTokens] = []
            for _ in 0..<kind.sequenceCount {
                let n = Int(try u32("example \(i)"))
                try need(n * (width + 1), "example \(i)")
                var tokens = [Int32](repeating: 0, count: n)
                for j in 0..<n {
                    let o = p + j * width
                    let v = width == 2 ? UInt32(raw[o]) | UInt32(raw[o + 1]) << 8
                        : UInt32(raw[o]) | UInt32(raw[o + 1]) << 8 | UInt32(raw[o + 2]) << 16 | UInt32(raw[o + 3]) << 24
                    guard UInt64(v) < vocab else { throw DataError(url, "example \(i): token \(v) is outside vocab_size \(vocab)") }
                    tokens[j] = Int32(v)
                }
                p += n * width
                let maskBytes = raw[p..<(p + n)]
                guard maskBytes.allSatisfy({ $0 <= 1 }) else { throw DataError(url, "example \(i): a mask byte is not 0 or 1") }
                p += n
                seen += UInt64(n)
                seqs.append(MaskedTokens(tokens: tokens, mask: maskBytes.map { $0 == 1 }))
            }
            let a = try u32("example \(i) answer")
            var answer: String? = nil
            if a != noAnswer {
                try need(Int(a), "example \(i) answer")
                guard let s = String(validating: raw[p..<(p + Int(a))], as: UTF8.self) else {
                    throw DataError(url, "example \(i): answer is not valid UTF-8")
                }
                answer = s
                p += Int(a)
            }
            examples.append(PreparedExample(kind: kind, sequences: seqs, answer: answer))
        }
        guard p == raw.count else { throw DataError(url, "\(raw.count - p) bytes after the last example (example_count \(count))") }
        guard seen == tokenTotal else { throw DataError(url, "token_count: header says \(tokenTotal), the examples hold \(seen)") }
        return ExampleShard(kind: kind, examples: examples, vocabSize: Int(vocab), tokenizerName: name, contentHash: hex(actual))
    }
}
