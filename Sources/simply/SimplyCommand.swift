import ArgumentParser
import Foundation
import SimplyCore

struct SimplyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "simply",
        abstract: "Train and post-train small language models on the CPU, bit for bit reproducibly.",
        version: Simply.version,
        subcommands: [TrainCommand.self, VerifyCommand.self, EvalCommand.self, DataCommand.self, TokenizerCommand.self,
                      PlotCommand.self, SampleCommand.self, ExportCommand.self, ImportCommand.self,
                      BenchCommand.self])
}

/// Prints a one-line error and exits non-zero (no stack trace for bad input).
func fail(_ message: String) -> Never {
    FileHandle.standardError.write(Data("error: \(message)\n".utf8))
    exit(1)
}

func log(_ message: String) {
    FileHandle.standardError.write(Data("\(message)\n".utf8))
}
