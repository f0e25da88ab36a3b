import Foundation
import Testing
import SimplyData

/// PPO on the real binary, with a reward model from a short reward run: a
/// run stopped by SIGTERM (usually in the middle of a rollout's cycle) and
/// resumed writes the same hashes.jsonl as an uninterrupted one, `simply
/// verify` replays it on another thread count (through a mid-cycle
/// checkpoint), and `simply eval reward-score` gives the same numbers on 1
/// and 2 threads.
@Suite(.serialized) struct PPOCommandLineTests {
    static let small = ["--set", "model.d_model=32", "--set", "model.n_layers=2", "--set", "model.d_ff=64",
                        "--set", "model.seq_len=48", "--set", "train.warmup_steps=2"]

    @Test func resumeVerifyAndEval() throws {
        let dir = try makeTempDir("ppo-cli")
        defer { try? FileManager.default.removeItem(at: dir) }
        let pairs = try preferenceShard(dir, count: 64)
        let rm = dir.appendingPathComponent("rm")
        let r0 = try simply(["train", "--experiment_config", "tiny_reward", "--experiment_dir", rm.path, "--deterministic",
                             "--threads", "2", "--set", "data.dataset=\(pairs.path)", "--set", "train.steps=8"] + Self.small)
        #expect(r0.status == 0, "\(r0.stderr)")
        let prompts = try promptShard(dir, count: 48), test = try promptShard(dir, count: 8, split: .test)
        func args(_ run: URL) -> [String] {
            ["train", "--experiment_config", "tiny_ppo", "--experiment_dir", run.path, "--deterministic", "--threads", "2",
             "--set", "data.dataset=\(prompts.path)", "--set", "ppo.reward_model=\(rm.path)", "--set", "train.batch_size=4",
             "--set", "ppo.num_ppo_epochs=2", "--set", "ppo.num_mini_batches=2", "--set", "ppo.response_length=8",
             "--set", "train.steps=12", "--set", "checkpoint.interval=6"] + Self.small
        }
        let clean = dir.appendingPathComponent("clean")
        let r = try simply(args(clean))
        #expect(r.status == 0, "\(r.stderr)")
        let want = try Data(contentsOf: clean.appendingPathComponent("hashes.jsonl"))
        #expect(want.filter { $0 == 10 }.count == 12)
        let metrics = try String(contentsOf: clean.appendingPathComponent("metrics.jsonl"), encoding: .utf8)
        #expect(metrics.contains("\"objective/scores\"") && metrics.contains("\"val/clipfrac_avg\""))

        let stopAt = stopStep(2...8, "ppo.term")   // steps take ~10 ms here: leave the signal a few to land in
        let term = dir.appendingPathComponent("term")
        let t = try simply(args(term), stopAfterSteps: stopAt, run: term)
        #expect(t.status == 0 && t.stdout.contains("resume with:"), "SIGTERM after step \(stopAt): \(t.stdout) \(t.stderr)")
        let resumed = try simply(["train", "--experiment_dir", term.path, "--resume", "--threads", "1"])
        #expect(resumed.status == 0, "\(resumed.stderr)")
        #expect(try Data(contentsOf: term.appendingPathComponent("hashes.jsonl")) == want, "SIGTERM after step \(stopAt)")

        // `simply bench` takes what `simply train` takes, PPO's score head included.
        let bench = try simply(["bench", "--experiment_config", "tiny", "--training_mode", "ppo", "--steps", "1", "--warmup_steps", "0",
                                "--square", "64", "--kernel_seconds", "0", "--load_checkpoint", rm.path]
                               + Array(args(clean).dropFirst(5).filter { $0 != "--deterministic" }))
        #expect(bench.status == 0 && bench.stdout.contains("tokens/s"), "\(bench.stdout) \(bench.stderr)")

        let v = try simply(["verify", clean.path, "--threads", "1"])
        #expect(v.status == 0 && v.stdout.contains("verified steps 1-12"), "\(v.stdout) \(v.stderr)")
        // From the mid-cycle checkpoint (step 6 of cycles of 4): the rollout comes from the checkpoint.
        let v6 = try simply(["verify", clean.path, "--from", "6", "--threads", "1"])
        #expect(v6.status == 0 && v6.stdout.contains("verified steps 7-12"), "\(v6.stdout) \(v6.stderr)")

        func eval(_ threads: String, _ batch: String) throws -> Finished {
            try simply(["eval", "reward-score", "--checkpoint", clean.path, "--reward_model", rm.path, "--data", test.path,
                        "--max_new_tokens", "8", "--threads", threads, "--batch", batch, "--json"])
        }
        let e1 = try eval("1", "8"), e2 = try eval("2", "3")
        #expect(e1.status == 0, "\(e1.stderr)")
        #expect(e1.stdout == e2.stdout && e1.stdout.contains("\"prompts\":8") && e1.stdout.contains("reward_model_mean"),
                "\(e1.stdout) vs \(e2.stdout)")
    }

    /// A prompt_only shard of built-in addition prompts with answers.
    func promptShard(_ dir: URL, count: Int, split: TaskSplit = .train) throws -> URL {
        let examples = TaskGenerator.examples(.addition, seed: 1, split: split, count: count, maxDigits: 2)
        let jsonl = dir.appendingPathComponent("prompts-\(split.rawValue).jsonl")
        try Data(examples.map { TaskRecordFormat.promptOnly.record($0).serialized() + "\n" }.joined().utf8).write(to: jsonl)
        let out = dir.appendingPathComponent("prompts-\(split.rawValue).ex")
        _ = try DataPrepare.prepare(inputs: [jsonl], format: .auto, textField: "text", tokenizer: ByteTokenizer(), output: out)
        return out
    }
}
