import Foundation
#if canImport(Glibc)
import Glibc
import SimplyRun
#endif

/// The process's memory as the kernel counts it (for `simply bench`).
public enum ProcessMemory {
    /// Peak resident set size in bytes: getrusage's ru_maxrss (KiB on Linux).
    public static var maxRSSBytes: Int {
        var u = rusage()
        getrusage(RUSAGE_SELF.rawValue, &u)
        return Int(u.ru_maxrss) * 1024
    }

    /// A "VmHWM:"/"VmRSS:" line of /proc/self/status in bytes, or nil off Linux.
    public static func status(_ key: String) -> Int? {
        guard let text = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return nil }
        for line in text.split(separator: "\n") where line.hasPrefix(key + ":") {
            let fields = line.split(separator: " ", omittingEmptySubsequences: true)
            if fields.count >= 2, let kib = Int(fields[1]) { return kib * 1024 }
        }
        return nil
    }

    /// Peak resident set (VmHWM), falling back to ru_maxrss.
    public static var peakBytes: Int { status("VmHWM") ?? maxRSSBytes }
}
