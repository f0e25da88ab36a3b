/// Double exp, log and pow (docs/design.md contract 4). Used for tables and
/// scalars (RoPE frequencies, Adam bias correction, schedules) and inside
/// the Float tanh/erf, so they aim at < 1 ulp rather than speed.
extension DetMath {
    // Split constants (fit_coefficients.py): ln2 = ln2Hi + ln2Lo to ~2^-110.
    static let ln2Hi = 0x1.62e42fefa39efp-1
    static let ln2Lo = 0x1.abc9e3b39803fp-56
    // 42-bit ln2Hi so that e*ln2Hi42 is exact for |e| < 2^11.
    static let ln2Hi42 = 0x1.62e42fefa38p-1
    static let ln2Lo42 = 0x1.ef35793c7673p-45
    static let log2e = 0x1.71547652b82fep+0

    // MARK: exp (Double)

    /// e^x. exp(NaN) = NaN, exp(x > 709.78) = inf, exp(x < -745.13) = 0
    /// (subnormal results are rounded once). See `expCore`.
    public static func exp(_ x: Double) -> Double {
        guard x > -746 && x < 710 else {
            return x.isNaN ? x : (x > 0 ? .infinity : 0)
        }
        return expCore(x, 0)
    }

    /// e^(x + xl) for x in (-746, 710) and |xl| <= ulp(x).
    /// Method: x = k*ln2 + r, k = round(x*log2(e)); x - k*ln2Hi is exact under
    /// fma (|r| < 0.35 and both terms lie on the 2^-53 grid), the rest
    /// (xl - k*ln2Lo) is carried as r's low part dr. exp(r + dr) by
    /// `expKernel`, then scaled by 2^k as two exact powers of two.
    static func expCore(_ x: Double, _ xl: Double) -> Double {
        let shifter = 0x1.8p52
        let t = shifter.addingProduct(x, log2e)
        let kf = t - shifter
        let k = Int64(bitPattern: t.bitPattern &- shifter.bitPattern)
        let rh = x.addingProduct(-kf, ln2Hi)
        let d = xl - kf * ln2Lo
        let r = rh + d
        let dr = (rh - r) + d
        let y = expKernel(r, dr)
        // k in [-1076, 1024]: both halves give normal powers of two.
        let k1 = k >> 1
        let k2 = k - k1
        return y * Double(bitPattern: UInt64(k1 + 1023) << 52)
                 * Double(bitPattern: UInt64(k2 + 1023) << 52)
    }

    /// exp(r + dr) for |r| <= ~0.35, |dr| <= ulp(r). Taylor series:
    /// exp(r) = 1 + r + r^2*q(r), q(r) = sum_{n=2..13} r^(n-2)/n!
    /// (truncation r^14/14! < 5e-18). The sum is formed as
    /// 1 + (r + (r^2*q + dr*(1+r))) so only the last addition rounds at the
    /// result's scale: error < 0.8 ulp.
    @inline(__always)
    static func expKernel(_ r: Double, _ dr: Double) -> Double {
        var q = 1.0 / 6_227_020_800      // 1/13!
        q = q * r + 1.0 / 479_001_600    // 1/12!
        q = q * r + 1.0 / 39_916_800     // 1/11!
        q = q * r + 1.0 / 3_628_800      // 1/10!
        q = q * r + 1.0 / 362_880        // 1/9!
        q = q * r + 1.0 / 40_320         // 1/8!
        q = q * r + 1.0 / 5_040          // 1/7!
        q = q * r + 1.0 / 720            // 1/6!
        q = q * r + 1.0 / 120            // 1/5!
        q = q * r + 1.0 / 24             // 1/4!
        q = q * r + 1.0 / 6              // 1/3!
        q = q * r + 0.5                  // 1/2!
        let tail = (r * r) * q + dr * (1 + r)
        return 1 + (r + tail)
    }

    // MARK: log (Double)

    /// Natural log. Method: x = 2^e * (1+f), 1+f in [sqrt(1/2), sqrt(2)),
    /// s = f/(2+f), log(1+f) = 2s + s*R with R = sum_{n=1..10} 2 s^(2n)/(2n+1)
    /// (Taylor of 2*atanh, |s| <= 0.1716, truncation < 1e-18 relative).
    /// Using 2s = f - s*f = f - hfsq + s*hfsq (hfsq = f^2/2), the sum is
    /// formed as e*ln2Hi + (f - (hfsq - (s*(hfsq + R) + e*ln2Lo))), so the
    /// rounding error of s only touches a small correction term: < 1 ulp.
    /// log(0) = -inf, log(x<0) = NaN, log(inf) = inf, log(NaN) = NaN.
    public static func log(_ x: Double) -> Double {
        guard x > 0 && x < .infinity else {
            if x == 0 { return -.infinity }
            return x == .infinity ? x : .nan
        }
        let (e, f) = logReduce(x)
        let s = f / (2 + f)
        let z = s * s
        var q = 2.0 / 21
        q = q * z + 2.0 / 19
        q = q * z + 2.0 / 17
        q = q * z + 2.0 / 15
        q = q * z + 2.0 / 13
        q = q * z + 2.0 / 11
        q = q * z + 2.0 / 9
        q = q * z + 2.0 / 7
        q = q * z + 2.0 / 5
        q = q * z + 2.0 / 3
        let R = z * q
        let hfsq = 0.5 * f * f
        let ed = Double(e)
        return ed * ln2Hi42 + (f - (hfsq - (s * (hfsq + R) + ed * ln2Lo42)))
    }

    /// (e, f) with x = 2^e * (1+f), 1+f in [sqrt(1/2), sqrt(2)), f exact,
    /// for positive finite x (subnormals are scaled by 2^54 first).
    static func logReduce(_ x: Double) -> (Int, Double) {
        if x < 0x1p-1022 {
            let (e, m) = splitSqrtHalf((x * 0x1p54).bitPattern)
            return (e - 54, m - 1)
        }
        let (e, m) = splitSqrtHalf(x.bitPattern)
        return (e, m - 1)
    }

    /// log(x) as an unevaluated sum hi + lo with relative error ~2^-64, for
    /// pow. Same reduction as `log`, but s = f/(2+f) is carried as a
    /// double-double (exact remainders with fma), the first two series terms
    /// 2s + (2/3)s^3 are summed in double-double, and only the tail
    /// s^5 * sum_{n=0..10} 2 s^(2n)/(2n+5) (< 3.5e-4 of the total) in Double.
    static func logDoubleDouble(_ x: Double) -> (hi: Double, lo: Double) {
        let (e, f) = logReduce(x)
        // s = f / (2 + f) = sh + sl
        let uh = 2 + f
        let ul = f - (uh - 2)                       // exact: 2 + f = uh + ul
        let sh = f / uh
        let rem = f.addingProduct(-sh, uh)          // f - sh*uh, exact
        let sl = (rem - sh * ul) / uh
        // s^2 and s^3 as double-doubles (terms below 2^-106 relative dropped)
        let z = sh * sh
        let s2l = (-z).addingProduct(sh, sh) + 2 * sh * sl
        let s3h = z * sh
        let s3l = (-s3h).addingProduct(z, sh) + (s2l * sh + z * sl)
        // (2/3) s^3, with 2/3 = c3h + c3l
        let c3h = 0x1.5555555555555p-1, c3l = 0x1.5555555555555p-55
        let bh = s3h * c3h
        let bl = (-bh).addingProduct(s3h, c3h) + (s3h * c3l + s3l * c3h)
        // tail s^5 * T(z)
        var q = 2.0 / 25
        q = q * z + 2.0 / 23
        q = q * z + 2.0 / 21
        q = q * z + 2.0 / 19
        q = q * z + 2.0 / 17
        q = q * z + 2.0 / 15
        q = q * z + 2.0 / 13
        q = q * z + 2.0 / 11
        q = q * z + 2.0 / 9
        q = q * z + 2.0 / 7
        q = q * z + 2.0 / 5
        let tail = s3h * z * q
        // log(1+f) = 2s + b + tail; |b| << |2s| so Fast2Sum applies
        let a = 2 * sh + bh
        let ae = bh - (a - 2 * sh)
        var lo = ae + ((2 * sl + bl) + tail)
        // + e*ln2 (e*ln2Hi42 exact), TwoSum since either side may dominate
        let ed = Double(e)
        let kh = ed * ln2Hi42
        let h = kh + a
        let bb = h - kh
        let he = (kh - (h - bb)) + (a - bb)
        lo = he + (lo + ed * ln2Lo42)
        let hi = h + lo
        return (hi, lo - (hi - h))
    }

    // MARK: pow (Double)

    /// x^y. For finite x != 0: |x|^y = exp(y * log|x|) with log|x| as a
    /// double-double (`logDoubleDouble`), the product y*log|x| kept exactly
    /// to ~2^-106 with fma, and its low part fed into `expCore`'s reduction:
    /// relative error ~1 ulp (2e-16) for any result in range.
    /// Special cases follow C99/IEEE-754 pow: pow(x, ±0) = 1, pow(1, y) = 1,
    /// NaN otherwise propagates, negative x needs an integer y (sign from its
    /// parity, else NaN), zeros and infinities as in Annex F.
    public static func pow(_ x: Double, _ y: Double) -> Double {
        if y == 0 || x == 1 { return 1 }
        if x.isNaN || y.isNaN { return .nan }
        let yIsInteger = y.isFinite && y.rounded(.towardZero) == y
        let yIsOdd = yIsInteger && y.magnitude < 0x1p53
            && (0.5 * y).rounded(.towardZero) != 0.5 * y
        let ax = x.magnitude
        if y.isInfinite {
            if ax == 1 { return 1 }
            return (ax > 1) == (y > 0) ? .infinity : 0
        }
        if x == 0 || ax.isInfinite {
            // |x|^y is 0 or inf; the sign survives only for odd integer y.
            let big = (x == 0) == (y < 0)
            let sign: Double = (x < 0 || (x == 0 && x.sign == .minus)) && yIsOdd ? -1 : 1
            return sign * (big ? .infinity : 0)
        }
        if x < 0 && !yIsInteger { return .nan }
        let sign: Double = x < 0 && yIsOdd ? -1 : 1
        let (lh, ll) = logDoubleDouble(ax)
        let ph = y * lh
        let pl = (-ph).addingProduct(y, lh) + y * ll
        guard ph > -746 && ph < 710 else { return sign * (ph > 0 ? .infinity : 0) }
        return sign * expCore(ph, pl)
    }
}
