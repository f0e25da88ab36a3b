#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The packing scratch of `PackedProduct.run`, one buffer per thread, kept
/// for the thread's life (a pthread key frees it when the thread ends).
///
/// Why: allocating it per call cost ~4,300 aligned allocations (~150 MB) per
/// `tiny` training step; buffers that size come from mmap in glibc, so every
/// call also paid fresh page faults. Per-thread, not a shared pool: `Parallel`'s
/// workers and several Trainers on their own threads never share a buffer, and
/// no lock is taken. `run` does not call itself, so one buffer per thread is
/// enough. Only where packed copies live changes, never the bits.
enum PackScratch {
    /// Floats the largest call needs: packed B block, packed A block, edge tile.
    static let floats = PackedProduct.kcMax * PackedProduct.ncMax
        + PackedProduct.mcMax * PackedProduct.kcMax + PackedProduct.mr * PackedProduct.nr

    // Pages are touched only as far as a call writes, so small models do
    // not pay for the full size.
    private static let key: pthread_key_t = {
        var key = pthread_key_t()
        let rc = pthread_key_create(&key) { raw in free(raw) }
        precondition(rc == 0, "pthread_key_create failed (\(rc))")
        return key
    }()

    /// This thread's buffer of `floats` floats, 64-byte aligned.
    static func buffer() -> UnsafeMutablePointer<Float> {
        if let raw = pthread_getspecific(key) { return raw.assumingMemoryBound(to: Float.self) }
        var raw: UnsafeMutableRawPointer? = nil
        let rc = posix_memalign(&raw, 64, floats * MemoryLayout<Float>.stride)
        guard rc == 0, let raw else { fatalError("packing scratch: posix_memalign of \(floats) floats failed (\(rc))") }
        let set = pthread_setspecific(key, raw)
        precondition(set == 0, "pthread_setspecific failed (\(set))")
        return raw.bindMemory(to: Float.self, capacity: floats)
    }
}
