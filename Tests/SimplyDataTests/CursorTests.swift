import Testing
import SimplyData

@Suite struct FeistelTests {
    @Test(arguments: [1, 2, 3, 5, 100, 1000, 4097, 65537] as [UInt64])
    func bijection(n: UInt64) {
        let p = FeistelPermutation(n: n, seed: 1234, epoch: 0)
        var seen = [Bool](repeating: false, count: Int(n))
        for i in 0..<n {
            let y = p.apply(i)
            #expect(y < n)
            if y < n { #expect(!seen[Int(y)], "n=\(n): \(y) hit twice"); seen[Int(y)] = true }
        }
        #expect(seen.allSatisfy { $0 })
    }

    @Test func notIdentityAndKeyed() {
        let n: UInt64 = 1000
        func order(seed: UInt64, epoch: UInt64) -> [UInt64] {
            let p = FeistelPermutation(n: n, seed: seed, epoch: epoch)
            return (0..<n).map { p.apply($0) }
        }
        let base = order(seed: 7, epoch: 0)
        let fixedPoints = base.enumerated().filter { UInt64($0.offset) == $0.element }.count
        #expect(fixedPoints < 20)  // a random permutation has ~1
        #expect(base != order(seed: 8, epoch: 0))
        #expect(base != order(seed: 7, epoch: 1))
        #expect(base == order(seed: 7, epoch: 0))  // pure function
        // Not a near-shift: consecutive inputs land far apart on average.
        let jumps = zip(base, base.dropFirst()).map { $0 > $1 ? $0 - $1 : $1 - $0 }
        #expect(jumps.reduce(0, +) / UInt64(jumps.count) > 150)
    }

    @Test func largeDomain() {
        let n: UInt64 = 3_000_000_007
        let p = FeistelPermutation(n: n, seed: 1, epoch: 5)
        var out = Set<UInt64>()
        for i in 0..<UInt64(2000) { let y = p.apply(i); #expect(y < n); out.insert(y) }
        #expect(out.count == 2000)
        #expect(p.apply(n - 1) < n)
    }

    /// Pins the permutation's bits: the data order is part of every run's identity.
    @Test func knownValues() {
        let p = FeistelPermutation(n: 10, seed: 0, epoch: 0)
        let order = (0..<UInt64(10)).map { p.apply($0) }
        #expect(Set(order).count == 10)
        #expect(order == FeistelTests.pinned, "\(order)")
    }
    static let pinned: [UInt64] = [7, 2, 6, 1, 4, 9, 3, 0, 5, 8]
}

@Suite struct DataCursorTests {
    @Test func eachExampleOncePerEpoch() {
        for (n, b) in [(10, 3), (37, 8), (64, 64), (100, 7), (5, 12)] {
            let c = DataCursor(numExamples: n, batchSize: b, seed: 99)
            let epochs = 3
            var counts = [[Int]](repeating: [Int](repeating: 0, count: n), count: epochs)
            var position = 0
            for step in 0... {
                guard position < epochs * n else { break }
                for slot in 0..<b where position < epochs * n {
                    let e = c.exampleIndex(step: step, slot: slot)
                    #expect(e >= 0 && e < n)
                    counts[position / n][e] += 1
                    position += 1
                }
            }
            for ep in 0..<epochs { #expect(counts[ep].allSatisfy { $0 == 1 }, "n=\(n) b=\(b) epoch \(ep)") }
        }
    }

    @Test func epochsDifferAndStepIsEnough() {
        let c = DataCursor(numExamples: 50, batchSize: 10, seed: 3)
        let e0 = (0..<5).flatMap { s in (0..<10).map { c.exampleIndex(step: s, slot: $0) } }
        let e1 = (5..<10).flatMap { s in (0..<10).map { c.exampleIndex(step: s, slot: $0) } }
        #expect(e0 != e1)
        #expect(c.epoch(step: 4) == 0 && c.epoch(step: 5) == 1 && c.epoch(step: 12) == 2)
        // A fresh cursor (a resume) gives the same batch for the same step.
        let again = DataCursor(numExamples: 50, batchSize: 10, seed: 3)
        #expect((0..<10).map { again.exampleIndex(step: 7, slot: $0) } == (0..<10).map { c.exampleIndex(step: 7, slot: $0) })
        let other = DataCursor(numExamples: 50, batchSize: 10, seed: 4)
        #expect((0..<10).map { other.exampleIndex(step: 0, slot: $0) } != Array(e0.prefix(10)))
    }
}

@Suite struct PretrainWindowsTests {
    @Test func indexing() throws {
        let tokens: [Int32] = Array(0..<23)
        let w = try PretrainWindows(tokens: tokens, seqLen: 5)
        #expect(w.numExamples == 4)  // (23 - 1) / 5
        var inputs = [Int32](repeating: -1, count: 12), targets = [Int32](repeating: -1, count: 12)
        w.fill(example: 3, inputs: &inputs, targets: &targets, at: 6)
        #expect(inputs == [-1, -1, -1, -1, -1, -1, 15, 16, 17, 18, 19, -1])
        #expect(targets == [-1, -1, -1, -1, -1, -1, 16, 17, 18, 19, 20, -1])
        w.fill(example: 0, inputs: &inputs, targets: &targets, at: 0)
        #expect(Array(inputs[0..<5]) == [0, 1, 2, 3, 4] && Array(targets[0..<5]) == [1, 2, 3, 4, 5])
    }

    @Test func exactFit() throws {
        let w = try PretrainWindows(tokens: Array(0..<11), seqLen: 5)
        #expect(w.numExamples == 2)
        var i = [Int32](repeating: 0, count: 5), t = [Int32](repeating: 0, count: 5)
        w.fill(example: 1, inputs: &i, targets: &t, at: 0)
        #expect(t == [6, 7, 8, 9, 10])
    }

    @Test func tooShort() {
        #expect(throws: DataError.self) { try PretrainWindows(tokens: Array(0..<5), seqLen: 5) }
        #expect(throws: DataError.self) { try PretrainWindows(tokens: Array(0..<5), seqLen: 0) }
        #expect((try? PretrainWindows(tokens: Array(0..<6), seqLen: 5))?.numExamples == 1)
    }
}
