import ArgumentParser
import Foundation
import SimplyCore
import SimplyPosttraining
import SimplyRun
import SimplyTrain

struct TrainCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train",
        abstract: "Train a model from a named experiment config.",
        discussion: "Every config key, with its default, accepted values and meaning: simply config keys (--prefix grpo. for one section).")

    @Option(name: .customLong("experiment_config"), help: "A config name in configs/ (e.g. tiny) or a path to a .json file (default: tiny; with --load_checkpoint, the checkpoint's own config).")
    var experimentConfig: String?

    @Option(name: .customLong("experiment_dir"), help: "The run directory (default: runs/NAME, or runs/NAME-2, … if taken).")
    var experimentDir: String?

    @Option(name: .customLong("training_mode"), help: ArgumentHelp("\(algorithms.names.joined(separator: ", ")) (default: the config's train.training_mode, else pretrain).", valueName: "mode"))
    var trainingMode: String?

    @Flag(name: .customLong("deterministic"), help: "Bitwise reproducible mode: deterministic kernels, same bits on any thread count.")
    var deterministic = false

    @OptionGroup var threadOptions: ThreadOptions

    @OptionGroup var configOptions: ConfigOptions

    var overrides: [String] { configOptions.overrides }

    var configDir: String? { configOptions.configDir }

    @Flag(name: .customLong("resume"), help: "Continue the run in --experiment_dir from its newest complete checkpoint.")
    var resume = false

    @Flag(name: .customLong("fallback"), help: "With --resume: when the newest checkpoint fails a check, resume from the newest one that passes (the others are renamed step-N.rejected).")
    var fallback = false

    @Option(name: [.customLong("load_checkpoint"), .customLong("checkpoint")], help: "Start a new run with the weights of a checkpoint (or a run directory's newest).")
    var loadCheckpoint: String?

    /// Tests only: worker N's share of every checkpoint fails (WorkersTests).
    @Option(name: .customLong("test_failing_worker"), help: .hidden)
    var testFailingWorker: Int?

    func run() throws {
        if let m = trainingMode, algorithms.named(m) == nil {
            fail("--training_mode \(m) is not available (have: \(algorithms.names.joined(separator: ", ")))")
        }
        // Under mpirun every rank runs this; the ranks on one host share its cores.
        let workers = Workers.start()
        jobWorkers = workers
        let say: (String) -> Void = workers.isRoot ? log : { _ in }
        let threadCount = threadOptions.count(sharing: workers.localSize)
        if resume && loadCheckpoint != nil { fail("--resume and --load_checkpoint exclude each other") }
        var config: ExperimentConfig
        let dir: URL
        if resume {
            guard let d = experimentDir else { fail("--resume needs --experiment_dir (the run to continue)") }
            if !overrides.isEmpty || trainingMode != nil {
                fail("--resume continues the run's own config.json; --set and --training_mode are not allowed")
            }
            dir = URL(fileURLWithPath: d)
            do { config = try ExperimentConfig.fromRunConfig(RunDirectory(dir).configURL, schema: algorithms.schema) } catch { fail("\(error)") }
        } else {
            do {
                // The run a --load_checkpoint comes from, and its mode.
                let loaded = try loadCheckpoint.map { try ExperimentConfig.ofCheckpoint(URL(fileURLWithPath: $0), schema: algorithms.schema) }
                if let name = experimentConfig {
                    config = try ExperimentConfig.resolve(experiment: name, configDirectory: configDirectory(configDir, for: name),
                                                          overrides: overrides, schema: algorithms.schema)
                } else if let loaded, let path = loadCheckpoint {
                    config = loaded
                    try config.apply(overrides: overrides)
                    say("--load_checkpoint \(path): training with its own config (training_mode \(trainingMode ?? config.train.mode)); --experiment_config NAME chooses another")
                } else {
                    config = try ExperimentConfig.resolve(experiment: "tiny", configDirectory: configDirectory(configDir, for: "tiny"),
                                                          overrides: overrides, schema: algorithms.schema)
                }
                if let m = trainingMode { config.train.mode = m }
                // tools/doctest.sh --fast runs every documented command with a few steps.
                if let cap = ProcessInfo.processInfo.environment["SIMPLY_STEPS_CAP"].flatMap({ Int($0) }), cap >= 1,
                   config.train.steps > cap {
                    say("SIMPLY_STEPS_CAP=\(cap): train.steps \(config.train.steps) -> \(cap)")
                    config.train.steps = cap
                    config.train.warmupSteps = min(config.train.warmupSteps, cap)
                }
                // Pre-training over a post-trained model is almost always a mistake (a config
                // without a mode means pretrain): it must be asked for by name.
                if let loaded, trainingMode == nil, config.train.mode == Algorithm.pretrain.name,
                   loaded.train.mode != Algorithm.pretrain.name, let path = loadCheckpoint {
                    fail("--load_checkpoint \(path) was trained with training_mode \(loaded.train.mode), but --experiment_config \(experimentConfig ?? "tiny") trains in pretrain mode; "
                         + "drop --experiment_config to continue with the run's own config, or pass --training_mode pretrain if pre-training over it is meant")
                }
                // A reward model is the LM with a scalar score head; PPO's value head is that head.
                algorithms.prepare(&config)
                try config.validate()
            } catch { fail("\(error)") }
            // Worker 0 picks the directory, so all workers use the same one.
            let name = experimentConfig ?? loadCheckpoint.map { Self.runName(of: $0) } ?? "tiny"
            dir = URL(fileURLWithPath: workers.broadcast(experimentDir ?? freeRunDirectory(for: name)))
        }

        // A resumed run keeps its recorded mode.
        var deterministic = self.deterministic
        if resume, let recorded = try? RunDirectory(dir).recordedRun(), let d = recorded["deterministic"]?.boolValue {
            deterministic = d
        }
        let runtime = RuntimeOptions(threads: threadCount, deterministic: deterministic)
        say("simply \(Simply.version) | run \(dir.path) | OpenBLAS core \(OpenBLASRuntime.coreName)"
            + (deterministic ? " (not used: deterministic kernels)" : ""))
        if fallback && !resume { fail("--fallback goes with --resume") }
        let start: RunStart = resume ? .resume(fallback: fallback) : loadCheckpoint.map { .fromCheckpoint(URL(fileURLWithPath: $0)) } ?? .fresh
        do {
            let s = try runTraining(config: config, runDirectory: RunDirectory(dir), runtime: runtime, start: start,
                                    algorithms: algorithms, workers: workers,
                                    failingWorker: testFailingWorker, log: say)
            workers.finish()
            if !workers.isRoot { return }
            if s.lastStep < s.firstStep {
                print("nothing to do: \(dir.path) already finished its \(s.totalSteps) steps")
                return
            }
            if let signal = s.stoppedBy {
                print("stopped by \(signal) after step \(s.lastStep)/\(s.totalSteps); checkpoint \(s.lastCheckpoint?.path ?? "none")")
                print("resume with: \(workers.size > 1 ? "mpirun -np N " : "")simply train --experiment_dir \(dir.path) --resume\(deterministic ? " --deterministic" : "")")
                return
            }
            print(String(format: "trained steps %ld-%ld in %.1f s: loss %.4f -> %.4f, %.0f tokens/s (%@, %ld thread%@%@) -> %@",
                         s.firstStep, s.lastStep, s.seconds, s.firstLoss, s.lastLoss, s.tokensPerSecond,
                         deterministic ? "deterministic" : "fast", threadCount, threadCount == 1 ? "" : "s",
                         workers.size > 1 ? " x \(workers.size) workers" : "", dir.path))
        } catch { fail("\(error)") }
    }

    /// The run a checkpoint path belongs to (RUN or RUN/checkpoints/step-N), as a name.
    static func runName(of path: String) -> String {
        let url = URL(fileURLWithPath: path).standardizedFileURL
        return url.deletingLastPathComponent().lastPathComponent == "checkpoints"
            ? url.deletingLastPathComponent().deletingLastPathComponent().lastPathComponent : url.lastPathComponent
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
