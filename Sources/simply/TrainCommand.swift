import ArgumentParser
import Foundation
import SimplyCore
import SimplyTrain

struct TrainCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train",
        abstract: "Train a model from a named experiment config.",
        discussion: "Config keys: " + ExperimentConfig.keyNames.joined(separator: ", "))

    @Option(name: .customLong("experiment_config"), help: "A config name in configs/ (e.g. tiny) or a path to a .json file.")
    var experimentConfig: String = "tiny"

    @Option(name: .customLong("experiment_dir"), help: "The run directory (default: runs/NAME, or runs/NAME-2, … if taken).")
    var experimentDir: String?

    @Option(name: .customLong("training_mode"), help: "pretrain (sft, reward, dpo, ppo, grpo, distill: not yet available).")
    var trainingMode: String = "pretrain"

    @Flag(name: .customLong("deterministic"), help: "Bitwise reproducible mode: deterministic kernels, same bits on any thread count.")
    var deterministic = false

    @Option(name: .customLong("threads"), help: "Worker threads (default: all cores). Never changes the bits of a deterministic run.")
    var threads: Int?

    @Option(name: .customLong("set"), parsing: .singleValue, help: "Override a config key: --set train.steps=50 (repeatable).")
    var overrides: [String] = []

    @Option(name: .customLong("config_dir"), help: "Where named configs live.")
    var configDir: String = "configs"

    func run() throws {
        guard trainingMode == "pretrain" else {
            fail("--training_mode \(trainingMode) is not available yet (only pretrain is implemented in this version)")
        }
        let threadCount = threads ?? ProcessInfo.processInfo.activeProcessorCount
        guard threadCount >= 1 else { fail("--threads must be >= 1") }
        let config: ExperimentConfig
        do {
            config = try ExperimentConfig.resolve(experiment: experimentConfig,
                                                  configDirectory: URL(fileURLWithPath: configDir),
                                                  overrides: overrides)
        } catch { fail("\(error)") }

        let dir = URL(fileURLWithPath: experimentDir ?? freeRunDirectory(for: experimentConfig))
        let runtime = RuntimeOptions(threads: threadCount, deterministic: deterministic)
        log("simply \(Simply.version) | run \(dir.path) | OpenBLAS core \(OpenBLASRuntime.coreName)"
            + (deterministic ? " (not used: deterministic kernels)" : ""))
        do {
            let s = try runTraining(config: config, runDirectory: RunDirectory(dir), runtime: runtime, log: log)
            print(String(format: "trained %d steps in %.1f s: loss %.4f -> %.4f, %.0f tokens/s (%@, %d thread%@) -> %@",
                         s.steps, s.seconds, s.firstLoss, s.lastLoss, s.tokensPerSecond,
                         deterministic ? "deterministic" : "fast", threadCount, threadCount == 1 ? "" : "s", dir.path))
        } catch { fail("\(error)") }
    }

    /// runs/NAME, or the first runs/NAME-K that does not exist yet.
    func freeRunDirectory(for name: String) -> String {
        let base = "runs/" + URL(fileURLWithPath: name).deletingPathExtension().lastPathComponent
        if !FileManager.default.fileExists(atPath: base) { return base }
        var k = 2
        while FileManager.default.fileExists(atPath: "\(base)-\(k)") { k += 1 }
        return "\(base)-\(k)"
    }
}
