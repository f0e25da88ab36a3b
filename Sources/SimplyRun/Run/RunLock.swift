#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation

/// One writer per run directory: a POSIX record lock (`fcntl` F_SETLK) on
/// RUN/.lock, held for as long as this object lives (train, resume and verify
/// each hold one). The kernel drops it when the process dies, so a killed run
/// never leaves a stale lock, and — unlike `flock` — a child process forked
/// meanwhile never holds it. Record locks do not exclude within one process,
/// so a registry of held paths does that.
public final class RunLock {
    public static let fileName = ".lock"
    private let fd: Int32
    private let key: String
    public let url: URL

    /// Takes the lock or throws one line naming the process that holds it.
    /// `purpose` ("train", "verify") is written beside the PID for that line.
    public init(_ runDirectory: URL, purpose: String) throws {
        url = runDirectory.appendingPathComponent(Self.fileName)
        let path = url.path
        key = url.standardizedFileURL.resolvingSymlinksInPath().path
        func busy(_ holder: String) -> RunError {
            RunError("\(runDirectory.path): in use by \(holder) (lock \(path)); wait for it to finish or stop it, then try again")
        }
        if let holder = HeldRunLocks.shared.insert(key, purpose: purpose) {
            throw busy("process \(getpid()) (simply \(holder))")
        }
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else {
            HeldRunLocks.shared.remove(key)
            throw RunError("\(path): cannot open the run's lock file (\(String(cString: strerror(errno))))")
        }
        var region = flock()
        region.l_type = Int16(F_WRLCK)
        region.l_whence = Int16(SEEK_SET)
        if fcntl(fd, F_SETLK, &region) != 0 {
            let code = errno
            var probe = flock()
            probe.l_type = Int16(F_WRLCK)
            probe.l_whence = Int16(SEEK_SET)
            let pid = fcntl(fd, F_GETLK, &probe) == 0 && probe.l_type != Int16(F_UNLCK) ? probe.l_pid : 0
            let text = Self.holderText(fd)
            close(fd)
            HeldRunLocks.shared.remove(key)
            if code == EACCES || code == EAGAIN {
                let purpose = text.flatMap { t in t.firstIndex(of: "(").map { String(t[$0...]) } } ?? ""
                throw busy(pid > 0 ? "process \(pid)" + (purpose.isEmpty ? "" : " " + purpose) : "another process")
            }
            throw RunError("\(path): cannot lock (\(String(cString: strerror(code))))")
        }
        self.fd = fd
        let line = Array("pid \(getpid()) (simply \(purpose))\n".utf8)
        // The holder's name is a courtesy: failing to write it does not matter.
        if ftruncate(fd, 0) == 0 { _ = line.withUnsafeBytes { pwrite(fd, $0.baseAddress, $0.count, 0) } }
    }

    deinit {
        close(fd)   // closing the descriptor releases the lock
        HeldRunLocks.shared.remove(key)
    }

    /// What the last holder wrote ("pid 123 (simply train)"), if readable.
    private static func holderText(_ fd: Int32) -> String? {
        var buffer = [UInt8](repeating: 0, count: 128)
        let n = buffer.withUnsafeMutableBytes { pread(fd, $0.baseAddress, $0.count, 0) }
        guard n > 0, let text = String(validating: buffer[0..<n], as: UTF8.self) else { return nil }
        return text.split(separator: "\n").first.map(String.init)
    }
}

/// The run locks this process holds: path → purpose.
private final class HeldRunLocks: @unchecked Sendable {
    static let shared = HeldRunLocks()
    private let lock = NSLock()
    private var held: [String: String] = [:]

    /// Registers `key`; returns the purpose of the holder when it is already held.
    func insert(_ key: String, purpose: String) -> String? {
        lock.withLock {
            if let p = held[key] { return p }
            held[key] = purpose
            return nil
        }
    }

    func remove(_ key: String) { lock.withLock { _ = held.removeValue(forKey: key) } }
}
