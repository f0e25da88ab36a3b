import SimplyRun
/// Wall-clock seconds per phase of a training step, summed over the steps it
/// saw. Only `simply bench` sets one on a Trainer; a timer reads the clock and
/// never touches a number the step computes.
public final class PhaseTimer {
    public private(set) var seconds: [String: Double] = [:]
    /// Phase names in the order they first ran.
    public private(set) var order: [String] = []

    public init() {}

    /// Runs `body`, adding its duration to `phase`.
    @inline(__always)
    public func time<T>(_ phase: String, _ body: () -> T) -> T {
        let t0 = monotonicSeconds()
        let r = body()
        add(phase, monotonicSeconds() - t0)
        return r
    }

    public func add(_ phase: String, _ dt: Double) {
        if seconds[phase] == nil { order.append(phase) }
        seconds[phase, default: 0] += dt
    }

    public func reset() { seconds = [:]; order = [] }
}
