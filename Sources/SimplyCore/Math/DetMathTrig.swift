/// Double sin and cos (docs/design.md contract 4), for RoPE tables.
///
/// Method: reduce x = n*(pi/2) + r, |r| <= pi/4, r carried as a
/// double-double (hi + lo); then a Taylor polynomial for sin or cos of r
/// chosen by n mod 4.
/// Reduction: |x| < 2^30: three-part Cody-Waite (pi/2 = P1 + P2 + P3, each
/// the rounded remainder of the previous, ~160 bits), where x - n*P1 is exact
/// under fma and n*P2 is split exactly with fma; this keeps r to ~2^-100
/// absolute, enough even for the doubles closest to a multiple of pi/2.
/// |x| >= 2^30: Payne-Hanek with a table of the bits of 2/pi.
/// Error < 1 ulp over all doubles (measured in DetMathTests).
extension DetMath {
    static let pio2_1 = 0x1.921fb54442d18p+0
    static let pio2_2 = 0x1.1a62633145c07p-54
    static let pio2_3 = -0x1.f1976b7ed8fbcp-110
    static let twoOverPi = 0x1.45f306dc9c883p-1

    /// sin(x). sin(±0) = ±0, sin(±inf) = sin(NaN) = NaN.
    public static func sin(_ x: Double) -> Double {
        if x.magnitude < 0x1p-26 { return x }  // sin(x) rounds to x (and keeps -0)
        let (n, hi, lo) = reduceHalfPi(x)
        switch n {
        case 0: return sinKernel(hi, lo)
        case 1: return cosKernel(hi, lo)
        case 2: return -sinKernel(hi, lo)
        default: return -cosKernel(hi, lo)
        }
    }

    /// cos(x). cos(±inf) = cos(NaN) = NaN.
    public static func cos(_ x: Double) -> Double {
        if x.magnitude < 0x1p-27 { return 1 }  // cos(x) rounds to 1
        let (n, hi, lo) = reduceHalfPi(x)
        switch n {
        case 0: return cosKernel(hi, lo)
        case 1: return -sinKernel(hi, lo)
        case 2: return -cosKernel(hi, lo)
        default: return sinKernel(hi, lo)
        }
    }

    /// sin(x + lo) for |x| <= ~pi/4, |lo| <= ulp(x). Taylor series
    /// x + x^3*S(x^2), S = sum_{k=1..8} (-1)^k x^(2k-2)/(2k+1)! (terms through
    /// x^17; truncation x^19/19! < 1e-19 relative), plus lo*cos(x) ~ lo*(1 - x^2/2).
    @inline(__always)
    static func sinKernel(_ x: Double, _ lo: Double) -> Double {
        let z = x * x
        var s = 1.0 / 355_687_428_096_000         // 1/17!
        s = s * z - 1.0 / 1_307_674_368_000       // 1/15!
        s = s * z + 1.0 / 6_227_020_800           // 1/13!
        s = s * z - 1.0 / 39_916_800              // 1/11!
        s = s * z + 1.0 / 362_880                 // 1/9!
        s = s * z - 1.0 / 5_040                   // 1/7!
        s = s * z + 1.0 / 120                     // 1/5!
        s = s * z - 1.0 / 6                       // 1/3!
        return x + ((z * x) * s + lo * (1 - 0.5 * z))
    }

    /// cos(x + lo) for |x| <= ~pi/4. Taylor series 1 - x^2/2 + x^4*C(x^2),
    /// C = sum_{k=2..8} (-1)^k x^(2k-4)/(2k)! (terms through x^16; truncation
    /// x^18/18! < 3e-18), minus lo*sin(x) ~ lo*x. w = 1 - x^2/2 is rounded
    /// and its rounding error ((1 - w) - x^2/2, exact) is added back with the
    /// small terms, so the result rounds once at its own scale.
    @inline(__always)
    static func cosKernel(_ x: Double, _ lo: Double) -> Double {
        let z = x * x
        var c = 1.0 / 20_922_789_888_000          // 1/16!
        c = c * z - 1.0 / 87_178_291_200          // 1/14!
        c = c * z + 1.0 / 479_001_600             // 1/12!
        c = c * z - 1.0 / 3_628_800               // 1/10!
        c = c * z + 1.0 / 40_320                  // 1/8!
        c = c * z - 1.0 / 720                     // 1/6!
        c = c * z + 1.0 / 24                      // 1/4!
        let hz = 0.5 * z
        let w = 1 - hz
        return w + (((1 - w) - hz) + ((z * z) * c - x * lo))
    }

    /// x = n*(pi/2) + hi + lo with |hi + lo| <= ~pi/4; returns n mod 4.
    /// Non-finite x gives NaN in hi.
    static func reduceHalfPi(_ x: Double) -> (n: Int, hi: Double, lo: Double) {
        let a = x.magnitude
        if a <= 0x1.921fb54442d18p-1 { return (0, x, 0) }  // |x| <= pi/4
        guard a < 0x1p30 else { return reducePayneHanek(x) }
        let shifter = 0x1.8p52
        let t = shifter.addingProduct(x, twoOverPi)
        let nf = t - shifter
        let n = Int(Int64(bitPattern: t.bitPattern &- shifter.bitPattern))
        // r = x - n*P1 - n*P2 - n*P3
        let t1 = x.addingProduct(-nf, pio2_1)   // exact: on the 2^-53 grid, |t1| < 1
        let ph = nf * pio2_2
        let pl = (-ph).addingProduct(nf, pio2_2) // n*P2 = ph + pl exactly
        let s = t1 - ph                          // TwoSum(t1, -ph)
        let bb = s - t1
        let err = (t1 - (s - bb)) + (-ph - bb)
        let lo = err - (pl + nf * pio2_3)
        let hi = s + lo                          // Fast2Sum(s, lo)
        return (n & 3, hi, lo - (hi - s))
    }

    /// Payne-Hanek reduction for |x| >= 2^30 (and non-finite x).
    /// |x| = M * 2^E with M a 53-bit integer. The bits of 2/pi of weight
    /// >= 2^(2-E) only add multiples of 4 to |x|*2/pi, so it is enough to
    /// multiply M by the 192 bits of 2/pi starting at weight 2^(1-E): the
    /// 245-bit product has its binary point at bit 190, the two bits above it
    /// are n mod 4 and the 128 bits below it the fraction (error < 2^-128,
    /// far below the 2^-62 that the closest doubles to a multiple of pi/2
    /// need). The fraction, rounded to [-1/2, 1/2), times pi/2 in
    /// double-double gives r.
    static func reducePayneHanek(_ x: Double) -> (n: Int, hi: Double, lo: Double) {
        guard x.isFinite else { return (0, x - x, 0) }
        let bits = x.bitPattern
        let m = (bits & 0x000F_FFFF_FFFF_FFFF) | (1 << 52)
        let e = Int((bits >> 52) & 0x7FF) - 1075          // |x| = m * 2^e, e >= -22
        // Window start as a bit position in `twoOverPiBits` (position 0 is the
        // top bit of word 0, which stands for weight 2^63; position p has
        // weight 2^(63-p)). Weight 2^(1-e) is position e + 62.
        let p0 = e + 62
        let w = p0 >> 6, sh = UInt64(p0 & 63)
        func word(_ i: Int) -> UInt64 {
            sh == 0 ? twoOverPiBits[i]
                    : (twoOverPiBits[i] << sh) | (twoOverPiBits[i + 1] >> (64 - sh))
        }
        let a2 = word(w), a1 = word(w + 1), a0 = word(w + 2)
        // P = m * (a2:a1:a0), as four 64-bit words p3:p2:p1:p0 (p3 unused).
        let (h0, l0) = m.multipliedFullWidth(by: a0)
        let (h1, l1) = m.multipliedFullWidth(by: a1)
        let (h2, l2) = m.multipliedFullWidth(by: a2)
        let (p1, c1) = h0.addingReportingOverflow(l1)
        let (p2a, c2a) = h1.addingReportingOverflow(l2)
        let (p2, c2b) = p2a.addingReportingOverflow(c1 ? 1 : 0)
        _ = (h2, c2a, c2b)                                 // bits >= 192 are multiples of 4
        var n = Int(p2 >> 62)
        // 128-bit fraction f = fhi:flo / 2^128
        var fhi = (p2 << 2) | (p1 >> 62)
        var flo = (p1 << 2) | (l0 >> 62)
        var negative = false
        if fhi >> 63 == 1 {                                // f >= 1/2: use f - 1
            n += 1
            negative = true
            flo = ~flo &+ 1                                // |f - 1| = 2^128 - F
            fhi = ~fhi &+ (flo == 0 ? 1 : 0)
        }
        if fhi == 0 && flo == 0 { return (n & 3, 0, 0) }
        // Normalize and take 106 bits as two exact doubles.
        let lz = fhi != 0 ? fhi.leadingZeroBitCount : 64 + flo.leadingZeroBitCount
        if lz >= 64 { fhi = flo << UInt64(lz - 64); flo = 0 }
        else if lz > 0 { fhi = (fhi << UInt64(lz)) | (flo >> UInt64(64 - lz)); flo <<= UInt64(lz) }
        let top = Double(fhi >> 11)                                   // 53 bits
        let next = Double(((fhi & 0x7FF) << 42) | (flo >> 22))        // 53 bits
        let fh = top * Double(sign: .plus, exponent: -53 - lz, significand: 1)
        let fl = next * Double(sign: .plus, exponent: -106 - lz, significand: 1)
        // r = (fh + fl) * (pio2_1 + pio2_2)
        let rh = fh * pio2_1
        let rl = (-rh).addingProduct(fh, pio2_1) + (fh * pio2_2 + fl * pio2_1)
        var hi = rh + rl
        var lo = rl - (hi - rh)
        if negative { hi = -hi; lo = -lo }
        if x < 0 { return ((-n) & 3, -hi, -lo) }
        return (n & 3, hi, lo)
    }

    /// Bits of 2/pi for `reducePayneHanek`: word 0 is zero (weights 2^63..2^0),
    /// word i >= 1 holds the fraction bits of weight 2^(-64(i-1)-1) ..
    /// 2^(-64i). From fit_coefficients.py (mpmath, 450 digits).
    static let twoOverPiBits: [UInt64] = [
        0x0000000000000000, 0xA2F9836E4E441529, 0xFC2757D1F534DDC0, 0xDB6295993C439041,
        0xFE5163ABDEBBC561, 0xB7246E3A424DD2E0, 0x06492EEA09D1921C, 0xFE1DEB1CB129A73E,
        0xE88235F52EBB4484, 0xE99C7026B45F7E41, 0x3991D639835339F4, 0x9C845F8BBDF9283B,
        0x1FF897FFDE05980F, 0xEF2F118B5A0A6D1F, 0x6D367ECF27CB09B7, 0x4F463F669E5FEA2D,
        0x7527BAC7EBE5F17B, 0x3D0739F78A5292EA, 0x6BFB5FB11F8D5D08, 0x56033046FC7B6BAB,
        0xF0CFBC209AF4361D, 0xA9E391615EE61B08,
    ]
}
