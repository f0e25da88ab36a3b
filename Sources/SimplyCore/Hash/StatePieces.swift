import Synchronization

/// The pieces of a state hash (StateHasher) and their digests, filled in
/// any order by any thread, then finished into the hash.
///
/// `finish` alone hashes every piece, split over the threads. The training
/// step also hashes pieces early: AdamW writes parameters, m and v (the
/// first three tensors, of one element count) in lockstep, element range by
/// element range, and each thread hashes the pieces its last range
/// completed while they are still in cache (`hashCompleted`). A piece lying
/// across two tensors or two threads' ranges is left to `finish`. Which
/// thread hashed a piece, or when, never changes its digest.
public final class StatePieces: @unchecked Sendable {
    let tensors: [Tensor]
    let bases: [SendablePointer<Float>]
    let starts: [Int]          // each tensor's first byte in the state's bytes
    let total: Int
    public let count: Int      // pieces
    private let leaves: UnsafeMutablePointer<UInt8>   // count × 32 digest bytes
    private let done: UnsafeMutablePointer<Bool>      // each slot written by one thread
    /// A thread's one whole piece waiting for a partner, by its range's start.
    private let waiting = Mutex<[Int: Int]>([:])

    public init(_ tensors: [Tensor]) {
        var starts: [Int] = [], end = 0
        for t in tensors { starts.append(end); end += t.count * 4 }
        self.tensors = tensors
        self.bases = tensors.map { SendablePointer($0.pointer) }
        self.starts = starts
        total = end
        count = (end + StateHasher.pieceBytes - 1) / StateHasher.pieceBytes
        leaves = .allocate(capacity: max(1, count * 32))
        done = .allocate(capacity: max(1, count))
        done.initialize(repeating: false, count: max(1, count))
    }

    deinit { leaves.deallocate(); done.deallocate() }

    /// Hashes the pieces that elements `chunk` of the first `lockstep`
    /// tensors completed, counting only elements from `thread.lowerBound`
    /// (the range this thread writes): a piece is hashed by the thread whose
    /// range holds all of it, right after the chunk that wrote its last byte.
    /// Does nothing without the pair kernel (`hashesEarly` false).
    public func hashCompleted(lockstep: Int, thread: Range<Int>, chunk: Range<Int>) {
        guard StateHasher.pairKernel else { return }
        let piece = StateHasher.pieceBytes
        var ready: [(piece: Int, start: UnsafeRawPointer)] = []
        for a in 0..<min(lockstep, tensors.count) {
            let from = starts[a] + 4 * thread.lowerBound, upTo = starts[a] + 4 * chunk.upperBound
            let since = starts[a] + 4 * chunk.lowerBound
            // Pieces whose window lies in [from, upTo) and ends after `since`.
            var k = max((from + piece - 1) / piece, since / piece)
            while (k + 1) * piece <= upTo {
                let lo = k * piece
                if lo >= from && (k + 1) * piece > since {
                    ready.append((k, UnsafeRawPointer(bases[a].p) + (lo - starts[a])))
                }
                k += 1
            }
        }
        if ready.isEmpty { return }
        if let w = waiting.withLock({ $0.removeValue(forKey: thread.lowerBound) }), let start = wholePiece(w) {
            ready.insert((w, start), at: 0)
        }
        var i = 0
        while i + 1 < ready.count {
            StateHasher.hashPair(ready[i].start, ready[i + 1].start,
                                 firstSlot: leaves + ready[i].piece * 32, secondSlot: leaves + ready[i + 1].piece * 32)
            done[ready[i].piece] = true
            done[ready[i + 1].piece] = true
            i += 2
        }
        if i < ready.count {
            let last = ready[i].piece
            waiting.withLock { $0[thread.lowerBound] = last }
        }
    }

    /// How many pieces are hashed so far (before `finish`: those hashed early).
    public var hashedCount: Int { (0..<count).reduce(0) { $0 + (done[$1] ? 1 : 0) } }

    /// Whether `hashCompleted` can be used: the pair kernel is there (else
    /// finish hashes everything, with the same digests).
    public static var hashesEarly: Bool { StateHasher.pairKernel }

    /// Hashes every piece not hashed yet, split over `parallel`'s threads,
    /// and returns the state hash.
    public func finish(parallel: Parallel) -> String {
        if count == 0 { return SHA256Hasher().finalizeHex() }
        let left = (0..<count).filter { !done[$0] }
        let leavesPointer = SendablePointer(leaves)
        parallel.forEachRange(left.count, grain: 2) { range in
            var pending: (piece: Int, start: UnsafeRawPointer)?
            for k in left[range] {
                if let start = self.wholePiece(k) {
                    if let first = pending {
                        StateHasher.hashPair(first.start, start, firstSlot: leavesPointer.p + first.piece * 32,
                                             secondSlot: leavesPointer.p + k * 32)
                        pending = nil
                    } else {
                        pending = (k, start)
                    }
                } else {
                    self.hashOne(k)
                }
            }
            if let last = pending { self.hashOne(last.piece) }
        }
        let root = SHA256Hasher()
        root.update(UnsafeRawBufferPointer(start: leaves, count: count * 32))
        return root.finalizeHex()
    }

    /// Where piece k starts when the pair kernel can read it in place: a
    /// whole piece lying in one tensor.
    private func wholePiece(_ k: Int) -> UnsafeRawPointer? {
        let lo = k * StateHasher.pieceBytes, hi = lo + StateHasher.pieceBytes
        guard StateHasher.pairKernel, hi <= total else { return nil }
        let t = tensorHolding(lo)
        guard hi <= starts[t] + tensors[t].count * 4 else { return nil }
        return UnsafeRawPointer(bases[t].p) + (lo - starts[t])
    }

    /// Piece k through OpenSSL, fed tensor by tensor.
    private func hashOne(_ k: Int) {
        let lo = k * StateHasher.pieceBytes, hi = min(lo + StateHasher.pieceBytes, total)
        let h = SHA256Hasher()
        var at = lo, t = tensorHolding(lo)
        while at < hi {
            while starts[t] + tensors[t].count * 4 <= at { t += 1 }
            let end = min(hi, starts[t] + tensors[t].count * 4)
            h.update(UnsafeRawBufferPointer(start: UnsafeRawPointer(bases[t].p) + (at - starts[t]), count: end - at))
            at = end
        }
        (leaves + k * 32).update(from: h.finalize(), count: 32)
    }

    /// The last tensor starting at or before byte `at` (empty tensors skipped by the callers).
    private func tensorHolding(_ at: Int) -> Int {
        var lo = 0, hi = starts.count - 1
        while lo < hi {
            let mid = (lo + hi + 1) / 2
            if starts[mid] <= at { lo = mid } else { hi = mid - 1 }
        }
        return lo
    }
}
