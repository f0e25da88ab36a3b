#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation

/// One writer per run directory: an advisory `flock` on RUN/.lock, held for
/// as long as this object lives (train, resume and verify each hold one). The
/// kernel drops the lock when the process dies, so a killed run never leaves
/// a stale lock behind; the PID written into the file only names the holder.
public final class RunLock {
    public static let fileName = ".lock"
    private let fd: Int32
    public let url: URL

    /// Takes the lock or throws one line naming the process that holds it.
    /// `purpose` ("train", "verify") is written beside the PID for that line.
    public init(_ runDirectory: URL, purpose: String) throws {
        url = runDirectory.appendingPathComponent(Self.fileName)
        let path = url.path
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else {
            throw RunError("\(path): cannot open the run's lock file (\(String(cString: strerror(errno))))")
        }
        if flock(fd, LOCK_EX | LOCK_NB) != 0 {
            let busy = errno == EWOULDBLOCK
            let reason = String(cString: strerror(errno))
            let holder = Self.holder(fd)
            close(fd)
            if busy {
                throw RunError("\(runDirectory.path): in use by \(holder ?? "another process") (lock \(path)); "
                    + "wait for it to finish or stop it, then try again")
            }
            throw RunError("\(path): cannot lock (\(reason))")
        }
        self.fd = fd
        let text = Array("pid \(getpid()) (simply \(purpose))\n".utf8)
        // The holder's name is a courtesy: failing to write it does not matter.
        if ftruncate(fd, 0) == 0 { _ = text.withUnsafeBytes { pwrite(fd, $0.baseAddress, $0.count, 0) } }
    }

    deinit { close(fd) }   // closing the descriptor releases the lock

    /// What the holder wrote ("pid 123 (simply train)"), if readable.
    private static func holder(_ fd: Int32) -> String? {
        var buffer = [UInt8](repeating: 0, count: 128)
        let n = buffer.withUnsafeMutableBytes { pread(fd, $0.baseAddress, $0.count, 0) }
        guard n > 0, let text = String(validating: buffer[0..<n], as: UTF8.self) else { return nil }
        let line = text.split(separator: "\n").first.map(String.init) ?? ""
        return line.hasPrefix("pid ") ? "process " + line.dropFirst(4) : nil
    }
}
