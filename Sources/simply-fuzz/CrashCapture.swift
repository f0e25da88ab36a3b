#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation

/// Keeps a copy of the input being run so that a crash (a Swift trap is
/// SIGILL or SIGTRAP; also SIGSEGV, SIGBUS, SIGABRT, SIGFPE) or a hang
/// leaves it in a file. The signal handler only calls open, write, close and
/// raise (async-signal-safe) on buffers prepared in advance.
enum CrashCapture {
    nonisolated(unsafe) static var buffer = UnsafeMutablePointer<UInt8>.allocate(capacity: 1)
    nonisolated(unsafe) static var capacity = 0
    nonisolated(unsafe) static var length = 0
    nonisolated(unsafe) static var runs = 0
    nonisolated(unsafe) static var crashPath: UnsafeMutablePointer<CChar>? = nil
    nonisolated(unsafe) static var timeoutPath: UnsafeMutablePointer<CChar>? = nil

    /// Installs the handlers; crashes go to `crashFile`, hangs longer than
    /// `timeout` seconds to `timeoutFile`.
    static func install(maxLength: Int, crashFile: String, timeoutFile: String, timeout: Int) {
        buffer = UnsafeMutablePointer<UInt8>.allocate(capacity: max(maxLength, 1))
        capacity = maxLength
        crashPath = strdup(crashFile)
        timeoutPath = strdup(timeoutFile)
        for sig in [SIGILL, SIGTRAP, SIGSEGV, SIGBUS, SIGABRT, SIGFPE] {
            var action = sigaction()
            #if canImport(Glibc)
            action.__sigaction_handler.sa_handler = onSignal
            #else
            action.__sigaction_u.__sa_handler = onSignal
            #endif
            sigemptyset(&action.sa_mask)
            action.sa_flags = 0
            sigaction(sig, &action, nil)
        }
        if timeout > 0 {
            let watchdog = Thread {
                var last = -1, still = 0
                while true {
                    sleep(1)
                    let now = runs
                    still = now == last ? still + 1 : 0
                    last = now
                    if still >= timeout {
                        save(timeoutPath)
                        let message = "simply-fuzz: an input ran longer than \(timeout) s; saved to \(String(cString: timeoutPath!))\n"
                        FileHandle.standardError.write(Data(message.utf8))
                        _exit(2)
                    }
                }
            }
            watchdog.start()
        }
    }

    /// Called before each run.
    static func willRun(_ input: [UInt8]) {
        let n = min(input.count, capacity)
        input.withUnsafeBufferPointer { src in if n > 0 { buffer.update(from: src.baseAddress!, count: n) } }
        length = n
        runs &+= 1
    }

    static func save(_ path: UnsafeMutablePointer<CChar>?) {
        guard let path else { return }
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        guard fd >= 0 else { return }
        var written = 0
        while written < length {
            let n = write(fd, buffer + written, length - written)
            if n <= 0 { break }
            written += n
        }
        close(fd)
    }
}

private func onSignal(_ sig: Int32) {
    CrashCapture.save(CrashCapture.crashPath)
    let message: StaticString = "simply-fuzz: crashing input saved (see the crash file)\n"
    _ = write(2, message.utf8Start, message.utf8CodeUnitCount)
    signal(sig, SIG_DFL)
    raise(sig)
}
