import Foundation
import Testing
import SimplyCore
import SimplyRun
import SimplyTrain

/// `simply plot`: one panel per metric family with axis titles and ticks, the
/// loss on a log scale once it spans a decade, evaluation points as markers,
/// and a PNG beside the SVG (tools/setup.sh installs rsvg-convert).
@Suite struct PlotTests {
    @Test func panelsByFamilyLogScaleAndTicks() {
        let steps = (1...400).map(Double.init)
        let series = [
            MetricsPlot.Series(name: "loss", points: steps.map { ($0, 8 * Foundation.exp(-$0 / 60) + 0.01) }),
            MetricsPlot.Series(name: "lr", points: steps.map { ($0, 1e-3) }),
            MetricsPlot.Series(name: "reward", points: steps.map { ($0, $0 / 400) }),
            MetricsPlot.Series(name: "heldout/exact_match", points: [(0, 0.1), (200, 0.5), (400, 0.8)], markers: true),
            MetricsPlot.Series(name: "mean_token_accuracy", points: steps.map { ($0, 0.5) }),
        ]
        let svg = MetricsPlot.svg(series, title: "run")
        for panel in ["loss (log scale)", "learning rate", "reward", "accuracy"] {
            #expect(svg.contains(">\(panel)</text>"), "panel \(panel)")
        }
        // Both accuracies share one panel; the held-out one has markers.
        #expect(svg.components(separatedBy: ">accuracy</text>").count == 3, "title and axis title of one accuracy panel")
        #expect(svg.contains("<circle"))
        #expect(svg.components(separatedBy: ">step</text>").count - 1 == 4, "an x-axis title per panel")
        for tick in [">0.05</text>", ">0.1</text>", ">1</text>", ">5</text>"] { #expect(svg.contains(tick), "log tick \(tick)") }
        #expect(MetricsPlot.niceTicks(0, 7000) == [0, 2000, 4000, 6000])
        #expect(MetricsPlot.logTicks(0.003, 9) == [0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5])
    }

    @Test func plotWritesSVGAndPNG() throws {
        let tmp = try temporaryDirectory("plot")
        defer { try? FileManager.default.removeItem(at: tmp) }
        let repo = configsURL.deletingLastPathComponent()
        let run = tmp.appendingPathComponent("run")
        #expect(try runSimply(["train", "--experiment_dir", run.path, "--deterministic", "--set", "train.steps=3"], cwd: repo).status == 0)
        let out = tmp.appendingPathComponent("plots/run.svg")
        let r = try runSimply(["plot", run.path, "--out", out.path], cwd: repo)
        #expect(r.status == 0 && r.stdout.contains("wrote \(out.path)"), "\(r.stderr)")
        let png = tmp.appendingPathComponent("plots/run.png")
        #expect(r.stdout.contains("wrote \(png.path)"), "no PNG (rsvg-convert from librsvg2-bin, which tools/setup.sh installs): \(r.stderr)")
        let bytes = try Data(contentsOf: png)
        #expect(bytes.starts(with: [0x89, 0x50, 0x4E, 0x47]), "a PNG file")
    }
}
