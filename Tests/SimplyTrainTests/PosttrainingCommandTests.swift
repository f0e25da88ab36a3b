import Foundation
import Testing
import SimplyCore
import SimplyRun
import SimplyTrain

/// Post-training on the real binary: SFT from a pre-trained checkpoint, DPO
/// from the SFT run, distillation from the pre-trained run as teacher; each
/// stopped by a signal and resumed ends with the same
/// hashes.jsonl as an uninterrupted run, and `simply verify` passes on it
/// (replaying from the checkpoint the run started from).
@Suite(.serialized) struct PosttrainingCommandTests {
    static let model = ["--set", "model.d_model=32", "--set", "model.n_layers=2", "--set", "model.n_heads=4",
                        "--set", "model.n_kv_heads=2", "--set", "model.d_ff=64", "--set", "model.seq_len=96",
                        "--set", "model.vocab_size=260", "--set", "train.batch_size=4", "--set", "train.warmup_steps=2",
                        "--set", "data.synthetic_bytes=100000"]
    var repo: URL { configsURL.deletingLastPathComponent() }

    func lineCount(_ url: URL) -> Int {
        (FileManager.default.contents(atPath: url.path) ?? Data()).filter { $0 == UInt8(ascii: "\n") }.count
    }

    func interrupted(_ args: [String], dir: URL, afterSteps: Int, signal: Int32) throws -> Int32 {
        guard let bin = simplyBinary() else { throw ConfigErrorForTests("simply binary not found") }
        let p = Process()
        p.executableURL = bin
        p.arguments = args
        p.currentDirectoryURL = repo
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        try p.run()
        let hashes = dir.appendingPathComponent("hashes.jsonl")
        let deadline = Date().addingTimeInterval(120)
        while lineCount(hashes) < afterSteps && p.isRunning && Date() < deadline { usleep(2_000) }
        kill(p.processIdentifier, signal)
        p.waitUntilExit()
        return p.terminationStatus
    }

    func ok(_ r: ProcessResult, _ what: String) {
        #expect(r.status == 0, "\(what): \(r.stderr)")
    }

    @Test func sftAndDPOResumeExactlyAndVerify() throws {
        let tmp = try temporaryDirectory("posttrain-cli")
        defer { try? FileManager.default.removeItem(at: tmp) }
        func path(_ s: String) -> String { tmp.appendingPathComponent(s).path }
        ok(try runSimply(["train", "--experiment_config", "tiny", "--experiment_dir", path("pre"), "--deterministic",
                          "--set", "train.steps=6"] + Self.model, cwd: repo), "pretrain")
        ok(try runSimply(["data", "generate", "--task", "copying", "--count", "64", "--format", "alpaca",
                          "--output", path("sft.jsonl")], cwd: repo), "generate")
        ok(try runSimply(["data", "generate", "--task", "copying", "--count", "64", "--format", "preference", "--conversational",
                          "--output", path("pref.jsonl")], cwd: repo), "generate")
        ok(try runSimply(["data", "prepare", path("sft.jsonl"), "--output", path("sft.ex")], cwd: repo), "prepare")
        ok(try runSimply(["data", "prepare", path("pref.jsonl"), "--output", path("pref.ex")], cwd: repo), "prepare")

        // On-policy pairs: the pre-trained model's own wrong answers as rejected.
        ok(try runSimply(["data", "generate", "--task", "addition", "--count", "6", "--format", "prompt_only", "--conversational",
                          "--output", path("q.jsonl")], cwd: repo), "generate")
        let pairs = try runSimply(["data", "preferences", "--checkpoint", path("pre"), "--prompts", path("q.jsonl"),
                                   "--max_new_tokens", "4", "--output", path("onpolicy.jsonl")], cwd: repo)
        ok(pairs, "preferences")
        let prompts = try String(contentsOf: tmp.appendingPathComponent("q.jsonl"), encoding: .utf8).split(separator: "\n")
        let written = try String(contentsOf: tmp.appendingPathComponent("onpolicy.jsonl"), encoding: .utf8).split(separator: "\n")
        #expect(pairs.stdout.contains("wrote") && written.count == 6, "\(pairs.stdout)")   // a 6-step model gets none right
        for (q, p) in zip(prompts, written) {
            let qv = try JSONValue.parse(String(q)), pv = try JSONValue.parse(String(p))
            #expect(pv["prompt"] == qv["prompt"])
            guard case let .array(c)? = pv["chosen"], case let .array(r)? = pv["rejected"] else {
                Issue.record("chosen/rejected are not message lists: \(p)"); continue
            }
            #expect(c.first?["role"]?.stringValue == "assistant" && c.first?["content"] == qv["answer"])
            #expect(r.first?["role"]?.stringValue == "assistant" && r.first?["content"] != qv["answer"])
        }
        ok(try runSimply(["data", "prepare", path("onpolicy.jsonl"), "--output", path("onpolicy.ex")], cwd: repo), "prepare pairs")

        // Sampled on-policy pairs: 4 samples per prompt at temperature 2; a 6-step model gets none right, so
        // without --fallback_answer no pair, with it the answer over the first (wrong) sample; the file
        // does not depend on the thread count.
        let none = try runSimply(["data", "preferences", "--checkpoint", path("pre"), "--prompts", path("q.jsonl"), "--samples", "4",
                                  "--temperature", "2", "--max_new_tokens", "4", "--output", path("sampled0.jsonl")], cwd: repo)
        ok(none, "preferences --samples")
        #expect(none.stdout.contains("0 pairs") && lineCount(tmp.appendingPathComponent("sampled0.jsonl")) == 0, "\(none.stdout)")
        for threads in ["1", "2"] {
            ok(try runSimply(["data", "preferences", "--checkpoint", path("pre"), "--prompts", path("q.jsonl"), "--samples", "4",
                              "--temperature", "2", "--max_new_tokens", "4", "--fallback_answer", "--threads", threads,
                              "--output", path("sampled-\(threads).jsonl")], cwd: repo), "preferences --fallback_answer")
        }
        let sampled = try Data(contentsOf: tmp.appendingPathComponent("sampled-1.jsonl"))
        #expect(try Data(contentsOf: tmp.appendingPathComponent("sampled-2.jsonl")) == sampled)
        let sampledLines = String(decoding: sampled, as: UTF8.self).split(separator: "\n")
        #expect(sampledLines.count == 6)
        for (q, p) in zip(prompts, sampledLines) {
            let qv = try JSONValue.parse(String(q)), pv = try JSONValue.parse(String(p))
            guard case let .array(c)? = pv["chosen"], case let .array(r)? = pv["rejected"] else {
                Issue.record("chosen/rejected are not message lists: \(p)"); continue
            }
            #expect(c.first?["content"] == qv["answer"] && r.first?["content"] != qv["answer"], "\(p)")
        }
        let bad = try runSimply(["data", "preferences", "--checkpoint", path("pre"), "--prompts", path("q.jsonl"),
                                 "--fallback_answer", "--output", path("x.jsonl")], cwd: repo)
        #expect(bad.status != 0 && bad.stderr.contains("--fallback_answer needs --samples"))

        // Distillation: a fresh student of the same shape learns from the pre-trained run as its teacher.
        for (mode, from, data) in [("sft", "pre", "sft.ex"), ("dpo", "sft", "pref.ex"), ("distill", "", "builtin:synthetic")] {
            let start = from.isEmpty ? ["--set", "distill.teacher_checkpoint=\(path("pre"))"] : ["--load_checkpoint", path(from)]
            let args = ["train", "--experiment_config", "tiny", "--training_mode", mode] + start
                + ["--deterministic", "--threads", "2", "--set", "train.steps=12", "--set", "checkpoint.interval=4",
                   "--set", "data.dataset=\(data.hasPrefix("builtin:") ? data : path(data))"] + Self.model
            let clean = try runSimply(args + ["--experiment_dir", path(mode)], cwd: repo)
            ok(clean, mode)
            let want = try Data(contentsOf: tmp.appendingPathComponent("\(mode)/hashes.jsonl"))
            #expect(lineCount(tmp.appendingPathComponent("\(mode)/hashes.jsonl")) == 12)
            let metrics = try String(contentsOf: tmp.appendingPathComponent("\(mode)/metrics.jsonl"), encoding: .utf8)
            #expect(metrics.contains(["sft": "\"mean_token_accuracy\"", "dpo": "\"rewards/accuracies\"", "distill": "\"kd\""][mode]!))

            // SIGTERM mid-run, resume on 1 thread; SIGKILL, resume on 2.
            for (signal, name, threads) in [(SIGTERM, "term", 1), (SIGKILL, "kill", 2)] {
                let dir = tmp.appendingPathComponent("\(mode)-\(name)")
                let status = try interrupted(args + ["--experiment_dir", dir.path], dir: dir,
                                             afterSteps: stopStep(4...8, "\(mode).\(name)"), signal: signal)
                // The signal landed before the run finished: SIGTERM stops with a checkpoint (exit 0), SIGKILL kills.
                #expect(signal == SIGKILL ? status != 0 : status == 0, "\(mode) \(name): exit \(status)")
                #expect(lineCount(dir.appendingPathComponent("hashes.jsonl")) < 12, "\(mode) \(name): the run finished before the signal")
                ok(try runSimply(["train", "--experiment_dir", dir.path, "--resume", "--threads", "\(threads)"], cwd: repo),
                   "\(mode) resume after \(name)")
                #expect(try Data(contentsOf: dir.appendingPathComponent("hashes.jsonl")) == want, "\(mode) after \(name)")
            }
            // verify replays from the --load_checkpoint weights, on another thread count.
            let v = try runSimply(["verify", path(mode), "--threads", "1"], cwd: repo)
            ok(v, "\(mode) verify")
            #expect(v.stdout.contains("verified steps 1-12") && v.stdout.contains("12 step hashes"), "\(v.stdout)")
        }

        // --load_checkpoint without --experiment_config trains with the run's own config and mode, and says so;
        // a config whose mode is pretrain over a post-trained run must name --training_mode pretrain.
        let own = try runSimply(["train", "--load_checkpoint", path("sft"), "--deterministic", "--set", "train.steps=2",
                                 "--experiment_dir", path("sft-more")], cwd: repo)
        ok(own, "continue sft")
        #expect((own.stdout + own.stderr).contains("training with its own config (training_mode sft)"), "\(own.stdout)\(own.stderr)")
        let recorded = try ExperimentConfig.fromRunConfig(tmp.appendingPathComponent("sft-more/config.json"))
        #expect(recorded.train.mode == "sft" && recorded.train.steps == 2)
        let over = try runSimply(["train", "--experiment_config", "tiny", "--load_checkpoint", path("sft"), "--set", "train.steps=2",
                                  "--experiment_dir", path("pretrain-over-sft")] + Self.model, cwd: repo)
        #expect(over.status != 0 && over.stderr.contains("was trained with training_mode sft") && over.stderr.contains("--training_mode pretrain"),
                "\(over.stderr)")
        #expect(!FileManager.default.fileExists(atPath: path("pretrain-over-sft")), "nothing written")
        ok(try runSimply(["train", "--experiment_config", "tiny", "--training_mode", "pretrain", "--load_checkpoint", path("sft"),
                          "--set", "train.steps=2", "--experiment_dir", path("pretrain-over-sft")] + Self.model, cwd: repo),
           "explicit pretrain over sft")
    }
}
