/// Project-owned elementary functions (docs/design.md, contract 4): fixed
/// polynomials built from +, -, *, /, explicit fma (`addingProduct`), sqrt
/// and bit operations only, so their bits are the same on every IEEE-754
/// machine, unlike glibc's (whose results change with the CPU and version).
///
/// Float functions (this file) are the per-element ones of the hot loops.
/// `exp` works in Float with a minimax polynomial; `log`, `tanh`, `erf` and
/// `rsqrt` evaluate in Double and round once at the end, which makes them
/// nearly correctly rounded. Double functions are in DetMathDouble.swift and
/// DetMathTrig.swift. Measured errors are listed in DetMathTests.
///
/// Constants: every split constant and minimax coefficient was derived by
/// tools/detmath/fit_coefficients.py (mpmath, Remez exchange); Taylor
/// coefficients are written as exact rationals and rounded by the compiler's
/// correctly rounded literal conversion or IEEE division (same bits anywhere).
///
/// Changing any coefficient changes bits: regenerate golden/detmath.json in
/// the same commit (see DetMathTests, `SIMPLY_UPDATE_GOLDEN`).
public enum DetMath {
    // MARK: exp (Float)

    /// e^x. Method: x = k*ln2 + r with k = round(x*log2(e)) and a two-part
    /// Cody-Waite ln2 (the first step is exact under fma), |r| <= ln2/2;
    /// exp(r) = 1 + r + r^2*q(r) with q a degree-4 minimax polynomial
    /// (relative error 3.1e-9 before the coefficients are rounded to Float;
    /// fit_coefficients.py), evaluated by Horner with fma. The result is
    /// scaled by 2^k as two exact powers of two, so overflow gives +inf and
    /// underflow rounds once into the subnormals. Branch-free apart from two
    /// clamps (selects). Max error < 1 ulp.
    @inlinable @inline(__always)
    public static func exp(_ x: Float) -> Float {
        // Clamp so k stays in [-150, 129]; exp(89) still overflows to +inf and
        // exp(-104) still underflows to 0. NaN fails both tests and propagates.
        var x = x
        x = x > 89 ? 89 : x
        x = x < -104 ? -104 : x
        // k = nearest integer to x*log2(e): adding 1.5*2^23 rounds the fraction
        // away and leaves k in the low significand bits (no Float->Int
        // conversion, so NaN cannot trap).
        let shifter: Float = 0x1.8p23
        let t = shifter.addingProduct(x, 0x1.715476p+0)
        let kf = t - shifter
        let k = Int32(bitPattern: t.bitPattern &- shifter.bitPattern)
        // r = x - k*ln2; ln2Hi has 21 significant bits, so the first fma is exact.
        var r = x.addingProduct(-kf, 0x1.62e43p-1)
        r = r.addingProduct(-kf, -0x1.05c61p-29)
        var p: Float = 0x1.6a243ap-10
        p = (0x1.1239ep-7 as Float).addingProduct(p, r)
        p = (0x1.5558f2p-5 as Float).addingProduct(p, r)
        p = (0x1.555492p-3 as Float).addingProduct(p, r)
        p = (0x1.fffffcp-2 as Float).addingProduct(p, r)
        p = (1 as Float).addingProduct(p, r)
        p = (1 as Float).addingProduct(p, r)
        return scaleByPowerOfTwo(p, k)
    }

    /// y * 2^k for k in [-150, 129]: two multiplications by normal powers of
    /// two, so only the last one can round (into the subnormals or to inf).
    @usableFromInline @inline(__always)
    static func scaleByPowerOfTwo(_ y: Float, _ k: Int32) -> Float {
        let k1 = k >> 1
        let k2 = k &- k1
        let s1 = Float(bitPattern: UInt32(truncatingIfNeeded: k1 &+ 127) &<< 23)
        let s2 = Float(bitPattern: UInt32(truncatingIfNeeded: k2 &+ 127) &<< 23)
        return y * s1 * s2
    }

    // MARK: log (Float)

    /// Natural log. Method (in Double, exact conversion, subnormal Floats are
    /// normal Doubles): x = 2^e * m with m in [sqrt(1/2), sqrt(2)),
    /// s = (m-1)/(m+1), log(m) = 2*atanh(s) = 2s + 2s^3/3 + ... + 2s^11/11
    /// (Taylor, |s| <= 0.1716, truncation < 6e-11 relative), plus e*ln2;
    /// one rounding to Float at the end.
    /// log(0) = -inf, log(x<0) = NaN, log(inf) = inf, log(NaN) = NaN.
    @inlinable
    public static func log(_ x: Float) -> Float {
        guard x > 0 && x < .infinity else {
            if x == 0 { return -.infinity }
            return x == .infinity ? x : .nan
        }
        let (e, m) = splitSqrtHalf(Double(x).bitPattern)
        let f = m - 1
        let s = f / (2 + f)
        let z = s * s
        var q = 2.0 / 11
        q = (2.0 / 9).addingProduct(q, z)
        q = (2.0 / 7).addingProduct(q, z)
        q = (2.0 / 5).addingProduct(q, z)
        q = (2.0 / 3).addingProduct(q, z)
        let logm = 2 * s + s * z * q
        return Float(Double(e) * 0x1.62e42fefa39efp-1 + logm)
    }

    /// For a positive normal Double's bits: (e, m) with value = 2^e * m and
    /// m in [sqrt(1/2), sqrt(2)). Adding (1.0 - sqrt(1/2)) to the bits carries
    /// into the exponent exactly when the significand is >= sqrt(2).
    @usableFromInline @inline(__always)
    static func splitSqrtHalf(_ bits: UInt64) -> (Int, Double) {
        let sqrtHalfBits: UInt64 = 0x3FE6_A09E_667F_3BCD
        let b = bits &+ (0x3FF0_0000_0000_0000 &- sqrtHalfBits)
        let e = Int(b >> 52) - 1023
        let m = Double(bitPattern: (b & 0x000F_FFFF_FFFF_FFFF) &+ sqrtHalfBits)
        return (e, m)
    }

    // MARK: tanh (Float)

    /// Hyperbolic tangent, in Double. |x| < 1/16: Taylor series
    /// x - x^3/3 + 2x^5/15 - 17x^7/315 + 62x^9/2835 (truncation < 1e-14
    /// relative). 1/16 <= |x| < 9.1: (t-1)/(t+1) with t = e^(2|x|) from the
    /// Double exp (t-1 loses at most 4 bits of 53). |x| >= 9.1: +-1, which is
    /// tanh correctly rounded to Float there. tanh(NaN) = NaN, tanh(-0) = -0.
    @inlinable
    public static func tanh(_ x: Float) -> Float {
        let a = x.magnitude
        if a < 0x1p-12 { return x }  // tanh(x) rounds to x (and keeps -0)
        if a < 0.0625 {
            let d = Double(x)
            let z = d * d
            var q = 62.0 / 2835
            q = (-17.0 / 315).addingProduct(q, z)
            q = (2.0 / 15).addingProduct(q, z)
            q = (-1.0 / 3).addingProduct(q, z)
            return Float(d + d * z * q)
        }
        if a >= 9.1 { return x > 0 ? 1 : -1 }
        let t = expForFloat(2 * Double(a))  // NaN stays NaN
        let y = Float((t - 1) / (t + 1))
        return x < 0 ? -y : y
    }

    // MARK: erf (Float)

    /// Error function, in Double. |x| < 1: erf(x) = x*A(x^2), A a degree-7
    /// minimax polynomial (relative error 3.3e-11). 1 <= |x| < 4:
    /// erf = 1 - e^(-x^2) * B(|x| - 2.5), B a degree-13 minimax polynomial
    /// for erfc(x)*e^(x^2) (relative error 9.2e-10, and erfc < 0.16 there).
    /// |x| >= 4: +-1 (erfc(4) = 1.5e-8 is below half an ulp of 1).
    /// Coefficients: fit_coefficients.py.
    @inlinable
    public static func erf(_ x: Float) -> Float {
        let d = Double(x)
        let a = d.magnitude
        if a < 1 {
            let z = d * d
            var p = -0x1.4384057a9450ep-17
            p = (0x1.d8269208b72abp-14).addingProduct(p, z)
            p = (-0x1.bcbe9a880529bp-11).addingProduct(p, z)
            p = (0x1.5628edef89fc8p-8).addingProduct(p, z)
            p = (-0x1.b829a7a5ddb76p-6).addingProduct(p, z)
            p = (0x1.ce2f0798ae5ebp-4).addingProduct(p, z)
            p = (-0x1.8127465fb9834p-2).addingProduct(p, z)
            p = (0x1.20dd7504007e6p+0).addingProduct(p, z)
            return Float(d * p)
        }
        guard a < 4 else { return a.isNaN ? x : (x > 0 ? 1 : -1) }
        let u = a - 2.5
        var b = -0x1.a027cda6cb820p-26
        b = (0x1.c790fade1488ap-24).addingProduct(b, u)
        b = (-0x1.0c1d14fc96764p-22).addingProduct(b, u)
        b = (0x1.0092ba1b5e4e5p-20).addingProduct(b, u)
        b = (-0x1.1cc235c038919p-18).addingProduct(b, u)
        b = (0x1.0f38cbed578bdp-16).addingProduct(b, u)
        b = (-0x1.edb773fb24553p-15).addingProduct(b, u)
        b = (0x1.ba3341c40ab4cp-13).addingProduct(b, u)
        b = (-0x1.809cb4537457ep-11).addingProduct(b, u)
        b = (0x1.435e0e6cf5cbep-9).addingProduct(b, u)
        b = (-0x1.06320c6e8a9f4p-7).addingProduct(b, u)
        b = (0x1.9895816c97d6ap-6).addingProduct(b, u)
        b = (-0x1.3086d7dbf5945p-4).addingProduct(b, u)
        b = (0x1.afbb3f41f3c12p-3).addingProduct(b, u)
        let y = Float(1 - expForFloat(-a * a) * b)
        return x < 0 ? -y : y
    }

    /// e^x in Double to ~2e-13 relative, for Float results computed in
    /// Double (tanh, erf); inlinable, unlike the full-precision Double exp.
    /// Valid for x in [-700, 700] (callers stay well inside); NaN -> NaN.
    /// Method: as `exp(Double)` (k = round(x/ln2), exact first Cody-Waite
    /// step under fma) with the Taylor series of e^r cut after r^10/10!
    /// (truncation 0.3466^11/11! < 2.3e-13).
    @usableFromInline @inline(__always)
    static func expForFloat(_ x: Double) -> Double {
        let shifter = 0x1.8p52
        let t = shifter.addingProduct(x, 0x1.71547652b82fep+0)
        let kf = t - shifter
        let k = Int64(bitPattern: t.bitPattern &- shifter.bitPattern)
        var r = x.addingProduct(-kf, 0x1.62e42fefa39efp-1)
        r = r.addingProduct(-kf, 0x1.abc9e3b39803fp-56)
        var p = 1.0 / 3_628_800          // 1/10!
        p = (1.0 / 362_880).addingProduct(p, r)        // 1/9!
        p = (1.0 / 40_320).addingProduct(p, r)         // 1/8!
        p = (1.0 / 5_040).addingProduct(p, r)          // 1/7!
        p = (1.0 / 720).addingProduct(p, r)            // 1/6!
        p = (1.0 / 120).addingProduct(p, r)            // 1/5!
        p = (1.0 / 24).addingProduct(p, r)             // 1/4!
        p = (1.0 / 6).addingProduct(p, r)              // 1/3!
        p = (0.5).addingProduct(p, r)
        p = (1.0).addingProduct(p, r)
        p = (1.0).addingProduct(p, r)
        return p * Double(bitPattern: UInt64(truncatingIfNeeded: k &+ 1023) &<< 52)
    }

    // MARK: rsqrt (Float)

    /// 1/sqrt(x), in Double (sqrt and / are correctly rounded by IEEE-754),
    /// then one rounding to Float. rsqrt(0) = inf, rsqrt(-0) = -inf,
    /// rsqrt(x<0) = NaN, rsqrt(inf) = 0.
    @inlinable @inline(__always)
    public static func rsqrt(_ x: Float) -> Float {
        Float(1 / Double(x).squareRoot())
    }
}
