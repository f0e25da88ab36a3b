import ArgumentParser
import Foundation
import SimplyPosttraining
import SimplyRun
import SimplyTrain

/// `simply config keys`: every config key with its default, what it accepts
/// and what it means; `simply config show NAME`: a named config resolved.
struct ConfigCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "config",
        abstract: "List the config keys, or show a named config with every key resolved.",
        subcommands: [Keys.self, Show.self, Algorithms.self])

    struct Keys: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Every config key (set with --set KEY=VALUE or in a config's JSON): default, accepted values, meaning.")

        @Option(name: .customLong("prefix"), help: "Only keys starting with this (e.g. grpo.).")
        var prefix: String = ""

        func run() throws {
            let rows = ExperimentConfig.keyReference(algorithms.schema).filter { $0.name.hasPrefix(prefix) }
            if rows.isEmpty { fail("no config key starts with '\(prefix)'") }
            let w0 = rows.map(\.name.count).max() ?? 0, w1 = max(7, min(rows.map(\.value.count).max() ?? 0, 18))
            print("\("key".padding(toLength: w0, withPad: " ", startingAt: 0))  \("default".padding(toLength: w1, withPad: " ", startingAt: 0))  meaning [accepts]")
            for r in rows {
                let value = r.value.isEmpty ? "\"\"" : r.value
                print("\(r.name.padding(toLength: w0, withPad: " ", startingAt: 0))  \(value.padding(toLength: max(w1, value.count), withPad: " ", startingAt: 0))  \(r.meaning) [\(r.accepts)]")
            }
        }
    }

    /// The training modes, read from the one list (README.md holds this table; a test compares them).
    struct Algorithms: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "The training modes (train.training_mode), what each needs and its config section, as a Markdown table.")

        func run() throws { print(algorithms.markdownTable) }
    }

    struct Show: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "A named config (or .json path) with every key resolved, as JSON.")

        @Argument(help: "A config name in configs/ (e.g. tiny_sft) or a path to a .json file.")
        var name: String

        @OptionGroup var configOptions: ConfigOptions

        var overrides: [String] { configOptions.overrides }

        var configDir: String? { configOptions.configDir }

        func run() throws {
            do {
                var c = try ExperimentConfig.resolve(experiment: name, configDirectory: configDirectory(configDir, for: name), overrides: overrides,
                                                     schema: algorithms.schema)
                algorithms.prepare(&c)   // as simply train records it
                print(c.json().pretty())
            } catch { fail("\(error)") }
        }
    }
}
