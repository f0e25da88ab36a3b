import CSHA256

/// The state hash: hashes.jsonl's `state_sha256` and a checkpoint
/// manifest's.
///
/// The state's bytes (parameters, AdamW's m and v, an objective's state
/// tensors, in the order docs/design.md gives) are cut into pieces of
/// `pieceBytes` (the last may be shorter); the state hash is the SHA-256 of
/// the pieces' SHA-256 digests, concatenated in order:
///
///     state_sha256 = SHA-256(SHA-256(piece 0) ‖ SHA-256(piece 1) ‖ …)
///
/// Why not one SHA-256 over the bytes: that is a single chain of dependent
/// rounds, 1.6 GB per step at 135M parameters, a second of one core per
/// step (measured on Zen 2), on a step of 6 s. Pieces are independent, so
/// the training lanes hash them side by side and one core hashes two at
/// once (CSHA256: 1.6 → 2.8 GB/s). The value depends on the bytes alone,
/// never on threads or on how the bytes were handed in; any SHA-256 library
/// recomputes it (tools/golden/state_hash.py).
public final class StateHasher {
    public static let pieceBytes = 1 << 20

    private let root = SHA256Hasher()
    private var piece = SHA256Hasher()
    private var pieceFilled = 0

    public init() {}

    /// Hashes `bytes` next; bytes may come in pieces of any size.
    public func update(_ bytes: UnsafeRawBufferPointer) {
        var rest = bytes
        while !rest.isEmpty {
            if pieceFilled == 0, rest.count >= 2 * Self.pieceBytes, Self.pairKernel {
                var digests = [UInt8](repeating: 0, count: 64)
                Self.hashPair(rest.baseAddress!, rest.baseAddress! + Self.pieceBytes, into: &digests, at: 0)
                root.update(digests)
                rest = UnsafeRawBufferPointer(rebasing: rest[(rest.startIndex + 2 * Self.pieceBytes)...])
                continue
            }
            let n = min(rest.count, Self.pieceBytes - pieceFilled)
            piece.update(UnsafeRawBufferPointer(rebasing: rest[rest.startIndex..<(rest.startIndex + n)]))
            pieceFilled += n
            rest = UnsafeRawBufferPointer(rebasing: rest[(rest.startIndex + n)...])
            if pieceFilled == Self.pieceBytes {
                root.update(piece.finalize())
                piece = SHA256Hasher()
                pieceFilled = 0
            }
        }
    }

    public func update(_ tensor: Tensor) { tensor.withBytes { update($0) } }

    /// Finishes and returns the hex digest. The hasher cannot be reused.
    public func finalizeHex() -> String {
        if pieceFilled > 0 { root.update(piece.finalize()) }
        return root.finalizeHex()
    }

    /// The state hash of the tensors' bytes in order, the pieces split over
    /// `parallel`'s threads (the same value as a StateHasher fed them).
    public static func digest(of tensors: [Tensor], parallel: Parallel) -> String {
        // The tensors' byte ranges, end to end.
        var starts: [Int] = []
        var end = 0
        for t in tensors { starts.append(end); end += t.count * 4 }
        let total = end
        let pieces = (total + pieceBytes - 1) / pieceBytes
        if pieces == 0 { return SHA256Hasher().finalizeHex() }
        let bases = tensors.map { SendablePointer($0.pointer) }
        let rangeStarts = starts

        // Each piece's digest, in its slot; a piece lying whole in one tensor
        // is read in place, a piece spanning tensors is fed range by range.
        var leaves = [UInt8](repeating: 0, count: pieces * 32)
        leaves.withUnsafeMutableBytes { out in
            let leafBase = SendablePointer(out.baseAddress!.assumingMemoryBound(to: UInt8.self))
            parallel.forEachRange(pieces, grain: 2) { range in
                var pending: (piece: Int, start: UnsafeRawPointer)?
                for k in range {
                    let lo = k * pieceBytes, hi = min(lo + pieceBytes, total)
                    var t = 0
                    while t + 1 < rangeStarts.count && rangeStarts[t + 1] <= lo { t += 1 }
                    let tensorEnd = rangeStarts[t] + tensors[t].count * 4
                    if hi - lo == pieceBytes && hi <= tensorEnd && pairKernel {
                        let start = UnsafeRawPointer(bases[t].p) + (lo - rangeStarts[t])
                        if let first = pending {
                            hashPair(first.start, start, firstSlot: leafBase.p + first.piece * 32, secondSlot: leafBase.p + k * 32)
                            pending = nil
                        } else {
                            pending = (k, start)
                        }
                        continue
                    }
                    let h = SHA256Hasher()
                    var at = lo
                    while at < hi {
                        while rangeStarts[t] + tensors[t].count * 4 <= at { t += 1 }
                        let end = min(hi, rangeStarts[t] + tensors[t].count * 4)
                        h.update(UnsafeRawBufferPointer(start: UnsafeRawPointer(bases[t].p) + (at - rangeStarts[t]), count: end - at))
                        at = end
                    }
                    (leafBase.p + k * 32).update(from: h.finalize(), count: 32)
                }
                if let last = pending {
                    let h = SHA256Hasher()
                    h.update(UnsafeRawBufferPointer(start: last.start, count: pieceBytes))
                    (leafBase.p + last.piece * 32).update(from: h.finalize(), count: 32)
                }
            }
        }
        let root = SHA256Hasher()
        root.update(leaves)
        return root.finalizeHex()
    }

    /// SHA-256 of two messages of one length (a multiple of 64) by the pair
    /// kernel, for its tests; nil when this CPU has no SHA extensions.
    public static func pairKernelDigests(_ a: [UInt8], _ b: [UInt8]) -> (String, String)? {
        guard pairKernel, a.count == b.count, a.count % 64 == 0 else { return nil }
        var da = [UInt8](repeating: 0, count: 32), db = da
        a.withUnsafeBytes { pa in b.withUnsafeBytes { pb in
            da.withUnsafeMutableBufferPointer { oa in db.withUnsafeMutableBufferPointer { ob in
                simply_sha256_pair(pa.baseAddress!.assumingMemoryBound(to: UInt8.self), pb.baseAddress!.assumingMemoryBound(to: UInt8.self),
                                   a.count, oa.baseAddress!, ob.baseAddress!)
            } }
        } }
        return (hex(da), hex(db))
    }

    /// Whether this CPU hashes two pieces at once (x86 SHA extensions); else
    /// every piece goes through OpenSSL, with the same digests.
    static let pairKernel = simply_sha256_pair_available() != 0

    private static func hashPair(_ a: UnsafeRawPointer, _ b: UnsafeRawPointer,
                                 firstSlot: UnsafeMutablePointer<UInt8>, secondSlot: UnsafeMutablePointer<UInt8>) {
        simply_sha256_pair(a.assumingMemoryBound(to: UInt8.self), b.assumingMemoryBound(to: UInt8.self),
                           pieceBytes, firstSlot, secondSlot)
    }

    private static func hashPair(_ a: UnsafeRawPointer, _ b: UnsafeRawPointer, into out: inout [UInt8], at slot: Int) {
        out.withUnsafeMutableBufferPointer { o in
            hashPair(a, b, firstSlot: o.baseAddress! + slot, secondSlot: o.baseAddress! + slot + 32)
        }
    }
}
