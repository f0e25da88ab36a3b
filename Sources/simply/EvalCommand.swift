import ArgumentParser

struct EvalCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "eval", abstract: "Evaluate a trained model.", subcommands: [EvalGenerate.self, EvalPreference.self])
}
