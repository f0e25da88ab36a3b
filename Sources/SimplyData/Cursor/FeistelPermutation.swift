import SimplyCore

/// A keyed pseudo-random bijection on 0..<n, for any n >= 1, evaluated one
/// index at a time (no table): the data order of an epoch.
///
/// A balanced Feistel network on the smallest even bit width 2h with
/// 2^(2h) >= n (h >= 1): the value splits into halves (L, R) of h bits and
/// each round maps (L, R) -> (R, L xor F(round, R)), which is invertible
/// whatever F is. F is Philox under the key of `RandomStream(seed:, name:
/// "data.perm")` with counter (epoch, round, R), truncated to h bits. Values
/// that land outside 0..<n are encrypted again ("cycle-walking"); since the
/// network permutes the whole domain, following the cycle from an index
/// below n must come back below n, and the walk restricted to 0..<n is still
/// a bijection. The domain is < 4n, so a walk takes < 4 steps on average.
public struct FeistelPermutation: Sendable {
    public static let rounds = 6

    public let n: UInt64
    public let epoch: UInt64
    let stream: RandomStream
    let halfBits: UInt64
    let mask: UInt64

    public init(n: UInt64, seed: UInt64, epoch: UInt64) {
        precondition(n >= 1, "FeistelPermutation needs n >= 1")
        var h: UInt64 = 1
        while h < 32 && (UInt64(1) << (2 * h)) < n { h += 1 }
        self.n = n
        self.epoch = epoch
        self.stream = RandomStream(seed: seed, name: "data.perm")
        self.halfBits = h
        self.mask = h == 32 ? UInt64(UInt32.max) : (UInt64(1) << h) - 1
    }

    /// One pass of the network over the full 2^(2h) domain.
    @inline(__always)
    func encrypt(_ x: UInt64) -> UInt64 {
        var left = x >> halfBits
        var right = x & mask
        for round in 0..<UInt64(Self.rounds) {
            // Counter words: (epoch lo, epoch hi, round, R).
            let f = UInt64(stream.words(epoch, round | (right << 32)).0) & mask
            (left, right) = (right, left ^ f)
        }
        return (left << halfBits) | right
    }

    /// The position of index `i` in this epoch's order.
    public func apply(_ i: UInt64) -> UInt64 {
        precondition(i < n, "index \(i) out of range 0..<\(n)")
        var y = encrypt(i)
        while y >= n { y = encrypt(y) }
        return y
    }
}
