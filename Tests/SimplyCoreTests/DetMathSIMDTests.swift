import Testing
import SimplyCore

/// The 8-lane exp and the row helpers must give the scalar code's bits.
@Suite struct DetMathSIMDTests {
    func bitsEqual(_ a: Float, _ b: Float) -> Bool { a.bitPattern == b.bitPattern || (a.isNaN && b.isNaN) }

    @Test func exp8EqualsScalarExpOnEdgesAndSweep() {
        var xs: [Float] = [0, -0.0, 1, -1, 88.72283, 88.7229, 89, 90, -103.98, -104, -105, -87.3, -87.4, -100,
                           .infinity, -.infinity, .nan, .greatestFiniteMagnitude, -.greatestFiniteMagnitude,
                           .leastNonzeroMagnitude, -.leastNonzeroMagnitude, 1e-30, -1e-30, 0.5, -0.5]
        // Every 997th float pattern over the whole range, plus a dense sweep of [-110, 100].
        var bits: UInt32 = 0
        while bits < UInt32.max - 997 { xs.append(Float(bitPattern: bits)); bits += 997 }
        for i in 0..<400_000 { xs.append(-110 + Float(i) * (210 / 400_000)) }
        while xs.count % 8 != 0 { xs.append(3) }
        var mismatches = 0
        xs.withUnsafeBufferPointer { b in
            for c in 0..<(xs.count / 8) {
                let y = DetMath.exp(Lanes.load(b.baseAddress! + 8 * c))
                for l in 0..<8 where !bitsEqual(y[l], DetMath.exp(b[8 * c + l])) { mismatches += 1 }
            }
        }
        #expect(mismatches == 0)
        #expect(xs.count > 4_000_000)
    }

    /// rowMax equals the sequential Swift `max` scan bit for bit, including a
    /// zero maximum reached as +0 then −0 (the later one wins), NaN and −inf rows.
    @Test func rowMaxEqualsSequentialMax() {
        func sequential(_ x: [Float]) -> Float { var m = -Float.infinity; for v in x { m = max(m, v) }; return m }
        var rows: [[Float]] = [[], [-.infinity], [.nan], [.nan, 2, .nan], [0, -0.0], [-0.0, 0], [-1, 0, -0.0, -3, -2, -5, -6, -7, -8],
                               [-1, -0.0, -2, -3, -4, -5, -6, -7, 0, -1], [-.infinity, -.infinity, .nan, -.infinity, -.infinity,
                               -.infinity, -.infinity, -.infinity, -.infinity]]
        let stream = RandomStream(seed: 5, name: "rowmax")
        for n in 1..<70 { rows.append((0..<n).map { stream.normal(UInt64(n), UInt64($0)) }) }
        for x in rows {
            let m = x.withUnsafeBufferPointer { Lanes.rowMax($0.baseAddress ?? UnsafePointer(bitPattern: 64)!, x.count) }
            #expect(bitsEqual(m, sequential(x)), "\(x)")
        }
        // The sign of a zero maximum is the sequential scan's.
        #expect(Lanes.rowMax([0, -0.0, -1, -1, -1, -1, -1, -1, -1], 9).sign == .minus)
        #expect(Lanes.rowMax([-0.0, 0, -1, -1, -1, -1, -1, -1, -1], 9).sign == .plus)
    }

    @Test func expShiftedAndSumMatchThePlainLoops() {
        let stream = RandomStream(seed: 6, name: "expshift")
        for n in [1, 7, 8, 9, 31, 129, 8192] {
            let x = (0..<n).map { 8 * stream.normal(UInt64(n), UInt64($0)) }
            let mx = x.max()!
            var plain = [Float](repeating: 0, count: n), sum: Float = 0
            for j in 0..<n { let e = DetMath.exp(x[j] - mx); plain[j] = e; sum += e }
            var fast = [Float](repeating: 0, count: n)
            fast.withUnsafeMutableBufferPointer { f in
                x.withUnsafeBufferPointer { Lanes.expShifted(f.baseAddress!, $0.baseAddress!, n, shift: mx) }
            }
            #expect(fast.map(\.bitPattern) == plain.map(\.bitPattern))
            #expect(Lanes.sequentialSum(fast, n).bitPattern == sum.bitPattern)
            var inPlace = x
            inPlace.withUnsafeMutableBufferPointer { Lanes.expShifted($0.baseAddress!, n, shift: mx) }
            #expect(inPlace.map(\.bitPattern) == plain.map(\.bitPattern))
        }
    }
}
