import Foundation

/// Project-owned elementary functions (DESIGN.md, contract 4): fixed
/// polynomials built from +, ×, fma and bit operations only, so their bits
/// are the same on every IEEE-754 machine, unlike glibc's.
public enum DetMath {
    // TEMPORARY: libm bodies until the polynomial versions land.
    public static func exp(_ x: Float) -> Float { Foundation.exp(x) }
    public static func log(_ x: Float) -> Float { Foundation.log(x) }
    public static func tanh(_ x: Float) -> Float { Foundation.tanh(x) }
    public static func erf(_ x: Float) -> Float { Foundation.erf(x) }
    /// 1 / sqrt(x); sqrt is correctly rounded by IEEE-754, so this is exact-reproducible.
    public static func rsqrt(_ x: Float) -> Float { 1 / x.squareRoot() }
    public static func exp(_ x: Double) -> Double { Foundation.exp(x) }
    public static func log(_ x: Double) -> Double { Foundation.log(x) }
    public static func sin(_ x: Double) -> Double { Foundation.sin(x) }
    public static func cos(_ x: Double) -> Double { Foundation.cos(x) }
    public static func pow(_ x: Double, _ y: Double) -> Double { Foundation.pow(x, y) }
}
