import Foundation
import Testing
import SimplyCore

/// The state hash against its definition (SHA-256 over the SHA-256 digests of
/// 1 MiB pieces) computed three ways: plain OpenSSL calls here, Python's
/// hashlib (golden/state_hash.json, tools/golden/state_hash.py), and the
/// two-stream SHA-NI kernel against OpenSSL digest by digest.
@Suite struct StateHasherTests {
    static let piece = StateHasher.pieceBytes

    /// The golden vectors' bytes: byte i is (i · 2654435761 >> 13) mod 256.
    static func pattern(_ n: Int) -> [UInt8] {
        (0..<n).map { UInt8(truncatingIfNeeded: (UInt64($0) &* 2654435761) >> 13) }
    }

    /// The definition, written out with plain SHA-256 calls.
    static func reference(_ bytes: [UInt8]) -> String {
        let root = SHA256Hasher()
        var at = 0
        while at < bytes.count {
            let end = min(at + piece, bytes.count)
            let h = SHA256Hasher()
            h.update(Array(bytes[at..<end]))
            root.update(h.finalize())
            at = end
        }
        return root.finalizeHex()
    }

    /// Cuts `bytes` (a multiple of 4 long) into float tensors at the given byte offsets.
    static func tensors(_ bytes: [UInt8], cuts: [Int]) -> [Tensor] {
        let edges = [0] + cuts.filter { $0 > 0 && $0 < bytes.count }.sorted() + [bytes.count]
        return zip(edges, edges.dropFirst()).map { lo, hi in
            let t = Tensor(shape: [(hi - lo) / 4])
            bytes[lo..<hi].withUnsafeBytes { UnsafeMutableRawPointer(t.pointer).copyMemory(from: $0.baseAddress!, byteCount: hi - lo) }
            return t
        }
    }

    @Test func pairKernelEqualsOpenSSL() throws {
        let cpuinfo = (try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8)) ?? ""
        let hasSHA = cpuinfo.split(separator: "\n").first { $0.hasPrefix("flags") }?.split(separator: " ").contains("sha_ni") ?? false
        // On a CPU with SHA-NI the kernel must be in use (and so is tested here).
        #expect((StateHasher.pairKernelDigests([], []) != nil) == hasSHA)
        guard hasSHA else { return }
        var rng = TestDraws(seed: 7)
        for blocks in [0, 1, 2, 3, 17, 1000, Self.piece / 64] {
            let a = (0..<(64 * blocks)).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
            let b = (0..<(64 * blocks)).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
            let (da, db) = try #require(StateHasher.pairKernelDigests(a, b))
            #expect(da == sha256Hex(a) && db == sha256Hex(b), "\(blocks) blocks")
        }
    }

    @Test func goldenVectorsFromPython() throws {
        let golden = try JSONValue.parse(String(contentsOf: goldenURL("state_hash.json"), encoding: .utf8))
        #expect(golden["piece_bytes"]?.intValue == Self.piece)
        guard case let .array(vectors)? = golden["vectors"] else { Issue.record("no vectors"); return }
        #expect(vectors.count >= 8)
        let longest = Self.pattern(vectors.compactMap { $0["length"]?.intValue }.max() ?? 0)
        var rng = TestDraws(seed: 3)
        for v in vectors {
            let n = try #require(v["length"]?.intValue), want = try #require(v["state_sha256"]?.stringValue)
            let bytes = Array(longest[..<n])
            #expect(Self.reference(bytes) == want, "reference, \(n) bytes")
            // Streamed in uneven parts (some over two pieces, so the pair path runs).
            let h = StateHasher()
            var at = 0
            while at < n {
                let end = min(n, at + 1 + Int(rng.next() % UInt64(3 * Self.piece)))
                bytes[at..<end].withUnsafeBytes { h.update($0) }
                at = end
            }
            #expect(h.finalizeHex() == want, "streamed, \(n) bytes")
            if n % 4 == 0 {
                let cuts = (0..<3).map { _ in 4 * Int(rng.next() % UInt64(n / 4 + 1)) }
                for threads in [1, 2, 3] {
                    #expect(StateHasher.digest(of: Self.tensors(bytes, cuts: cuts), parallel: Parallel(threads: threads)) == want,
                            "tensors cut at \(cuts), \(threads) threads, \(n) bytes")
                }
            }
        }
    }

    /// Tensors of every kind of size: pieces inside one tensor, pieces
    /// spanning several (tiny tensors included), empty tensors.
    @Test func tensorListsEqualTheDefinition() {
        var rng = TestDraws(seed: 11)
        for trial in 0..<6 {
            let n = 4 * Int(rng.next() % UInt64(6 * Self.piece / 4))
            let bytes = (0..<n).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
            let cuts = (0..<(trial * 3)).map { _ in 4 * Int(rng.next() % UInt64(n / 4 + 1)) } + [8, 12, 12]
            let want = Self.reference(bytes)
            let ts = Self.tensors(bytes, cuts: cuts) + [Tensor(shape: [0])]
            for threads in [1, 2, 5] {
                #expect(StateHasher.digest(of: ts, parallel: Parallel(threads: threads)) == want, "trial \(trial), \(threads) threads")
            }
            let h = StateHasher()
            for t in ts { h.update(t) }
            #expect(h.finalizeHex() == want, "trial \(trial) streamed")
        }
        #expect(StateHasher.digest(of: [], parallel: .serial) == sha256Hex([]))
    }
}

/// Pieces hashed early, chunk by chunk of a lockstep update (what AdamW's
/// threads do), then finished, give the state hash of the final bytes.
@Suite struct StatePiecesTests {
    @Test(arguments: [1, 2, 3])
    func earlyPiecesThenFinishEqualTheHash(threads: Int) {
        let piece = StateHasher.pieceBytes
        for (n, chunk) in [(3 * piece / 4 + 5, 1 << 17), (5 * piece / 4 + 3, 1 << 19), (0, 64), (4, 1 << 19)] {
            // Three tensors of n elements written in lockstep, and one that is not.
            let ts = (0..<3).map { j in Tensor(shape: [n], values: (0..<n).map { Float($0 % 97) + Float(j) }) }
            let extra = Tensor(shape: [1000], values: (0..<1000).map { Float($0) })
            let pieces = StatePieces(ts + [extra])
            let p = Parallel(threads: threads)
            let bases = ts.map { SendablePointer($0.pointer) }
            p.forEachRange(n, grain: 1) { thread in
                var from = thread.lowerBound
                while from < thread.upperBound {
                    let c = from..<min(thread.upperBound, from + chunk)
                    for b in bases { for i in c { b.p[i] = b.p[i] * 2 + 1 } }   // the "update"
                    if StatePieces.hashesEarly { pieces.hashCompleted(lockstep: 3, thread: thread, chunk: c) }
                    from = c.upperBound
                }
            }
            if StatePieces.hashesEarly && n > piece {
                #expect(pieces.hashedCount >= 1, "\(n) elements: some pieces hashed early")
            }
            #expect(pieces.finish(parallel: p) == StateHasher.digest(of: ts + [extra], parallel: .serial),
                    "\(n) elements, chunks of \(chunk), \(threads) threads")
        }
    }
}

/// Test data from the project's Philox stream.
private struct TestDraws {
    let stream: RandomStream
    var index: UInt64 = 0
    init(seed: UInt64) { stream = RandomStream(seed: seed, name: "state-hasher-tests") }
    mutating func next() -> UInt64 {
        let w = stream.words(index)
        index += 1
        return UInt64(w.0) << 32 | UInt64(w.1)
    }
}
