import ArgumentParser

/// `simply eval …`: evaluations of a checkpoint. Each subcommand lives in its own file.
struct EvalCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "eval",
        abstract: "Evaluate a checkpoint.",
        subcommands: [EvalLoss.self, EvalGenerate.self, EvalPreference.self])
}
