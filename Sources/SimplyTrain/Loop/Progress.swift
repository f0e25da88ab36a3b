import Foundation
import SimplyRun

/// Progress for people: on a terminal, one line rewritten in place each step
/// (step, loss, tokens/s, ETA); in a log (not a terminal), a line about every
/// tenth of the run, so logs stay short.
public struct Progress {
    let total: Int
    let isTerminal: Bool
    let every: Int
    let start: Double
    let startStep: Int

    public init(total: Int, startStep: Int = 0) {
        self.total = total
        self.startStep = startStep
        self.isTerminal = isatty(2) != 0
        self.every = max(1, total / 10)
        self.start = monotonicSeconds()
    }

    public func update(step: Int, loss: Float, lr: Double, tokensPerSecond: Double) {
        let elapsed = monotonicSeconds() - start
        let done = step - startStep
        let eta = done > 0 ? elapsed / Double(done) * Double(total - step) : 0
        let line = String(format: "step %ld/%ld | loss %.4f | lr %.2e | %@ tok/s | ETA %@",
                          step, total, loss, lr, formatCount(tokensPerSecond), formatDuration(eta))
        if isTerminal {
            FileHandle.standardError.write(Data(("\r\u{1B}[2K" + line).utf8))
            if step == total { FileHandle.standardError.write(Data("\n".utf8)) }
        } else if step % every == 0 || step == 1 || step == total {
            FileHandle.standardError.write(Data((line + "\n").utf8))
        }
    }
}

public func monotonicSeconds() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) * 1e-9
}

func formatCount(_ x: Double) -> String {
    if x >= 1e6 { return String(format: "%.2fM", x / 1e6) }
    if x >= 1e3 { return String(format: "%.1fk", x / 1e3) }
    return String(format: "%.0f", x)
}

func formatDuration(_ s: Double) -> String {
    let t = Int(s.rounded())
    return t >= 3600 ? String(format: "%d:%02d:%02d", t / 3600, t / 60 % 60, t % 60)
                     : String(format: "%d:%02d", t / 60, t % 60)
}
