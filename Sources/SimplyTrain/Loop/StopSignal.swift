#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Synchronization
import SimplyRun

/// SIGTERM/SIGINT during training: the handler only stores the signal number
/// (a lock-free atomic, so it is async-signal-safe and the loop is sure to see
/// it); the loop finishes its step, writes a checkpoint and exits cleanly
/// (docs/design.md, Checkpoints). SIGUSR1 does the same: Open MPI's mpirun
/// forwards it to every rank at once, while it holds SIGTERM back
/// (docs/workers.md).
public enum StopSignal {
    static let received = Atomic<Int32>(0)

    public static func install() {
        // A parent may have left these blocked (the mask survives exec); unblock them.
        var set = sigset_t()
        sigemptyset(&set)
        sigaddset(&set, SIGTERM)
        sigaddset(&set, SIGINT)
        sigaddset(&set, SIGUSR1)
        sigprocmask(SIG_UNBLOCK, &set, nil)
        signal(SIGTERM) { s in StopSignal.received.store(s, ordering: .relaxed) }
        signal(SIGINT) { s in StopSignal.received.store(s, ordering: .relaxed) }
        signal(SIGUSR1) { s in StopSignal.received.store(s, ordering: .relaxed) }
    }

    /// The signal that asked to stop, or nil.
    public static var pending: Int32? {
        let s = received.load(ordering: .relaxed)
        return s == 0 ? nil : s
    }

    public static var pendingName: String {
        switch received.load(ordering: .relaxed) {
        case SIGTERM: return "SIGTERM"
        case SIGINT: return "SIGINT"
        case SIGUSR1: return "SIGUSR1"
        case let s: return "signal \(s)"
        }
    }
}
