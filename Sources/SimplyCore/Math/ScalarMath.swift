
/// Numerically stable scalar functions for the post-training losses, on
/// DetMath (never libm) so their bits are the same on every machine.
public enum ScalarMath {
    /// σ(x) = 1 / (1 + e^−x), written to never overflow.
    public static func sigmoid(_ x: Double) -> Double {
        if x >= 0 { return 1 / (1 + DetMath.exp(-x)) }
        let e = DetMath.exp(x)
        return e / (1 + e)
    }

    /// log σ(x) = −(max(−x, 0) + log(1 + e^−|x|)).
    public static func logSigmoid(_ x: Double) -> Double {
        -(max(-x, 0) + DetMath.log(1 + DetMath.exp(-abs(x))))
    }
}
