import Foundation
import SimplyCore

/// Reads metrics.jsonl and draws it as an SVG: one panel per metric family
/// (loss, learning rate, reward, KL, accuracy, …), each with axis titles,
/// ticks and a legend; losses on a log scale when they span a decade, so the
/// curve after the first steps stays readable. `simply plot RUN_DIR`.
public enum MetricsPlot {
    public struct Series {
        public let name: String
        public var points: [(Double, Double)]
        /// Sparse points (evaluations at checkpoints): drawn with markers.
        public var markers = false
        public init(name: String, points: [(Double, Double)], markers: Bool = false) {
            self.name = name; self.points = points; self.markers = markers
        }
    }

    /// Loads numeric series keyed by metric name from a JSONL file, in first-seen order.
    public static func load(_ url: URL) throws -> [Series] {
        guard let data = FileManager.default.contents(atPath: url.path) else { throw RunError("cannot read \(url.path)") }
        var series: [Series] = []
        for (n, line) in String(decoding: data, as: UTF8.self).split(separator: "\n").enumerated() {
            let v: JSONValue
            do { v = try JSONValue.parse(String(line)) } catch { throw RunError("\(url.path):\(n + 1): \(error)") }
            guard case let .object(pairs) = v, let step = v["step"]?.doubleValue else {
                throw RunError("\(url.path):\(n + 1): expected an object with a step")
            }
            for (k, x) in pairs where k != "step" {
                guard let y = x.doubleValue else { continue }
                if let i = series.firstIndex(where: { $0.name == k }) { series[i].points.append((step, y)) }
                else { series.append(Series(name: k, points: [(step, y)])) }
            }
        }
        if series.isEmpty { throw RunError("\(url.path): no metrics yet") }
        return series
    }

    /// The panel a metric belongs to, and the panels' order.
    static let families: [(title: String, matches: @Sendable (String) -> Bool)] = [
        ("loss", { ["loss", "ce", "kd", "nll_loss", "teacher_ce"].contains($0) || $0.hasPrefix("loss/") }),
        ("accuracy", { $0.contains("accuracy") || $0.hasPrefix("heldout/") || $0.contains("exact_match") || $0.contains("numeric_match") }),
        ("reward", { $0.hasPrefix("reward") || $0.hasPrefix("rewards/") || $0.hasPrefix("objective/scores") || $0.hasPrefix("objective/rlhf") || $0 == "margin" }),
        ("KL", { $0 == "kl" || $0.hasSuffix("/kl") || $0.contains("approxkl") }),
        ("learning rate", { $0 == "lr" }),
        ("gradient norm", { $0 == "grad_norm" }),
        ("tokens per second", { $0 == "tokens_per_sec" }),
        ("seconds per step", { $0 == "step_sec" }),
    ]

    /// Series grouped into panels: the families above, then one panel per other metric.
    static func panels(_ series: [Series]) -> [(title: String, series: [Series])] {
        var out: [(String, [Series])] = []
        var used = Set<String>()
        for f in families {
            let members = series.filter { f.matches($0.name) && !used.contains($0.name) }
            guard !members.isEmpty else { continue }
            members.forEach { used.insert($0.name) }
            out.append((f.title, members))
        }
        for s in series where !used.contains(s.name) { out.append((s.name, [s])) }
        return out
    }

    static let colors = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf"]

    public static func svg(_ series: [Series], title: String) -> String {
        let w = 720.0, h = 250.0, left = 70.0, right = 170.0, top0 = 34.0
        let groups = panels(series)
        var out = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(Int(w))\" height=\"\(Int(top0 + h * Double(groups.count)))\" font-family=\"sans-serif\" font-size=\"11\">\n"
        out += "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n"
        out += "<text x=\"10\" y=\"20\" font-size=\"15\">\(escape(title))</text>\n"
        for (gi, g) in groups.enumerated() {
            let top = top0 + Double(gi) * h + 16, plotH = h - 66, plotW = w - left - right
            let pts = g.series.flatMap { $0.points }.filter { $0.1.isFinite }
            guard let x0 = pts.map(\.0).min(), let x1 = pts.map(\.0).max(),
                  let y0 = pts.map(\.1).min(), let y1 = pts.map(\.1).max() else { continue }
            // Log scale for positive losses (and speeds) spanning more than a decade.
            let log = ["loss", "gradient norm"].contains(g.title) && y0 > 0 && y1 / y0 > 10
            let (ty0, ty1) = log ? (Foundation.log10(y0), Foundation.log10(y1)) : (y0, y1)
            let dx = max(x1 - x0, 1e-12), dy = max(ty1 - ty0, 1e-12)
            func px(_ x: Double) -> Double { left + (x - x0) / dx * plotW }
            func py(_ y: Double) -> Double { top + plotH - ((log ? Foundation.log10(y) : y) - ty0) / dy * plotH }
            out += "<text x=\"\(left)\" y=\"\(top - 4)\" font-size=\"13\" font-weight=\"bold\">\(escape(g.title))\(log ? " (log scale)" : "")</text>\n"
            out += "<rect x=\"\(left)\" y=\"\(top)\" width=\"\(plotW)\" height=\"\(plotH)\" fill=\"none\" stroke=\"#999\"/>\n"
            // Ticks and grid.
            for t in log ? logTicks(y0, y1) : niceTicks(y0, y1) {
                let y = py(t)
                out += "<line x1=\"\(left)\" x2=\"\(left + plotW)\" y1=\"\(fmt(y))\" y2=\"\(fmt(y))\" stroke=\"#eee\"/>"
                out += "<text x=\"\(left - 6)\" y=\"\(fmt(y + 4))\" text-anchor=\"end\">\(fmt(t))</text>\n"
            }
            for t in niceTicks(x0, x1) {
                let x = px(t)
                out += "<line x1=\"\(fmt(x))\" x2=\"\(fmt(x))\" y1=\"\(top + plotH)\" y2=\"\(top + plotH + 4)\" stroke=\"#999\"/>"
                out += "<text x=\"\(fmt(x))\" y=\"\(top + plotH + 16)\" text-anchor=\"middle\">\(fmt(t))</text>\n"
            }
            out += "<text x=\"\(left + plotW / 2)\" y=\"\(top + plotH + 32)\" text-anchor=\"middle\">step</text>\n"
            out += "<text transform=\"translate(14,\(fmt(top + plotH / 2))) rotate(-90)\" text-anchor=\"middle\">\(escape(g.title))</text>\n"
            for (si, s) in g.series.enumerated() {
                let color = colors[si % colors.count]
                let p = s.points.filter { $0.1.isFinite && (!log || $0.1 > 0) }
                func polyline(_ q: [(Double, Double)], _ extra: String) -> String {
                    "<polyline fill=\"none\" stroke=\"\(color)\" \(extra) points=\"" + q.map { "\(fmt(px($0.0))),\(fmt(py($0.1)))" }.joined(separator: " ") + "\"/>\n"
                }
                if p.count > 200 && !s.markers {
                    // Dense and noisy: the raw values faint, a moving average (1% of the run) on top.
                    out += polyline(p, "stroke-width=\"0.8\" stroke-opacity=\"0.3\"")
                    out += polyline(movingAverage(p, window: max(2, p.count / 100)), "stroke-width=\"1.6\"")
                } else {
                    out += polyline(p, "stroke-width=\"1.5\"")
                }
                if s.markers {
                    for q in p { out += "<circle cx=\"\(fmt(px(q.0)))\" cy=\"\(fmt(py(q.1)))\" r=\"3\" fill=\"\(color)\"/>" }
                    out += "\n"
                }
                let ly = top + 12 + Double(si) * 16
                out += "<line x1=\"\(left + plotW + 10)\" x2=\"\(left + plotW + 26)\" y1=\"\(ly - 4)\" y2=\"\(ly - 4)\" stroke=\"\(color)\" stroke-width=\"2\"/>"
                out += "<text x=\"\(left + plotW + 30)\" y=\"\(ly)\">\(escape(s.name))</text>\n"
            }
        }
        return out + "</svg>\n"
    }

    /// Each point's value averaged with the window − 1 before it (in log space on a log axis it is
    /// the arithmetic mean: a display aid only).
    static func movingAverage(_ p: [(Double, Double)], window: Int) -> [(Double, Double)] {
        var out: [(Double, Double)] = [], sum = 0.0
        for (i, q) in p.enumerated() {
            sum += q.1
            if i >= window { sum -= p[i - window].1 }
            out.append((q.0, sum / Double(min(i + 1, window))))
        }
        return out
    }

    /// About five round values (1, 2 or 5 × 10^k apart) within lo...hi.
    public static func niceTicks(_ lo: Double, _ hi: Double) -> [Double] {
        guard hi > lo else { return [lo] }
        let raw = (hi - lo) / 5, mag = pow(10, floor(Foundation.log10(raw)))
        let step = [1.0, 2, 5, 10].map { $0 * mag }.first { $0 >= raw } ?? 10 * mag
        var t = ceil(lo / step) * step, out: [Double] = []
        while t <= hi + step * 1e-9 && out.count < 12 { out.append(abs(t) < step * 1e-9 ? 0 : t); t += step }
        return out
    }

    /// 1, 2 and 5 × 10^k within lo...hi (lo > 0), or only the powers of ten when they are many.
    public static func logTicks(_ lo: Double, _ hi: Double) -> [Double] {
        let k0 = Int(floor(Foundation.log10(lo))), k1 = Int(ceil(Foundation.log10(hi)))
        let mantissas: [Double] = k1 - k0 > 4 ? [1] : [1, 2, 5]
        return (k0...k1).flatMap { k in mantissas.map { $0 * pow(10, Double(k)) } }.filter { $0 >= lo * 0.999 && $0 <= hi * 1.001 }
    }

    static func fmt(_ x: Double) -> String {
        abs(x) >= 1e4 || (abs(x) < 1e-3 && x != 0) ? String(format: "%.3g", x) : String(format: "%.4g", x)
    }

    static func escape(_ s: String) -> String {
        s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
    }
}
