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
        StatePieces(tensors).finish(parallel: parallel)
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

    static func hashPair(_ a: UnsafeRawPointer, _ b: UnsafeRawPointer,
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
