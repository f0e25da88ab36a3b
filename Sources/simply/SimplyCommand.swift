import ArgumentParser
import Foundation
import SimplyCore
import SimplyRun
import SimplyTrain

struct SimplyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "simply",
        abstract: "Train and post-train small language models on the CPU, bit for bit reproducibly.",
        discussion: """
        Workflow (docs/posttraining/sft.md walks through it):
          1. simply train --deterministic              # pre-train tiny: runs/tiny
          2. simply data generate --task addition ... ; simply data prepare ...
          3. simply train --experiment_config tiny_sft --load_checkpoint runs/tiny
          4. simply eval generate --checkpoint runs/tiny_sft --data data/add-test.ex
          5. simply verify runs/tiny_sft; simply plot runs/tiny_sft; simply export ...
        Config keys: simply config keys. A named config resolved: simply config show NAME.
        """,
        version: Simply.version,
        subcommands: [TrainCommand.self, VerifyCommand.self, EvalCommand.self, DataCommand.self, TokenizerCommand.self,
                      PlotCommand.self, SampleCommand.self, ExportCommand.self, ImportCommand.self,
                      BenchCommand.self, ConfigCommand.self, ServeCommand.self])
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

/// Creates the folder `path` goes into (so `--output out/x.jsonl` needs no
/// `mkdir out`), or fails naming it.
func makeParentDirectory(of path: String) {
    let parent = URL(fileURLWithPath: path).deletingLastPathComponent()
    do { try FileManager.default.createDirectory(at: parent, withIntermediateDirectories: true) } catch {
        fail("cannot create the folder \(parent.path) for \(path): \(error.localizedDescription)")
    }
}

/// Writes `data` to `path` through a temporary file (a reader never sees half
/// of it), creating its folder first; fails in one line naming the file.
func writeOutput(_ data: Data, to path: String) {
    makeParentDirectory(of: path)
    do { try data.write(to: URL(fileURLWithPath: path), options: .atomic) } catch {
        fail("cannot write \(path): \(error.localizedDescription)")
    }
}

func log(_ message: String) {
    FileHandle.standardError.write(Data("\(message)\n".utf8))
}
