/// The simplest tokenizer: one token per UTF-8 byte (ids 0...255), plus three
/// specials: 256 `<|bos|>`, 257 `<|eos|>`, 258 `<|pad|>`. It needs no
/// training and round-trips any text exactly.
public struct ByteTokenizer: Tokenizer {
    public let vocabSize = 259
    public let bos: Int32 = 256
    public let eos: Int32 = 257
    public let pad: Int32 = 258
    public let name = "byte"

    public init() {}

    /// Only bos, eos and pad: the chat markers are written as text.
    public func specialToken(_ content: String) -> Int32? {
        switch content {
        case SpecialTokens.bos: return bos
        case SpecialTokens.eos: return eos
        case SpecialTokens.pad: return pad
        default: return nil
        }
    }

    public func encode(_ text: String) -> [Int32] {
        // Fast path over the string's contiguous UTF-8 storage (native strings).
        if let ids = text.utf8.withContiguousStorageIfAvailable({ bytes in
            [Int32](unsafeUninitializedCapacity: bytes.count) { out, n in
                for i in 0..<bytes.count { out[i] = Int32(bytes[i]) }
                n = bytes.count
            }
        }) { return ids }
        return text.utf8.map { Int32($0) }
    }

    /// Byte runs are decoded as UTF-8 together, so multi-byte characters
    /// survive; an invalid byte sequence becomes U+FFFD. Specials render as
    /// their names; an id outside the vocabulary renders as `<|unk:ID|>`.
    public func decode(_ ids: [Int32]) -> String {
        var out = ""
        var run: [UInt8] = []
        func flush() {
            if !run.isEmpty { out += String(decoding: run, as: UTF8.self); run.removeAll(keepingCapacity: true) }
        }
        for id in ids {
            if id >= 0 && id < 256 { run.append(UInt8(id)); continue }
            flush()
            switch id {
            case bos: out += "<|bos|>"
            case eos: out += "<|eos|>"
            case pad: out += "<|pad|>"
            default: out += "<|unk:\(id)|>"
            }
        }
        flush()
        return out
    }
}
