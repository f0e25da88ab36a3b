/// Float32 buffers, llm.c style: one owned allocation (`Storage`) and cheap
/// views into it (`Tensor`). Kernels read and write through `pointer`; code
/// outside kernels uses the subscripts and the copy helpers.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// An owned, 64-byte aligned, zero-filled block of floats. Blocks of 1 MiB
/// or more are anonymous mappings: the kernel hands out zero pages as they
/// are first touched, so a buffer sized for the largest batch costs resident
/// memory only for the part a run writes (and zeroing is free).
public final class Storage: @unchecked Sendable {
    public let base: UnsafeMutablePointer<Float>
    public let count: Int
    private let mappedBytes: Int

    static let mapThreshold = 1 << 20

    public init(count: Int) {
        precondition(count >= 0)
        let bytes = max(count, 1) * MemoryLayout<Float>.stride
        if bytes >= Self.mapThreshold {
            let raw = mmap(nil, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0)
            guard let raw, raw != MAP_FAILED else { fatalError("out of memory mapping \(bytes) bytes") }
            self.base = raw.bindMemory(to: Float.self, capacity: max(count, 1))
            mappedBytes = bytes
        } else {
            var raw: UnsafeMutableRawPointer? = nil
            guard posix_memalign(&raw, 64, bytes) == 0, let raw else {
                fatalError("out of memory allocating \(bytes) bytes")
            }
            memset(raw, 0, bytes)
            self.base = raw.bindMemory(to: Float.self, capacity: max(count, 1))
            mappedBytes = 0
        }
        self.count = count
    }

    deinit {
        if mappedBytes > 0 { munmap(base, mappedBytes) } else { free(base) }
    }

    /// Bytes of this block in memory now: the pages of a mapping that were
    /// touched (mincore), or the whole of a small block.
    public var residentBytes: Int {
        guard mappedBytes > 0 else { return max(count, 1) * MemoryLayout<Float>.stride }
        let page = Int(sysconf(Int32(_SC_PAGESIZE)))
        let pages = (mappedBytes + page - 1) / page
        var resident = [UInt8](repeating: 0, count: pages)
        guard mincore(base, mappedBytes, &resident) == 0 else { return mappedBytes }
        return resident.reduce(0) { $0 + Int($1 & 1) } * page
    }
}

/// A row-major view of `shape` floats starting at `offset` in a `Storage`.
public struct Tensor: @unchecked Sendable {
    public let storage: Storage
    public let offset: Int
    public let shape: [Int]
    public let count: Int

    /// A new zero-filled tensor.
    public init(shape: [Int]) {
        let n = shape.reduce(1, *)
        self.storage = Storage(count: n)
        self.offset = 0
        self.shape = shape
        self.count = n
    }

    /// A view of `shape` elements of `storage` starting at `offset`.
    public init(storage: Storage, offset: Int, shape: [Int]) {
        let n = shape.reduce(1, *)
        precondition(offset >= 0 && offset + n <= storage.count, "view out of range")
        self.storage = storage
        self.offset = offset
        self.shape = shape
        self.count = n
    }

    public init(shape: [Int], values: [Float]) {
        self.init(shape: shape)
        precondition(values.count == count, "expected \(count) values, got \(values.count)")
        values.withUnsafeBufferPointer { src in
            pointer.update(from: src.baseAddress!, count: count)
        }
    }

    public var pointer: UnsafeMutablePointer<Float> { storage.base + offset }

    public subscript(i: Int) -> Float {
        get { precondition(i >= 0 && i < count); return pointer[i] }
        nonmutating set { precondition(i >= 0 && i < count); pointer[i] = newValue }
    }

    /// A view of the same elements with another shape.
    public func reshaped(_ newShape: [Int]) -> Tensor {
        precondition(newShape.reduce(1, *) == count, "reshape \(shape) -> \(newShape)")
        return Tensor(storage: storage, offset: offset, shape: newShape)
    }

    /// Row `i` of the first axis, as a view.
    public func row(_ i: Int) -> Tensor {
        let inner = Array(shape.dropFirst())
        let n = inner.reduce(1, *)
        precondition(i >= 0 && i < shape[0])
        return Tensor(storage: storage, offset: offset + i * n, shape: inner)
    }

    public func zero() { pointer.update(repeating: 0, count: count) }

    public func fill(_ value: Float) { pointer.update(repeating: value, count: count) }

    public func copy(from other: Tensor) {
        precondition(other.count == count, "copy \(other.shape) -> \(shape)")
        pointer.update(from: other.pointer, count: count)
    }

    public func copy(from values: [Float]) {
        precondition(values.count == count)
        values.withUnsafeBufferPointer { pointer.update(from: $0.baseAddress!, count: count) }
    }

    public func toArray() -> [Float] {
        Array(UnsafeBufferPointer(start: pointer, count: count))
    }

    /// The raw little-endian bytes of the elements (for hashing and files).
    public func withBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try body(UnsafeRawBufferPointer(start: pointer, count: count * 4))
    }

    /// True when both tensors hold the same bits.
    public func bitwiseEqual(_ other: Tensor) -> Bool {
        count == other.count && memcmp(pointer, other.pointer, count * 4) == 0
    }
}

/// A raw pointer that may cross into the worker closures of `Parallel`.
/// Only kernels use it; each worker writes a disjoint range.
public struct SendablePointer<T>: @unchecked Sendable {
    public let p: UnsafeMutablePointer<T>
    public init(_ p: UnsafeMutablePointer<T>) { self.p = p }
}
