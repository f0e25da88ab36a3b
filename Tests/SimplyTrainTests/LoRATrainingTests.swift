import Foundation
import Testing
import SimplyCore

/// LoRA through the real binary on an imported published architecture
/// (golden/hf/families/qwen3: q/k norms, head_dim ≠ d/heads): SFT (with
/// dropout, and the embeddings and some norms trained in full), then DPO,
/// GRPO, a reward model and PPO from it (its base with the adapters merged),
/// each with adapters on all seven linear layers. Every run gives the same hashes on 1 and 2 threads,
/// resumes bit for bit from a checkpoint after the later ones are lost,
/// passes `simply verify`, and holds only adapters in its checkpoints. A
/// base whose bits changed is refused by resume, verify and eval, naming
/// both hashes; a PEFT export imported back is the same model.
@Suite(.serialized) struct LoRATrainingTests {
    var repo: URL { configsURL.deletingLastPathComponent() }

    func ok(_ r: ProcessResult, _ what: String) {
        #expect(r.status == 0, "\(what): \(r.stderr)")
    }

    @Test func everyModeTrainsAdaptersResumesAndVerifies() throws {
        let tmp = try temporaryDirectory("lora-training")
        defer { try? FileManager.default.removeItem(at: tmp) }
        func path(_ s: String) -> String { tmp.appendingPathComponent(s).path }
        ok(try runSimply(["import", repo.appendingPathComponent("golden/hf/families/qwen3").path, path("base"), "--seq_len", "96"],
                         cwd: repo), "import")
        for (format, file, count) in [("messages", "sft", 64), ("preference", "pref", 64), ("prompt_only", "q", 32)] {
            ok(try runSimply(["data", "generate", "--task", "addition", "--max_digits", "2", "--count", "\(count)", "--format", format,
                              "--conversational", "--output", path("\(file).jsonl")], cwd: repo), "generate \(format)")
            ok(try runSimply(["data", "prepare", path("\(file).jsonl"), "--tokenizer", path("base/tokenizer"),
                              "--output", path("\(file).ex")], cwd: repo), "prepare \(format)")
        }
        let runs: [(name: String, mode: String, from: String, data: String, extra: [String])] = [
            ("sft", "sft", "base", "sft.ex", ["--set", "lora.dropout=0.1", "--set", "lora.modules_to_save=embed_tokens,norm,q_norm"]),
            ("dpo", "dpo", "sft", "pref.ex", []),
            ("grpo", "grpo", "sft", "q.ex", ["--set", "grpo.num_generations=4", "--set", "grpo.max_completion_length=8",
                                             "--set", "grpo.rewards=exact_match", "--set", "grpo.beta=0.04"]),
            ("rm", "reward", "sft", "pref.ex", []),
            ("ppo", "ppo", "sft", "q.ex", ["--set", "ppo.response_length=8", "--set", "ppo.reward_model=\(path("rm"))"]),
        ]
        for r in runs {
            let args = ["train", "--experiment_config", path("base/experiment.json"), "--training_mode", r.mode,
                        "--load_checkpoint", path(r.from), "--deterministic", "--set", "train.steps=6",
                        "--set", "train.batch_size=8", "--set", "train.warmup_steps=2", "--set", "checkpoint.interval=3",
                        "--set", "lora.rank=4", "--set", "lora.alpha=8", "--set", "data.dataset=\(path(r.data))"] + r.extra
            let first = try runSimply(args + ["--threads", "2", "--experiment_dir", path(r.name)], cwd: repo)
            ok(first, r.name)
            #expect(first.stderr.contains("trained parameters (LoRA rank 4"), "\(r.name): \(first.stderr)")
            let want = try Data(contentsOf: tmp.appendingPathComponent("\(r.name)/hashes.jsonl"))
            #expect(String(decoding: want, as: UTF8.self).split(separator: "\n").count == 6, "\(r.name)")
            ok(try runSimply(args + ["--threads", "1", "--experiment_dir", path("\(r.name)-1")], cwd: repo), "\(r.name) on 1 thread")
            #expect(try Data(contentsOf: tmp.appendingPathComponent("\(r.name)-1/hashes.jsonl")) == want, "\(r.name): threads")

            // Only adapters (and the score head of reward and PPO) and their AdamW moments are checkpointed.
            let manifest = try JSONValue.parse(String(contentsOf: tmp.appendingPathComponent("\(r.name)/checkpoints/step-00000006/manifest.json"),
                                                      encoding: .utf8))
            guard case let .array(tensors)? = manifest["tensors"] else { Issue.record("no tensors"); continue }
            let names = tensors.compactMap { $0["name"]?.stringValue }.filter { !$0.hasPrefix("optimizer.") && !$0.hasPrefix("ppo.") }
            let scored = r.mode == "reward" || r.mode == "ppo"
            // SFT also trains the embeddings, the final norm and both layers' q norms in full.
            let saved = r.name == "sft" ? ["model.embed_tokens.weight", "model.norm.weight",
                                           "model.layers.0.self_attn.q_norm.weight", "model.layers.1.self_attn.q_norm.weight"] : []
            #expect(names.count == 2 * 7 * 2 + (scored ? 1 : 0) + saved.count, "\(r.name): \(names.prefix(4))")
            #expect(names.allSatisfy { $0.contains(".lora_A.") || $0.contains(".lora_B.") || $0 == "score.weight" || saved.contains($0) },
                    "\(r.name)")
            #expect(manifest["extra"]?["lora"]?["base_sha256"]?.stringValue?.count == 64, "\(r.name): extra.lora")

            // The step-6 checkpoint lost (a kill before it was written): resume from step 3 on 1 thread.
            let cut = tmp.appendingPathComponent("\(r.name)-cut")
            try FileManager.default.copyItem(at: tmp.appendingPathComponent(r.name), to: cut)
            try FileManager.default.removeItem(at: cut.appendingPathComponent("checkpoints/step-00000006"))
            try "step-00000003\n".write(to: cut.appendingPathComponent("checkpoints/LATEST"), atomically: true, encoding: .utf8)
            ok(try runSimply(["train", "--experiment_dir", cut.path, "--resume", "--threads", "1"], cwd: repo), "\(r.name) resume")
            #expect(try Data(contentsOf: cut.appendingPathComponent("hashes.jsonl")) == want, "\(r.name): resume")

            let v = try runSimply(["verify", path(r.name), "--threads", "1"], cwd: repo)
            ok(v, "\(r.name) verify")
            #expect(v.stdout.contains("verified steps 1-6"), "\(v.stdout)")
        }

        // Trained adapters change the model; a PEFT export imported back onto the base is the same model, bit for bit.
        let tokens = tmp.appendingPathComponent("ids.safetensors")
        try writeIds(tokens)
        func logits(_ checkpoint: String, _ name: String) throws -> [UInt8] {
            ok(try runSimply(["eval", "logits", "--checkpoint", checkpoint, "--tokens", tokens.path, "--out", path(name)], cwd: repo), name)
            return try FileBytes.read(URL(fileURLWithPath: path(name)), limit: 1 << 26)
        }
        let adapted = try logits(path("sft"), "sft.logits"), base = try logits(path("base"), "base.logits")
        #expect(adapted != base)
        ok(try runSimply(["export", "--format", "peft", "--checkpoint", path("sft"), path("sft-peft")], cwd: repo), "export peft")
        ok(try runSimply(["import", path("sft-peft"), path("sft-imported"), "--lora_base", path("base")], cwd: repo), "import peft")
        #expect(try logits(path("sft-imported"), "imported.logits") == adapted)

        // The base's bits changed under the runs (a weight flipped in the model they were imported from):
        // resume, verify and eval refuse, naming the recorded hash and the new one.
        let recorded = try JSONValue.parse(String(contentsOf: tmp.appendingPathComponent("sft/config.json"), encoding: .utf8))["run"]
        let wanted = recorded?["init_state_sha256"]?.stringValue ?? "?"
        let changed = tmp.appendingPathComponent("qwen3-changed")
        try FileManager.default.copyItem(at: repo.appendingPathComponent("golden/hf/families/qwen3"), to: changed)
        var weights = try Data(contentsOf: changed.appendingPathComponent("model.safetensors"))
        weights[weights.count - 3] ^= 0x10
        try weights.write(to: changed.appendingPathComponent("model.safetensors"))
        try FileManager.default.moveItem(atPath: path("base"), toPath: path("base-original"))
        ok(try runSimply(["import", changed.path, path("base"), "--seq_len", "96"], cwd: repo), "import changed base")
        let cut = tmp.appendingPathComponent("sft-cut2")
        try FileManager.default.copyItem(at: tmp.appendingPathComponent("sft"), to: cut)
        try FileManager.default.removeItem(at: cut.appendingPathComponent("checkpoints/step-00000006"))
        try "step-00000003\n".write(to: cut.appendingPathComponent("checkpoints/LATEST"), atomically: true, encoding: .utf8)
        for (what, args) in [("resume", ["train", "--experiment_dir", cut.path, "--resume"]), ("verify", ["verify", path("sft")]),
                             ("eval", ["eval", "loss", "--checkpoint", path("sft"), "--data", path("sft.ex")])] {
            let r = try runSimply(args, cwd: repo)
            #expect(r.status != 0, "\(what) on a changed base")
            let line = r.stderr.split(separator: "\n").last.map(String.init) ?? ""
            #expect(line.contains(wanted) && line.contains("the base changed"), "\(what): \(line)")
            let hashes = line.matches(of: /[0-9a-f]{64}/).map { String($0.output) }
            #expect(Set(hashes).count == 2, "\(what) names both hashes: \(line)")
        }
        #expect(try Data(contentsOf: cut.appendingPathComponent("hashes.jsonl")).count > 0, "nothing lost")
    }

    /// input_ids [1, 12] for `simply eval logits`.
    func writeIds(_ url: URL) throws {
        var bytes: [UInt8] = []
        for i in 0..<12 { withUnsafeBytes(of: Int64(3 + 7 * i).littleEndian) { bytes += $0 } }
        let header = #"{"input_ids":{"dtype":"I64","shape":[1,12],"data_offsets":[0,96]}}"#
        var h = Array(header.utf8)
        while (h.count + 8) % 8 != 0 { h.append(0x20) }
        var out: [UInt8] = []
        withUnsafeBytes(of: UInt64(h.count).littleEndian) { out += $0 }
        try Data(out + h + bytes).write(to: url)
    }
}
