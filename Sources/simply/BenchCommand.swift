import ArgumentParser
import Foundation
import SimplyCore
import SimplyPosttraining
import SimplyRun
import SimplyTrain

struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Measure training, forward and sampling throughput, peak memory, and the matmul kernel against OpenBLAS.",
        discussion: "Nothing is written but --json. GFLOP/s count 6*parameters + 12*n_layers*seq_len*d_model per training token (PaLM/nanoGPT). See docs/performance.md.")

    @Option(name: .customLong("experiment_config"), help: "A config name in configs/ (e.g. tiny) or a path to a .json file.")
    var experimentConfig: String = "tiny"

    @Option(name: .customLong("training_mode"), help: ArgumentHelp("\(algorithms.names.joined(separator: ", ")) (default: the config's train.training_mode).", valueName: "mode"))
    var trainingMode: String?

    @Option(name: [.customLong("load_checkpoint"), .customLong("checkpoint")], help: "Start from the weights of a checkpoint (or a run directory's newest), as simply train does.")
    var loadCheckpoint: String?

    @Option(name: .customLong("steps"), help: "Measured training steps (after the warm-up steps).")
    var steps: Int = 10

    @Option(name: .customLong("warmup_steps"), help: "Untimed training steps first.")
    var warmupSteps: Int = 2

    @OptionGroup var threadOptions: ThreadOptions

    @Flag(name: .customLong("deterministic"), help: "Time the deterministic kernels (as train --deterministic).")
    var deterministic = false

    @Option(name: .customLong("json"), help: "Also write the results to this file as JSON (sorted keys).")
    var json: String?

    @Option(name: .customLong("square"), help: "Side of the large square product the kernels are timed at.")
    var square: Int = 1024

    @Option(name: .customLong("kernel_seconds"), help: "Least seconds spent timing each kernel case (the fastest call counts).")
    var kernelSeconds: Double = 0.3

    @OptionGroup var configOptions: ConfigOptions

    var overrides: [String] { configOptions.overrides }

    var configDir: String? { configOptions.configDir }

    func run() throws {
        guard steps >= 1 else { fail("--steps must be >= 1") }
        guard warmupSteps >= 0 else { fail("--warmup_steps must be >= 0") }
        guard square >= 1 else { fail("--square must be >= 1") }
        guard kernelSeconds >= 0 else { fail("--kernel_seconds must be >= 0") }
        let threadCount = threadOptions.count()
        var config: ExperimentConfig
        do {
            config = try ExperimentConfig.resolve(experiment: experimentConfig, configDirectory: configDirectory(configDir, for: experimentConfig),
                                                  overrides: overrides, schema: algorithms.schema)
            if let m = trainingMode {
                guard algorithms.named(m) != nil else {
                    throw ConfigError("--training_mode \(m) is not available (have: \(algorithms.names.joined(separator: ", ")))")
                }
                config.train.mode = m
            }
            // What `simply train` does: a reward model's or PPO's score head.
            algorithms.prepare(&config)
            try config.validate()
        } catch { fail("\(error)") }
        var options = BenchOptions()
        options.steps = steps; options.warmupSteps = warmupSteps
        options.threads = threadCount; options.deterministic = deterministic
        options.squareSize = square; options.kernelSeconds = kernelSeconds
        let name = URL(fileURLWithPath: experimentConfig).deletingPathExtension().lastPathComponent
        log("simply \(Simply.version) bench | OpenBLAS core \(OpenBLASRuntime.coreName)")
        let result: JSONValue
        do {
            result = try Benchmark.run(name: name, config: config, options: options, algorithms: algorithms,
                                       initCheckpoint: loadCheckpoint.map { URL(fileURLWithPath: $0) }, log: log)
        } catch { fail("\(error)") }
        print(BenchTable.render(result))
        if let path = json {
            writeOutput(Data((result.pretty() + "\n").utf8), to: path)
        }
    }
}
