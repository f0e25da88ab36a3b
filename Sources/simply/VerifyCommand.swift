import ArgumentParser
import Foundation
import SimplyCore
import SimplyPosttraining
import SimplyRun
import SimplyTrain

struct VerifyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify",
        abstract: "Replay a run and compare every step's hashes (and every checkpoint) with what it recorded.")

    @Argument(help: "The run directory.")
    var runDir: String?

    @Option(name: .customLong("golden"), help: "Check a golden hash file (golden/NAME.json) instead of a run directory.")
    var golden: String?

    @Flag(name: .customLong("write"), help: "With --golden: recompute and rewrite the file (tools/update-golden).")
    var write = false

    @Option(name: .customLong("config_dir"), help: "Where named configs live, for --golden (default: as for train).")
    var configDir: String?

    @Option(name: .customLong("from"), help: "Start from the run's checkpoint at this step (default: from step 0).")
    var from: Int?

    @Option(name: .customLong("steps"), help: "Stop after this many steps.")
    var steps: Int?

    @OptionGroup var threadOptions: ThreadOptions

    @Flag(name: [.customLong("checkpoints-only"), .customLong("checkpoints_only")],
          help: "Check the run's files (config.json, hashes.jsonl, LATEST, every checkpoint in full) without replaying.")
    var checkpointsOnly = false

    func run() throws {
        let threadCount = threadOptions.count()
        if let golden { try checkGolden(golden, threads: threadCount); return }
        guard let runDir else { fail("give a run directory, or --golden FILE") }
        let dir = URL(fileURLWithPath: runDir)
        do {
            let r = try Verify.run(RunDirectory(dir), from: from, steps: steps, threads: threadCount,
                                   checkpointsOnly: checkpointsOnly, algorithms: algorithms, log: log)
            for p in r.problems { print("DAMAGED: \(p)") }
            if let d = r.divergence { print("DIVERGED at \(d)") }
            if !r.passed {
                print("verify failed: \(r.problems.count) damaged file(s)\(r.divergence == nil ? "" : ", a divergent replay") in \(dir.path)")
                throw ExitCode(1)
            }
            if checkpointsOnly {
                print("checked \(dir.path): config.json, hashes.jsonl and \(r.checkpointsIntact) checkpoint(s) intact (no replay)")
                return
            }
            print("verified steps \(r.firstStep)-\(r.lastStep) of \(dir.path): \(r.stepsChecked) step hashes and "
                  + "\(r.checkpointsChecked) checkpoint(s) identical, \(r.checkpointsIntact) checkpoint(s) intact "
                  + "(\(threadCount) thread\(threadCount == 1 ? "" : "s"))")
        } catch let e as ExitCode { throw e } catch { fail("\(error)") }
    }

    func checkGolden(_ path: String, threads: Int) throws {
        let url = URL(fileURLWithPath: path)
        do {
            let g = try GoldenHashes.read(url, forWriting: write)
            let configs = configDirectory(configDir, for: g.config)
            if write {
                let lines = try GoldenHashes.compute(config: g.config, overrides: g.overrides, steps: g.steps,
                                                     configDirectory: configs, threads: threads,
                                                     algorithms: algorithms)
                let updated = GoldenHashes(config: g.config, overrides: g.overrides, steps: g.steps, lines: lines)
                try Data((updated.json(simplyVersion: Simply.version).pretty() + "\n").utf8).write(to: url)
                print("wrote \(path): \(lines.count) steps of \(g.config)")
                return
            }
            if let d = try g.check(configDirectory: configs, threads: threads, algorithms: algorithms) {
                print("DIVERGED from \(path) at \(d)")
                throw ExitCode(1)
            }
            print("golden \(path): \(g.steps) steps of \(g.config) identical (\(threads) thread\(threads == 1 ? "" : "s"))")
        } catch let e as ExitCode { throw e } catch { fail("\(error)") }
    }
}
