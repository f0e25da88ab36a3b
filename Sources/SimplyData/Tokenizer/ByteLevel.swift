/// GPT-2's reversible byte ↔ character table, as used by Hugging Face
/// `ByteLevel` pre-tokenizer and decoder: every byte becomes one printable
/// Unicode character so a BPE vocabulary can be stored as strings.
/// Bytes 33–126, 161–172 and 174–255 map to the character with the same code;
/// the other 68 bytes (controls, space, 127–160, 173) map to U+0100, U+0101, …
/// in byte order (so space, byte 32, becomes U+0120 "Ġ").
public enum ByteLevel {
    /// `scalar[b]` is the character for byte `b`.
    public static let scalars: [Unicode.Scalar] = {
        var out = [Unicode.Scalar](repeating: "\0", count: 256)
        var next: UInt32 = 256
        for b in 0..<256 {
            if (33...126).contains(b) || (161...172).contains(b) || (174...255).contains(b) {
                out[b] = Unicode.Scalar(UInt32(b))!
            } else {
                out[b] = Unicode.Scalar(next)!
                next += 1
            }
        }
        return out
    }()

    /// The byte a table character stands for, or nil for a character outside the table.
    public static func byte(for scalar: Unicode.Scalar) -> UInt8? {
        let v = scalar.value
        if v < 256 { return (33...126).contains(v) || (161...172).contains(v) || (174...255).contains(v) ? UInt8(v) : nil }
        guard v < 256 + 68 else { return nil }
        return inverseHigh[Int(v - 256)]
    }

    /// Bytes of U+0100…U+0143, in order.
    private static let inverseHigh: [UInt8] = {
        var out = [UInt8](repeating: 0, count: 68)
        for b in 0..<256 where scalars[b].value >= 256 { out[Int(scalars[b].value) - 256] = UInt8(b) }
        return out
    }()

    /// The token string of a byte sequence (each byte to its character).
    public static func encode<S: Sequence>(_ bytes: S) -> String where S.Element == UInt8 {
        var s = String.UnicodeScalarView()
        for b in bytes { s.append(scalars[Int(b)]) }
        return String(s)
    }

    /// The bytes of a token string, or nil when a character is not in the table.
    public static func decode(_ token: String) -> [UInt8]? {
        var out: [UInt8] = []
        out.reserveCapacity(token.unicodeScalars.count)
        for u in token.unicodeScalars {
            guard let b = byte(for: u) else { return nil }
            out.append(b)
        }
        return out
    }
}
