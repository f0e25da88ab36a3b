#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

// File-scope wrappers: inside `CheckpointFiles` the names `read` and
// `rename` would mean its own methods.
private func sysRead(_ fd: Int32, _ buffer: UnsafeMutablePointer<UInt8>, _ count: Int) -> Int { read(fd, buffer, count) }
private func sysRename(_ from: String, _ to: String) -> Int32 { rename(from, to) }

/// Plain POSIX file I/O for checkpoints: every write is followed by fsync,
/// every failure is a `CheckpointError` naming the path.
package enum CheckpointFiles {
    static func errnoText() -> String { String(cString: strerror(errno)) }

    /// Creates (or truncates) `path`, writes `bytes`, fsyncs and closes it.
    /// `before` runs between the writes and the fsync (a test's crash point).
    static func writeSynced(_ bytes: UnsafeRawBufferPointer, to path: String, before: () throws -> Void = {}) throws {
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw CheckpointError(path, "cannot create (\(errnoText()))") }
        var done = 0
        while done < bytes.count {
            let n = write(fd, bytes.baseAddress! + done, bytes.count - done)
            if n < 0 {
                if errno == EINTR { continue }
                let text = errnoText()
                close(fd)
                throw CheckpointError(path, "write failed after \(done) of \(bytes.count) bytes (\(text))")
            }
            done += n
        }
        do { try before() } catch { close(fd); throw error }
        if fsync(fd) != 0 {
            let text = errnoText()
            close(fd)
            throw CheckpointError(path, "fsync failed (\(text))")
        }
        if close(fd) != 0 { throw CheckpointError(path, "close failed (\(errnoText()))") }
    }

    static func writeSynced(_ bytes: [UInt8], to path: String, before: () throws -> Void = {}) throws {
        try bytes.withUnsafeBytes { try writeSynced($0, to: path, before: before) }
    }

    /// Makes a directory's entries (creations, renames) durable.
    static func syncDirectory(_ path: String) throws {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw CheckpointError(path, "cannot open directory to fsync (\(errnoText()))") }
        defer { close(fd) }
        if fsync(fd) != 0 { throw CheckpointError(path, "fsync of directory failed (\(errnoText()))") }
    }

    /// The file's size, or nil when it does not exist.
    static func size(_ path: String) throws -> Int? {
        var st = stat()
        if stat(path, &st) != 0 {
            if errno == ENOENT { return nil }
            throw CheckpointError(path, "cannot stat (\(errnoText()))")
        }
        guard (st.st_mode & S_IFMT) == S_IFREG else { throw CheckpointError(path, "not a regular file") }
        return Int(st.st_size)
    }

    /// The whole file. `expected` (when given) is checked before reading, so a
    /// truncated or grown file is reported as such.
    static func read(_ path: String, expected: Int? = nil) throws -> [UInt8] {
        guard let size = try size(path) else { throw CheckpointError(path, "missing") }
        if let expected, size != expected {
            throw CheckpointError(path, size < expected
                ? "truncated: \(size) bytes, manifest.json says \(expected)"
                : "\(size) bytes, manifest.json says \(expected) (the file was changed)")
        }
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw CheckpointError(path, "cannot open (\(errnoText()))") }
        defer { close(fd) }
        var failure: String? = nil
        let bytes = [UInt8](unsafeUninitializedCapacity: size) { buffer, count in
            var done = 0
            while done < size {
                let n = sysRead(fd, buffer.baseAddress! + done, size - done)
                if n < 0 && errno == EINTR { continue }
                if n <= 0 { failure = n < 0 ? errnoText() : "file shrank while reading"; break }
                done += n
            }
            count = done
        }
        if let failure { throw CheckpointError(path, "read failed (\(failure))") }
        return bytes
    }

    package static func isDirectory(_ path: String) -> Bool {
        var st = stat()
        return stat(path, &st) == 0 && (st.st_mode & S_IFMT) == S_IFDIR
    }

    package static func exists(_ path: String) -> Bool {
        var st = stat()
        return lstat(path, &st) == 0
    }

    package static func rename(_ from: String, _ to: String) throws {
        if sysRename(from, to) != 0 {
            throw CheckpointError(from, "cannot rename to \(to) (\(errnoText()))")
        }
    }
}
