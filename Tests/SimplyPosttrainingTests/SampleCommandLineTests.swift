import Foundation
import Testing
import SimplyCore
import SimplyData
import SimplyEval
import SimplyModel
import SimplyPosttraining
import SimplyRun
import SimplyTrain

/// `simply sample` on the real binary, and a reward model loaded from a
/// reward run's checkpoint.
@Suite(.serialized) struct SampleCommandLineTests {
    static let micro = ["--set", "model.d_model=32", "--set", "model.n_layers=2", "--set", "model.d_ff=64",
                        "--set", "train.steps=2", "--set", "train.warmup_steps=1", "--set", "checkpoint.interval=2"]

    @Test func sampleCommand() throws {
        let dir = try makeTempDir("sample")
        defer { try? FileManager.default.removeItem(at: dir) }
        let run = dir.appendingPathComponent("lm")
        let t = try simply(["train", "--experiment_config", "tiny", "--experiment_dir", run.path, "--deterministic",
                            "--set", "model.seq_len=96", "--set", "data.synthetic_bytes=20000"] + Self.micro)
        #expect(t.status == 0, "\(t.stderr)")

        func sample(_ extra: [String]) throws -> Finished {
            try simply(["sample", "--load_checkpoint", run.path, "--prompt", "What is 1 + 1?", "--prompt", "Sort: 3 1 2",
                        "--chat", "--max_tokens", "12"] + extra)
        }
        let args = ["--temperature", "0.9", "--top_k", "50", "--top_p", "0.95", "--num_samples", "3", "--seed", "7", "--json"]
        let one = try sample(args + ["--threads", "1"]), two = try sample(args + ["--threads", "2"])
        #expect(one.status == 0, "\(one.stderr)")
        #expect(one.stdout == two.stdout)
        let lines = one.stdout.split(separator: "\n").map { try? JSONValue.parse(String($0)) }
        #expect(lines.count == 6 && lines.allSatisfy { $0 != nil })
        #expect(lines.map { $0?["prompt"] } == [0, 0, 0, 1, 1, 1].map { JSONValue.int($0) })
        let other = try sample(args.map { $0 == "7" ? "8" : $0 } + ["--threads", "2"])
        #expect(other.status == 0 && other.stdout != one.stdout)

        // Greedy: the same text as Greedy.generate in process.
        let greedy = try sample(["--temperature", "0"])
        #expect(greedy.status == 0, "\(greedy.stderr)")
        let m = try TrainedModel(run, maxBatch: 1)
        let tok = ByteTokenizer(), template = ChatTemplate(tokenizer: tok)
        let prompt = try template.prompt(.messages([ChatMessage(.user, "What is 1 + 1?")])).tokens
        let want = Greedy.generate(model: m.model, prompt: prompt, maxNewTokens: 12, tokenizer: tok, parallel: .serial)
        #expect(greedy.stdout.hasPrefix("--- prompt 0, sample 0: \(want.count) tokens"), "\(greedy.stdout)")
        let greedyJSON = try sample(["--temperature", "0", "--json"]).stdout.split(separator: "\n")
        let first = try JSONValue.parse(String(greedyJSON[0]))
        #expect(first["tokens"] == .array(want.map { .int(Int($0)) }))
        #expect(first["text"] == .string(template.answerText(want)))

        let bad = try sample(["--top_p", "0"])
        #expect(bad.status != 0 && bad.stderr.contains("top_p must be in (0, 1]"), "\(bad.stderr)")
        let none = try simply(["sample", "--load_checkpoint", run.path])
        #expect(none.status != 0 && none.stderr.contains("--prompt"))

        // A pretrained LM is not a reward model; a reward run's checkpoint is.
        #expect(throws: ConfigError.self) { _ = try ModelReward.load(checkpoint: run, batch: 2) }
        let pairs = try preferenceShard(dir, count: 16)
        let rm = dir.appendingPathComponent("rm")
        let r = try simply(["train", "--experiment_config", "tiny_reward", "--experiment_dir", rm.path, "--deterministic",
                            "--set", "data.dataset=\(pairs.path)", "--set", "model.seq_len=96"] + Self.micro)
        #expect(r.status == 0, "\(r.stderr)")
        let reward = try ModelReward.load(checkpoint: rm, batch: 2)
        let inputs = [RewardInput(prompt: prompt, completion: tok.encode("2<|im_end|>")),
                      RewardInput(prompt: prompt, completion: tok.encode("3<|im_end|>")),
                      RewardInput(prompt: prompt, completion: tok.encode("2"))]
        let scores = reward.rewards(inputs, parallel: .serial)
        #expect(scores.count == 3 && Set(scores).count == 3 && scores.allSatisfy(\.isFinite))
        #expect(reward.rewards(inputs, parallel: Parallel(threads: 2)) == scores)
    }
}
