import ArgumentParser
import Foundation
import SimplyTrain

struct PlotCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "plot", abstract: "Draw a run's loss and metrics (metrics.jsonl) as an SVG.")

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
                for extra in try MetricsPlot.load(URL(fileURLWithPath: file)) {
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
        } catch { fail("\(error)") }
    }
}
