import ArgumentParser
import Foundation

// The options several commands share, declared once (`@OptionGroup`).

/// --threads: worker threads, all cores by default; never changes the result of a deterministic computation.
struct ThreadOptions: ParsableArguments {
    @Option(name: .customLong("threads"), help: "Worker threads (default: all cores). Never changes the result of a deterministic computation.")
    var threads: Int?

    func validate() throws {
        if let t = threads, t < 1 { throw ValidationError("--threads must be >= 1 (got \(t))") }
    }

    /// The thread count: --threads, else every core (shared by `sharing` processes on this host).
    func count(sharing: Int = 1) -> Int { threads ?? max(1, ProcessInfo.processInfo.activeProcessorCount / max(1, sharing)) }
}

/// --checkpoint (alias --load_checkpoint): the model a command reads.
struct CheckpointOption: ParsableArguments {
    @Option(name: [.customLong("checkpoint"), .customLong("load_checkpoint")],
            help: "A checkpoint directory, or a run directory (its newest checkpoint).")
    var checkpoint: String
}

/// --out: where an evaluation writes its results.
struct ResultsOutput: ParsableArguments {
    @Option(name: .customLong("out"), help: "Write the results as a JSON file (sorted keys).")
    var out: String?
}

/// --set and --config_dir: how a named config is found and changed.
struct ConfigOptions: ParsableArguments {
    @Option(name: .customLong("set"), parsing: .singleValue, help: "Override a config key: --set train.steps=50 (repeatable; simply config keys lists them).")
    var overrides: [String] = []

    @Option(name: .customLong("config_dir"), help: "Where named configs live (default: ./configs, then $SIMPLY_HOME/configs, then the configs/ of the checkout simply was built in).")
    var configDir: String?
}
