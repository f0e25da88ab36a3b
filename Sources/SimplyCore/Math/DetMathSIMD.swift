/// Eight-lane versions of DetMath's per-element Float functions for the hot
/// element-wise loops (softmax, cross-entropy, SwiGLU). Each lane does exactly
/// the scalar function's operations in the same order — the same clamps,
/// fmas, bit tricks and two power-of-two scalings — so lane i equals
/// `DetMath.exp(x[i])` bit for bit (DetMathSIMDTests checks it on edge cases
/// and millions of inputs). Only independent elements share a vector; no sum
/// is reordered.
extension DetMath {
    /// e^x per lane, bitwise equal to `exp(_: Float)`.
    @inlinable @inline(__always)
    public static func exp(_ x: SIMD8<Float>) -> SIMD8<Float> {
        var x = x
        // Comparisons are false for NaN, so NaN lanes pass through as in the scalar selects.
        x.replace(with: 89, where: x .> 89)
        x.replace(with: -104, where: x .< -104)
        let shifter = SIMD8<Float>(repeating: 0x1.8p23)
        let t = shifter.addingProduct(x, SIMD8(repeating: 0x1.715476p+0))
        let kf = t - shifter
        let k = unsafeBitCast(unsafeBitCast(t, to: SIMD8<UInt32>.self) &- unsafeBitCast(shifter, to: SIMD8<UInt32>.self),
                              to: SIMD8<Int32>.self)
        var r = x.addingProduct(-kf, SIMD8(repeating: 0x1.62e43p-1))
        r = r.addingProduct(-kf, SIMD8(repeating: -0x1.05c61p-29))
        var p = SIMD8<Float>(repeating: 0x1.6a243ap-10)
        p = SIMD8<Float>(repeating: 0x1.1239ep-7).addingProduct(p, r)
        p = SIMD8<Float>(repeating: 0x1.5558f2p-5).addingProduct(p, r)
        p = SIMD8<Float>(repeating: 0x1.555492p-3).addingProduct(p, r)
        p = SIMD8<Float>(repeating: 0x1.fffffcp-2).addingProduct(p, r)
        p = SIMD8<Float>(repeating: 1).addingProduct(p, r)
        p = SIMD8<Float>(repeating: 1).addingProduct(p, r)
        let k1 = k &>> 1
        let k2 = k &- k1
        let s1 = unsafeBitCast(unsafeBitCast(k1 &+ 127, to: SIMD8<UInt32>.self) &<< 23, to: SIMD8<Float>.self)
        let s2 = unsafeBitCast(unsafeBitCast(k2 &+ 127, to: SIMD8<UInt32>.self) &<< 23, to: SIMD8<Float>.self)
        return p * s1 * s2
    }
}

/// Row helpers for the element-wise passes: unaligned 8-lane loads and stores
/// through raw pointers.
public enum Lanes {
    @inlinable @inline(__always)
    public static func load(_ p: UnsafePointer<Float>) -> SIMD8<Float> {
        UnsafeRawPointer(p).loadUnaligned(as: SIMD8<Float>.self)
    }

    @inlinable @inline(__always)
    public static func store(_ v: SIMD8<Float>, _ p: UnsafeMutablePointer<Float>) {
        UnsafeMutableRawPointer(p).storeBytes(of: v, as: SIMD8<Float>.self)
    }

    /// The value of `m = -inf; for j in 0..<n { m = max(m, x[j]) }` (Swift's
    /// `max`, which keeps `m` when x[j] is NaN and takes x[j] on ties), bit for
    /// bit. The largest non-NaN value does not depend on the order; only the
    /// sign of a zero maximum does (+0 and −0 tie), so that case is decided by
    /// the sequential scan itself.
    @inlinable
    public static func rowMax(_ x: UnsafePointer<Float>, _ n: Int) -> Float {
        var m8 = SIMD8<Float>(repeating: -.infinity)
        var j = 0
        while j + 8 <= n {
            let v = load(x + j)
            m8.replace(with: v, where: v .> m8)
            j += 8
        }
        var m = -Float.infinity
        for l in 0..<8 where m8[l] > m { m = m8[l] }
        while j < n { if x[j] > m { m = x[j] }; j += 1 }
        if m == 0 {
            m = -.infinity
            for i in 0..<n { m = max(m, x[i]) }
        }
        return m
    }

    /// x[j] = DetMath.exp(x[j] − shift) for j in 0..<n.
    @inlinable
    public static func expShifted(_ x: UnsafeMutablePointer<Float>, _ n: Int, shift: Float) {
        expShifted(x, UnsafePointer(x), n, shift: shift)
    }

    /// dst[j] = DetMath.exp(src[j] − shift) for j in 0..<n.
    @inlinable
    public static func expShifted(_ dst: UnsafeMutablePointer<Float>, _ src: UnsafePointer<Float>, _ n: Int, shift: Float) {
        let s8 = SIMD8<Float>(repeating: shift)
        var j = 0
        while j + 8 <= n {
            store(DetMath.exp(load(src + j) - s8), dst + j)
            j += 8
        }
        while j < n { dst[j] = DetMath.exp(src[j] - shift); j += 1 }
    }

    /// The left-to-right sum s = 0; s += x[0]; s += x[1]; … (one chain, never reassociated).
    @inlinable
    public static func sequentialSum(_ x: UnsafePointer<Float>, _ n: Int) -> Float {
        var s: Float = 0
        for j in 0..<n { s += x[j] }
        return s
    }
}
