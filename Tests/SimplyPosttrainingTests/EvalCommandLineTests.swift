import Foundation
import Testing
import SimplyCore
import SimplyData

/// `simply eval loss|generate|winrate` on the real binary: results files are
/// parseable JSON, the same bytes on 1 and 2 threads, a checkpoint against
/// itself is all ties, and bad input names the flag or file.
@Suite(.serialized) struct EvalCommandLineTests {
    static let micro = ["--set", "model.d_model=32", "--set", "model.n_layers=2", "--set", "model.d_ff=64",
                        "--set", "model.seq_len=128", "--set", "train.warmup_steps=1"]

    @Test func evalCommands() throws {
        let dir = try makeTempDir("evals")
        defer { try? FileManager.default.removeItem(at: dir) }
        let scratch = try Scratch()
        let sft = try preparedTasks(.alpaca, count: 32, in: scratch, name: "sft")
        let heldOut = try preparedTasks(.alpaca, count: 12, split: .test, in: scratch, name: "sft-test")
        let prompts = try preparedTasks(.promptOnly, count: 10, split: .test, in: scratch, name: "prompts")
        let policy = dir.appendingPathComponent("policy"), rm = dir.appendingPathComponent("rm")
        let t = try simply(["train", "--experiment_config", "tiny_sft", "--experiment_dir", policy.path, "--deterministic",
                            "--set", "data.dataset=\(sft.path)", "--set", "train.steps=4", "--set", "checkpoint.interval=2"] + Self.micro)
        #expect(t.status == 0, "\(t.stderr)")
        let pairs = try preferenceShard(dir, task: .addition, count: 16)
        let r = try simply(["train", "--experiment_config", "tiny_reward", "--experiment_dir", rm.path, "--deterministic",
                            "--set", "data.dataset=\(pairs.path)", "--set", "train.steps=2", "--set", "checkpoint.interval=2"] + Self.micro)
        #expect(r.status == 0, "\(r.stderr)")
        let step2 = policy.appendingPathComponent("checkpoints/step-00000002").path

        /// Runs an eval on 1 and 2 threads; both results files must be the same bytes. Returns the parsed JSON and stdout.
        func both(_ args: [String]) throws -> (JSONValue, String) {
            var texts: [Data] = [], out = ""
            for threads in ["1", "2"] {
                let file = dir.appendingPathComponent("out-\(threads).json")
                let e = try simply(["eval"] + args + ["--threads", threads, "--out", file.path])
                #expect(e.status == 0, "\(args): \(e.stderr)")
                texts.append(try Data(contentsOf: file))
                out = e.stdout
            }
            #expect(texts[0] == texts[1], "\(args): results differ on 1 and 2 threads")
            return (try JSONValue.parse(String(decoding: texts[0], as: UTF8.self)), out)
        }

        // Perplexity on masked tokens of a supervised shard.
        let (loss, lossText) = try both(["loss", "--checkpoint", policy.path, "--data", heldOut.path, "--batch_size", "5"])
        #expect(loss["eval"] == .string("loss") && loss["examples"]?.intValue == 12)
        let nll = try #require(loss["loss"]?.doubleValue), ppl = try #require(loss["perplexity"]?.doubleValue)
        #expect(nll > 0 && abs(ppl - Foundation.exp(nll)) < 1e-9 * ppl)
        #expect(loss["checkpoint"]?["step"]?.intValue == 4 && loss["data"]?["sha256"]?.stringValue?.count == 64)
        #expect(lossText.contains("perplexity "))
        // Only loss-masked tokens count: fewer than the examples' tokens.
        let all = try ExampleShard.read(heldOut).examples.reduce(0) { $0 + $1.sequences[0].count - 1 }
        let masked = try ExampleShard.read(heldOut).examples.reduce(0) { $0 + $1.sequences[0].lossTokens }
        #expect(loss["tokens"]?.intValue == masked && masked < all)

        // Generation: greedy exact match and pass@k.
        let (gen, genText) = try both(["generate", "--checkpoint", policy.path, "--data", prompts.path, "--samples", "4",
                                       "--k", "1,2,4", "--temperature", "1", "--seed", "3", "--max_new_tokens", "6"])
        #expect(gen["prompts"]?.intValue == 10 && gen["sampling"]?["k"] == .array([.int(1), .int(2), .int(4)]))
        let perPrompt = try #require(gen["correct_per_prompt"])
        if case let .array(counts) = perPrompt { #expect(counts.count == 10) } else { Issue.record("correct_per_prompt") }
        for k in ["1", "2", "4"] { #expect(gen["pass_at_k"]?[k]?.doubleValue != nil) }
        #expect(genText.contains("pass@4") && genText.contains("exact_match "))
        let (greedy, _) = try both(["generate", "--checkpoint", policy.path, "--data", prompts.path, "--samples", "2",
                                    "--temperature", "0", "--max_new_tokens", "6"])
        #expect(greedy["pass_at_k"]?["1"] == greedy["exact_match"])

        // Win rate: a checkpoint against itself ties everywhere; step 4 against step 2 is deterministic.
        let (selfRate, _) = try both(["winrate", "--checkpoint", policy.path, "--baseline", policy.path, "--reward_model", rm.path,
                                      "--data", prompts.path, "--max_new_tokens", "6", "--batch", "3"])
        #expect(selfRate["win_rate"]?.doubleValue == 0.5 && selfRate["ties"]?.intValue == 10)
        #expect(selfRate["wins"]?.intValue == 0 && selfRate["losses"]?.intValue == 0)
        let (vs, vsText) = try both(["winrate", "--checkpoint", policy.path, "--baseline", step2, "--reward_model", rm.path,
                                     "--data", prompts.path, "--max_new_tokens", "6", "--temperature", "1", "--seed", "5"])
        #expect(vs["baseline"]?["step"]?.intValue == 2 && vs["reward_model"]?["step"]?.intValue == 2)
        let w = vs["wins"]?.intValue ?? -1, ti = vs["ties"]?.intValue ?? -1, l = vs["losses"]?.intValue ?? -1
        #expect(w + ti + l == 10 && vs["win_rate"]?.doubleValue == (Double(w) + 0.5 * Double(ti)) / 10)
        #expect(vsText.contains("win_rate "))

        // The pairwise evals write results files too.
        let (reward, _) = try both(["reward", "--checkpoint", rm.path, "--data", pairs.path, "--batch_pairs", "3"])
        #expect(reward["eval"] == .string("reward") && reward["pairs"]?.intValue == 16 && reward["checkpoint"]?["step"]?.intValue == 2)
        let (pref, _) = try both(["preference", "--checkpoint", policy.path, "--reference", policy.path, "--data", pairs.path])
        #expect(pref["pairs"]?.intValue == 16 && pref["margin"]?.doubleValue == 0 && pref["reference"]?["step"]?.intValue == 4)

        // Bad input names the flag or the file.
        func failure(_ args: [String], _ needle: String) throws {
            let e = try simply(["eval"] + args)
            #expect(e.status != 0 && e.stderr.contains(needle), "\(args): \(e.stderr)")
        }
        try failure(["generate", "--checkpoint", policy.path, "--data", prompts.path, "--samples", "4", "--k", "1,8"], "--k")
        try failure(["generate", "--checkpoint", policy.path, "--data", prompts.path, "--k", "1"], "--k")
        try failure(["generate", "--checkpoint", policy.path, "--data", heldOut.path], heldOut.path)
        try failure(["loss", "--checkpoint", policy.path, "--data", dir.appendingPathComponent("nope.ex").path], "nope.ex")
        try failure(["loss", "--checkpoint", policy.path, "--data", prompts.path], prompts.path)
        try failure(["winrate", "--checkpoint", policy.path, "--baseline", policy.path, "--reward_model", policy.path,
                     "--data", prompts.path], "score.weight")
        try failure(["winrate", "--checkpoint", policy.path, "--baseline", policy.path, "--reward_model", rm.path,
                     "--data", dir.appendingPathComponent("missing.ex").path], "missing.ex")
        // A missing folder is created; a folder that cannot exist (under a file) is named.
        let made = try simply(["eval", "generate", "--checkpoint", policy.path, "--data", prompts.path, "--samples", "2",
                               "--out", dir.appendingPathComponent("no/such/dir.json").path])
        #expect(made.status == 0 && FileManager.default.fileExists(atPath: dir.appendingPathComponent("no/such/dir.json").path), "\(made.stderr)")
        try failure(["generate", "--checkpoint", policy.path, "--data", prompts.path, "--samples", "2",
                     "--out", prompts.path + "/x.json"], prompts.path)
    }
}
