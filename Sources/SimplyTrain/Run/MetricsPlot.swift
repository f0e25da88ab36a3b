import Foundation
import SimplyCore

/// Reads metrics.jsonl and draws one SVG panel per metric (loss first), so a
/// loss curve is one command away: `simply plot RUN_DIR`.
public enum MetricsPlot {
    public struct Series { public let name: String; public var points: [(Double, Double)] }

    /// Loads numeric series keyed by metric name from metrics.jsonl, in first-seen order.
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
        // Loss first, the rest as written.
        return series.filter { $0.name == "loss" } + series.filter { $0.name != "loss" }
    }

    public static func svg(_ series: [Series], title: String) -> String {
        let w = 640.0, h = 220.0, pad = 48.0
        var out = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(Int(w))\" height=\"\(Int(h) * series.count + 30)\" font-family=\"sans-serif\" font-size=\"11\">\n"
        out += "<text x=\"10\" y=\"18\" font-size=\"14\">\(escape(title))</text>\n"
        for (i, s) in series.enumerated() {
            let top = 30 + Double(i) * h
            let xs = s.points.map(\.0), ys = s.points.map(\.1).filter(\.isFinite)
            guard let x0 = xs.min(), let x1 = xs.max(), let y0 = ys.min(), let y1 = ys.max() else { continue }
            let dx = max(x1 - x0, 1e-12), dy = max(y1 - y0, 1e-12)
            func px(_ x: Double) -> Double { pad + (x - x0) / dx * (w - 2 * pad) }
            func py(_ y: Double) -> Double { top + h - 30 - (y - y0) / dy * (h - 50) }
            out += "<rect x=\"\(pad)\" y=\"\(top + 20)\" width=\"\(w - 2 * pad)\" height=\"\(h - 50)\" fill=\"none\" stroke=\"#ccc\"/>\n"
            out += "<text x=\"\(pad)\" y=\"\(top + 14)\">\(escape(s.name))</text>\n"
            out += "<text x=\"4\" y=\"\(top + 30)\">\(fmt(y1))</text><text x=\"4\" y=\"\(top + h - 30)\">\(fmt(y0))</text>\n"
            out += "<text x=\"\(pad)\" y=\"\(top + h - 14)\">\(fmt(x0))</text><text x=\"\(w - pad - 30)\" y=\"\(top + h - 14)\">\(fmt(x1))</text>\n"
            let path = s.points.filter { $0.1.isFinite }.map { "\(fmt(px($0.0))),\(fmt(py($0.1)))" }.joined(separator: " ")
            out += "<polyline fill=\"none\" stroke=\"#1f77b4\" stroke-width=\"1.5\" points=\"\(path)\"/>\n"
        }
        return out + "</svg>\n"
    }

    static func fmt(_ x: Double) -> String {
        abs(x) >= 1e4 || (abs(x) < 1e-3 && x != 0) ? String(format: "%.3g", x) : String(format: "%.4g", x)
    }

    static func escape(_ s: String) -> String {
        s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
    }
}
