import ArgumentParser
import Foundation
import SimplyCore
import SimplyTrain

struct SimplyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "simply",
        abstract: "Train and post-train small language models on the CPU, bit for bit reproducibly.",
        version: Simply.version,
        subcommands: [TrainCommand.self, VerifyCommand.self, EvalCommand.self, DataCommand.self, TokenizerCommand.self,
                      PlotCommand.self, SampleCommand.self, ExportCommand.self, ImportCommand.self,
                      BenchCommand.self])
}

/// The MPI ranks of this `simply train`, once started: an error on one ends the whole job.
nonisolated(unsafe) var jobWorkers = Workers.single

/// Prints a one-line error and exits non-zero (no stack trace for bad input).
func fail(_ message: String) -> Never {
    // Before training, every rank meets the same bad input: rank 0 reports it once.
    if jobWorkers.size > 1 { jobWorkers.abortTogether(message) }
    FileHandle.standardError.write(Data("error: \(message)\n".utf8))
    exit(1)
}

func log(_ message: String) {
    FileHandle.standardError.write(Data("\(message)\n".utf8))
}
