import CZstd

/// One zstd frame per shard, so `zstd -d` restores the safetensors file.
/// Single-threaded libzstd is deterministic: the same bytes and level give the
/// same frame (for a given libzstd version).
public enum CheckpointZstd {
    /// The levels libzstd accepts (negative ones are its "fast" modes).
    public static var levels: ClosedRange<Int> { Int(ZSTD_minCLevel())...Int(ZSTD_maxCLevel()) }

    /// Compresses into one frame that records its content size and a content
    /// checksum (so `zstd -t` checks a shard without Simply).
    public final class Compressor {
        let cctx: OpaquePointer
        public let level: Int

        public init(level: Int) throws {
            guard CheckpointZstd.levels.contains(level) else {
                throw CheckpointError("zstd", field: "compression_level", "\(level) is outside \(CheckpointZstd.levels)")
            }
            guard let c = ZSTD_createCCtx() else { throw CheckpointError("zstd", "cannot create a compression context") }
            cctx = c
            self.level = level
            for (param, value) in [(ZSTD_c_compressionLevel, Int32(level)), (ZSTD_c_checksumFlag, 1), (ZSTD_c_contentSizeFlag, 1)] {
                let r = ZSTD_CCtx_setParameter(cctx, param, value)
                if ZSTD_isError(r) != 0 {
                    ZSTD_freeCCtx(cctx)
                    throw CheckpointError("zstd", "setting a parameter failed: \(String(cString: ZSTD_getErrorName(r)))")
                }
            }
        }

        deinit { ZSTD_freeCCtx(cctx) }

        /// The output capacity `compress` needs for `count` input bytes.
        public static func bound(_ count: Int) -> Int { ZSTD_compressBound(count) }

        /// Compresses `source` into `destination` (capacity at least
        /// `bound(source.count)`) and returns the frame's size.
        public func compress(_ source: UnsafeRawBufferPointer, into destination: UnsafeMutableRawBufferPointer, name: String) throws -> Int {
            let n = ZSTD_compress2(cctx, destination.baseAddress, destination.count, source.baseAddress, source.count)
            if ZSTD_isError(n) != 0 { throw CheckpointError(name, "zstd compression failed: \(String(cString: ZSTD_getErrorName(n)))") }
            return n
        }

        public func compress(_ source: [UInt8], name: String) throws -> [UInt8] {
            var failure: CheckpointError? = nil
            let out = [UInt8](unsafeUninitializedCapacity: Compressor.bound(source.count)) { dst, count in
                do {
                    count = try source.withUnsafeBytes { try compress($0, into: UnsafeMutableRawBufferPointer(dst), name: name) }
                } catch {
                    failure = error as? CheckpointError
                    count = 0
                }
            }
            if let failure { throw failure }
            return out
        }
    }

    /// The content of a file that must be exactly one zstd frame, whose
    /// recorded content size must equal `expectedSize` when given.
    /// `maxSize` bounds what a frame without an expected size may claim.
    public static func decompress(_ frame: [UInt8], name: String, expectedSize: Int? = nil,
                                  maxSize: Int = Int.max) throws -> [UInt8] {
        let (contentSize, frameSize) = frame.withUnsafeBytes { src in
            (ZSTD_getFrameContentSize(src.baseAddress, src.count), ZSTD_findFrameCompressedSize(src.baseAddress, src.count))
        }
        // ZSTD_CONTENTSIZE_UNKNOWN and _ERROR are the two largest UInt64 values.
        guard contentSize < UInt64.max - 1 else {
            throw CheckpointError(name, contentSize == UInt64.max
                ? "zstd frame does not record its content size"
                : "not a zstd frame (bad magic number or header)")
        }
        if ZSTD_isError(frameSize) != 0 {
            throw CheckpointError(name, "damaged zstd frame: \(String(cString: ZSTD_getErrorName(frameSize)))")
        }
        guard frameSize == frame.count else {
            throw CheckpointError(name, "\(frame.count - frameSize) bytes follow the zstd frame (expected exactly one frame)")
        }
        if let expectedSize, contentSize != UInt64(expectedSize) {
            throw CheckpointError(name, "zstd frame holds \(contentSize) bytes, manifest.json says raw_bytes \(expectedSize)")
        }
        // zstd cannot shrink data more than ~32768x (RLE blocks): a larger
        // claim is damage, and refusing it bounds what is allocated below.
        guard contentSize <= UInt64(maxSize) else {
            throw CheckpointError(name, "zstd frame claims \(contentSize) bytes, more than the \(maxSize) expected at most")
        }
        guard contentSize <= UInt64(frame.count) << 16 else {
            throw CheckpointError(name, "zstd frame claims \(contentSize) bytes, impossible for a \(frame.count)-byte frame")
        }
        let size = Int(contentSize)
        var result = 0
        let out = [UInt8](unsafeUninitializedCapacity: size) { dst, count in
            result = frame.withUnsafeBytes { src in ZSTD_decompress(dst.baseAddress, size, src.baseAddress, src.count) }
            count = ZSTD_isError(result) != 0 ? 0 : min(result, size)
        }
        if ZSTD_isError(result) != 0 {
            throw CheckpointError(name, "zstd decompression failed: \(String(cString: ZSTD_getErrorName(result)))")
        }
        guard result == size else { throw CheckpointError(name, "zstd frame decompressed to \(result) bytes, its header says \(size)") }
        return out
    }
}
