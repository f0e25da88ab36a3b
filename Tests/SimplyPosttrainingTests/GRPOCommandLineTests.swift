import Foundation
import Testing
import SimplyData

/// GRPO with μ = 2 (`grpo.num_iterations`) on the real binary: the rollout
/// lives in the checkpoint, so a run stopped by SIGTERM and resumed writes
/// the same hashes.jsonl as an uninterrupted one, and `simply verify` replays
/// the run on another thread count, also from a checkpoint in the middle of
/// a rollout's cycle (the rollout then comes from the checkpoint file).
@Suite(.serialized) struct GRPOCommandLineTests {
    @Test func numIterationsResumeAndVerifyMidCycle() throws {
        let dir = try makeTempDir("grpo-cli")
        defer { try? FileManager.default.removeItem(at: dir) }
        let prompts = try PPOCommandLineTests().promptShard(dir, count: 48)
        func args(_ run: URL) -> [String] {
            ["train", "--experiment_config", "tiny_grpo", "--experiment_dir", run.path, "--deterministic", "--threads", "2",
             "--set", "data.dataset=\(prompts.path)", "--set", "train.batch_size=8", "--set", "grpo.num_generations=4",
             "--set", "grpo.num_iterations=2", "--set", "grpo.max_completion_length=6", "--set", "grpo.rewards=exact_match,format:0.5",
             "--set", "train.lr=3e-3", "--set", "train.steps=8", "--set", "checkpoint.interval=3"] + PPOCommandLineTests.small
        }
        let clean = dir.appendingPathComponent("clean")
        let r = try simply(args(clean))
        #expect(r.status == 0, "\(r.stderr)")
        let want = try Data(contentsOf: clean.appendingPathComponent("hashes.jsonl"))
        #expect(want.filter { $0 == 10 }.count == 8)

        let term = dir.appendingPathComponent("term")
        let t = try simply(args(term), stopAfterSteps: 3, run: term)
        let stoppedAt = try Data(contentsOf: term.appendingPathComponent("hashes.jsonl")).filter { $0 == 10 }.count
        #expect(t.status == 0 && t.stdout.contains("resume with:") && stoppedAt < 8, "SIGTERM after \(stoppedAt) steps: \(t.stdout) \(t.stderr)")
        let resumed = try simply(["train", "--experiment_dir", term.path, "--resume", "--threads", "1"])
        #expect(resumed.status == 0, "\(resumed.stderr)")
        #expect(try Data(contentsOf: term.appendingPathComponent("hashes.jsonl")) == want, "SIGTERM after \(stoppedAt) steps")

        let v = try simply(["verify", clean.path, "--threads", "1"])
        #expect(v.status == 0 && v.stdout.contains("verified steps 1-8"), "\(v.stdout) \(v.stderr)")
        // Step 3's checkpoint is between the two updates of the second rollout.
        let v3 = try simply(["verify", clean.path, "--from", "3", "--threads", "1"])
        #expect(v3.status == 0 && v3.stdout.contains("verified steps 4-8"), "\(v3.stdout) \(v3.stderr)")
    }
}
