import Testing
import SimplyCore
import SimplyData

@Suite struct SyntheticCorpusTests {
    @Test func deterministicSizedAndSeeded() {
        let a = SyntheticCorpus.generate(seed: 1, bytes: 50_000)
        #expect(a.utf8.count == 50_000)
        #expect(a == SyntheticCorpus.generate(seed: 1, bytes: 50_000))
        #expect(a != SyntheticCorpus.generate(seed: 2, bytes: 50_000))
        // A shorter request is a prefix of a longer one.
        #expect(a.utf8.starts(with: SyntheticCorpus.generate(seed: 1, bytes: 777).utf8))
        #expect(SyntheticCorpus.generate(seed: 1, bytes: 0) == "")
        #expect(SyntheticCorpus.generate(seed: 1, bytes: 1).utf8.count == 1)
        #expect(a.utf8.allSatisfy { $0 < 128 })
    }

    /// Pins the corpus bits (the built-in dataset is part of every default run).
    @Test func knownPrefixHash() {
        let text = SyntheticCorpus.generate(seed: 0, bytes: 4096)
        #expect(sha256Hex(Array(text.utf8)) == SyntheticCorpusTests.pinned, "\(sha256Hex(Array(text.utf8)))")
    }
    static let pinned = "d6a327d5b3a8673e1fd44da4925bb361fc138961a925bf9643c7ebe408a8de11"

    @Test func containsItsParts() {
        let t = SyntheticCorpus.generate(seed: 5, bytes: 200_000)
        for part in [" plus ", " minus ", " times ", " is ", "?\n", " the ", "She ", "He "] {
            #expect(t.contains(part), "missing \(part)")
        }
        // The arithmetic facts are correct.
        var checked = 0
        for sentence in t.split(whereSeparator: { $0 == "." || $0 == "\n" || $0 == "?" }) {
            let w = sentence.split(separator: " ")
            guard w.count >= 5, let i = w.firstIndex(of: "plus"), i >= 1, i + 3 < w.count, w[i + 2] == "is",
                  let a = Int(w[i - 1]), let b = Int(w[i + 1]), let c = Int(w[i + 3]) else { continue }
            #expect(a + b == c, "\(sentence)")
            checked += 1
        }
        #expect(checked > 100)
    }

    /// Not trivial (high byte-unigram entropy) yet learnable (a bigram model
    /// needs far fewer bits per byte than the unigram model).
    @Test func entropyShowsStructure() {
        let bytes = Array(SyntheticCorpus.generate(seed: 3, bytes: 400_000).utf8)
        var uni = [Double](repeating: 0, count: 256)
        var bi = [Double](repeating: 0, count: 256 * 256)
        for b in bytes { uni[Int(b)] += 1 }
        for (x, y) in zip(bytes, bytes.dropFirst()) { bi[Int(x) * 256 + Int(y)] += 1 }
        let n = Double(bytes.count)
        var hUni = 0.0
        for c in uni where c > 0 { hUni -= c / n * DetMath.log(c / n) / DetMath.log(2.0) }
        // H(next | previous) = H(pair) - H(previous), over the n - 1 pairs.
        let m = n - 1
        var hPair = 0.0, hPrev = 0.0
        var prev = [Double](repeating: 0, count: 256)
        for x in 0..<256 { for y in 0..<256 { prev[x] += bi[x * 256 + y] } }
        for c in bi where c > 0 { hPair -= c / m * DetMath.log(c / m) / DetMath.log(2.0) }
        for c in prev where c > 0 { hPrev -= c / m * DetMath.log(c / m) / DetMath.log(2.0) }
        let hBi = hPair - hPrev
        print("synthetic corpus: unigram \(hUni) bits/byte, bigram \(hBi) bits/byte")
        #expect(hUni > 3.5)
        #expect(hBi < hUni - 1.0)
    }
}
