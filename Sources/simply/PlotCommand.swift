import ArgumentParser
import Foundation
import SimplyRun
import SimplyTrain

struct PlotCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "plot", abstract: "Draw a run's loss and metrics (metrics.jsonl) as an SVG, and a PNG when rsvg-convert is installed.",
        discussion: "One panel per metric family (loss on a log scale when it spans a decade, accuracy, reward, KL, learning rate, ...); --add draws evaluation points, e.g. held-out accuracy at checkpoints.")

    @Argument(help: "The run directory.")
    var runDir: String

    @Option(name: .customLong("out"), help: "The SVG to write (default: RUN_DIR/metrics.svg).")
    var out: String?

    @Option(name: .customLong("metrics"), help: "Comma-separated metric names (default: all).")
    var metrics: String?

    @Option(name: .customLong("add"), help: "Another JSONL file of {\"step\": N, \"name\": value, ...} records to draw with the run's metrics (repeatable; e.g. held-out accuracy at checkpoints).")
    var add: [String] = []

    func run() throws {
        let dir = URL(fileURLWithPath: runDir)
        do {
            var series = try MetricsPlot.load(dir.appendingPathComponent("metrics.jsonl"))
            for file in add {
                for var extra in try MetricsPlot.load(URL(fileURLWithPath: file)) {
                    extra.markers = true
                    if let i = series.firstIndex(where: { $0.name == extra.name }) { series[i].points += extra.points }
                    else { series.append(extra) }
                }
            }
            if let m = metrics {
                let wanted = m.split(separator: ",").map(String.init)
                series = series.filter { wanted.contains($0.name) }
                if series.isEmpty { fail("none of \(wanted) is in \(dir.path)/metrics.jsonl") }
            }
            let path = out ?? dir.appendingPathComponent("metrics.svg").path
            writeOutput(Data(MetricsPlot.svg(series, title: dir.lastPathComponent).utf8), to: path)
            print("wrote \(path)")
            if let png = Self.renderPNG(svg: path) { print("wrote \(png)") }
        } catch { fail("\(error)") }
    }

    /// FILE.png next to FILE.svg through rsvg-convert (librsvg2-bin), when it is installed.
    static func renderPNG(svg: String) -> String? {
        guard let tool = (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin").split(separator: ":")
            .map({ "\($0)/rsvg-convert" }).first(where: { FileManager.default.isExecutableFile(atPath: $0) }) else {
            log("no PNG: rsvg-convert is not installed (apt-get install librsvg2-bin)")
            return nil
        }
        let png = (svg.hasSuffix(".svg") ? String(svg.dropLast(4)) : svg) + ".png"
        let p = Process()
        p.executableURL = URL(fileURLWithPath: tool)
        p.arguments = ["-o", png, svg]
        do { try p.run() } catch { log("no PNG: \(tool): \(error)"); return nil }
        p.waitUntilExit()
        guard p.terminationStatus == 0 else { log("no PNG: rsvg-convert exited \(p.terminationStatus)"); return nil }
        return png
    }
}
