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

    @Flag(name: .customLong("compare_full"), help: "With lora.rank set: also bench full fine-tuning of the same config (lora.rank=0); each runs in a child process of its own (peak memory is per process), and LoRA/full ratios of peak training memory and tokens/s are reported.")
    var compareFull = false

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
        if compareFull {
            guard ((try? config.loraSettings().rank) ?? 0) > 0 else { fail("--compare_full needs lora.rank >= 1 (e.g. --set lora.rank=16)") }
            compareWithFull()
            return
        }
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

    /// `--compare_full`: this command twice in child processes, LoRA then full
    /// (lora.rank=0), one after the other; both tables, then the ratios.
    func compareWithFull() {
        let executable = URL(fileURLWithPath: CommandLine.arguments[0]).path
        var args: [String] = []
        var skip = false
        for a in CommandLine.arguments.dropFirst() {
            if skip { skip = false; continue }
            if a == "--compare_full" { continue }
            if a == "--json" { skip = true; continue }
            if a.hasPrefix("--json=") { continue }
            args.append(a)
        }
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("simply-bench-\(ProcessInfo.processInfo.processIdentifier)")
        do { try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true) } catch { fail("\(dir.path): \(error)") }
        defer { try? FileManager.default.removeItem(at: dir) }
        var results: [(String, JSONValue)] = []
        for (name, extra) in [("lora", [String]()), ("full", ["--set", "lora.rank=0"])] {
            let out = dir.appendingPathComponent("\(name).json")
            log("bench: \(name) fine-tuning, in a child process")
            let child = Process()
            child.executableURL = URL(fileURLWithPath: executable)
            child.arguments = args + extra + ["--json", out.path]
            do { try child.run() } catch { fail("cannot run \(executable): \(error)") }
            child.waitUntilExit()
            guard child.terminationStatus == 0 else { fail("the \(name) bench failed (status \(child.terminationStatus))") }
            do {
                results.append((name, try JSONValue.parse(String(decoding: try FileBytes.read(out, limit: 1 << 26), as: UTF8.self))))
            } catch { fail("\(out.path): \(error)") }
        }
        let lora = results[0].1, full = results[1].1
        func number(_ j: JSONValue, _ a: String, _ b: String) -> Double { j[a]?[b]?.doubleValue ?? .nan }
        let memory = number(lora, "memory", "peak_rss_bytes_training") / number(full, "memory", "peak_rss_bytes_training")
        let speed = number(lora, "train", "tokens_per_sec") / number(full, "train", "tokens_per_sec")
        let ratios: JSONValue = .object([("peak_training_memory_lora_over_full", .double(memory)),
                                          ("train_tokens_per_sec_lora_over_full", .double(speed))])
        print(String(format: "LoRA / full fine-tuning: peak training memory %.3f (%.0f / %.0f MiB), training tokens/s %.2fx (%.0f / %.0f)",
                     memory, number(lora, "memory", "peak_rss_bytes_training") / 1048576, number(full, "memory", "peak_rss_bytes_training") / 1048576,
                     speed, number(lora, "train", "tokens_per_sec"), number(full, "train", "tokens_per_sec")))
        if let path = json {
            writeOutput(Data((JSONValue.object(results + [("ratios", ratios)]).pretty() + "\n").utf8), to: path)
        }
    }
}
