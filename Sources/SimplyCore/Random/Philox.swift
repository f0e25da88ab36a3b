/// Philox4x32-10 (Salmon et al., "Parallel random numbers: as easy as 1, 2, 3",
/// SC'11; Random123). A counter-based generator: the output is a pure
/// function of (counter, key), so there is no generator state to save,
/// split or restore. Checked against Random123's known-answer vectors.
public enum Philox {
    public typealias Counter = (UInt32, UInt32, UInt32, UInt32)
    public typealias Key = (UInt32, UInt32)

    static let m0: UInt32 = 0xD251_1F53
    static let m1: UInt32 = 0xCD9E_8D57
    static let w0: UInt32 = 0x9E37_79B9  // golden ratio
    static let w1: UInt32 = 0xBB67_AE85  // sqrt(3) - 1

    @inline(__always)
    static func mulhilo(_ a: UInt32, _ b: UInt32) -> (hi: UInt32, lo: UInt32) {
        let p = UInt64(a) &* UInt64(b)
        return (UInt32(truncatingIfNeeded: p >> 32), UInt32(truncatingIfNeeded: p))
    }

    /// Ten rounds of Philox4x32 on `counter` under `key`.
    @inline(__always)
    public static func block(_ counter: Counter, key: Key) -> Counter {
        var c = counter
        var k = key
        for round in 0..<10 {
            if round > 0 { k.0 &+= w0; k.1 &+= w1 }
            let p0 = mulhilo(m0, c.0)
            let p1 = mulhilo(m1, c.2)
            c = (p1.hi ^ c.1 ^ k.0, p1.lo, p0.hi ^ c.3 ^ k.1, p0.lo)
        }
        return c
    }
}

/// A named stream of counter-based randomness: `key = derive(seed, name)`,
/// and each draw is `Philox(counter: (i0, i1), key)` for caller-chosen
/// 64-bit indices, e.g. (step, element). Every use of randomness in Simply
/// (init, dropout, data order, sampling) names its own stream.
public struct RandomStream: Sendable, Equatable {
    public let key0: UInt32
    public let key1: UInt32

    public init(seed: UInt64, name: String) {
        // FNV-1a over the name's UTF-8 bytes, then mixed with the seed by SplitMix64's finalizer.
        var h: UInt64 = 0xCBF2_9CE4_8422_2325
        for byte in name.utf8 { h = (h ^ UInt64(byte)) &* 0x0000_0100_0000_01B3 }
        var z = seed &+ 0x9E37_79B9_7F4A_7C15 &* (h | 1)
        z ^= h
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        z ^= z >> 31
        key0 = UInt32(truncatingIfNeeded: z)
        key1 = UInt32(truncatingIfNeeded: z >> 32)
    }

    public init(key0: UInt32, key1: UInt32) { self.key0 = key0; self.key1 = key1 }

    /// Four 32-bit words for counter (i0, i1).
    @inline(__always)
    public func words(_ i0: UInt64, _ i1: UInt64 = 0) -> Philox.Counter {
        Philox.block((UInt32(truncatingIfNeeded: i0), UInt32(truncatingIfNeeded: i0 >> 32),
                      UInt32(truncatingIfNeeded: i1), UInt32(truncatingIfNeeded: i1 >> 32)),
                     key: (key0, key1))
    }

    /// A 64-bit value for counter (i0, i1).
    public func uint64(_ i0: UInt64, _ i1: UInt64 = 0) -> UInt64 {
        let w = words(i0, i1)
        return UInt64(w.0) | (UInt64(w.1) << 32)
    }

    /// A uniform float in [0, 1) with 24 random bits.
    public func uniform(_ i0: UInt64, _ i1: UInt64 = 0) -> Float {
        Float(words(i0, i1).0 >> 8) * (1.0 / 16_777_216.0)
    }

    /// A standard normal float (Box–Muller on two 32-bit words, in Double with
    /// project-owned log/sin/cos, rounded once to Float).
    public func normal(_ i0: UInt64, _ i1: UInt64 = 0) -> Float {
        let w = words(i0, i1)
        // u1 in (0, 1], u2 in [0, 1)
        let u1 = (Double(w.0) + 1.0) * (1.0 / 4_294_967_296.0)
        let u2 = Double(w.1) * (1.0 / 4_294_967_296.0)
        let r = (-2.0 * DetMath.log(u1)).squareRoot()
        return Float(r * DetMath.cos(2.0 * Double.pi * u2))
    }
}
