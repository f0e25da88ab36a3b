#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation

/// A file that cannot be read, with one line saying why ("is a directory,
/// expected a file", "No such file or directory", ...). `description` is
/// "PATH: REASON"; callers with their own error type use `reason`.
public struct FileReadError: Error, CustomStringConvertible, Sendable {
    public let path: String
    public let reason: String
    public var description: String { "\(path): \(reason)" }
}

/// Reads whole files with errors that name the path and the cause, instead of
/// Foundation's "The file couldn't be opened" (NSCocoaErrorDomain 256).
public enum FileBytes {
    /// The bytes of the file at `url`. A directory is refused before anything
    /// is read; a regular file larger than `limit` bytes is refused before
    /// its buffer is allocated. A device is refused; a pipe is read to the
    /// end (at most `limit` bytes, and at most half the machine's memory).
    public static func read(_ url: URL, limit: Int = Int.max) throws(FileReadError) -> [UInt8] {
        let path = url.path
        func fail(_ reason: String) -> FileReadError { FileReadError(path: path, reason: reason) }
        func posix(_ what: String) -> FileReadError { fail("\(what): \(String(cString: strerror(errno)))") }

        let fd = open(path, O_RDONLY)
        guard fd >= 0 else {
            if errno == EISDIR { throw fail("is a directory, expected a file") }
            throw posix("cannot open")
        }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw posix("cannot stat") }
        let kind = st.st_mode & S_IFMT
        if kind == S_IFDIR { throw fail("is a directory, expected a file") }
        // A device (/dev/zero, /dev/urandom) never ends: refused, not read until memory runs out.
        if kind == S_IFCHR || kind == S_IFBLK { throw fail("is a device, expected a file") }
        let regular = kind == S_IFREG
        let size = Int(st.st_size)
        if regular && size > limit { throw fail("\(size) bytes is more than the \(limit)-byte limit for this file") }
        // A pipe has no size to check first: it may fill at most half the machine's memory.
        let limit = regular ? limit : min(limit, Int(clamping: ProcessInfo.processInfo.physicalMemory / 2))

        var out: [UInt8] = []
        out.reserveCapacity(regular ? size : 1 << 16)
        var chunk = [UInt8](repeating: 0, count: regular ? max(min(size, 1 << 24), 1) : 1 << 16)
        while true {
            let n = chunk.withUnsafeMutableBytes { systemRead(fd, $0.baseAddress, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                if errno == EISDIR { throw fail("is a directory, expected a file") }
                throw posix("cannot read")
            }
            if n == 0 { break }
            guard out.count <= limit - n else { throw fail("more than the \(limit)-byte limit for this file") }
            out.append(contentsOf: chunk[0..<n])
        }
        return out
    }
}

private func systemRead(_ fd: Int32, _ buffer: UnsafeMutableRawPointer?, _ count: Int) -> Int {
    #if canImport(Glibc)
    Glibc.read(fd, buffer, count)
    #else
    Darwin.read(fd, buffer, count)
    #endif
}
