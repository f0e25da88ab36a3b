import Foundation
import Testing
import SimplyCore

/// Post-training a published model's architecture with its own tokenizer and
/// chat template, on the real binary: `simply import` of every family fixture
/// (golden/hf/families: Llama 3's rope scaling and head_dim, Qwen2's biases,
/// Qwen3's q/k norms, Mistral's sliding window and untied head, SmolLM2),
/// `data prepare` with the imported tokenizer
/// directory, then SFT, DPO and GRPO from the import. Each run gives the same
/// hashes on 1 and 2 threads, resumes bit for bit from a checkpoint after the
/// later ones are lost (what SIGKILL leaves), and `simply verify` passes.
@Suite(.serialized) struct ImportedModelTrainingTests {
    var repo: URL { configsURL.deletingLastPathComponent() }

    func ok(_ r: ProcessResult, _ what: String) {
        #expect(r.status == 0, "\(what): \(r.stderr)")
    }

    static let marker = ["llama3": "<|start_header_id|>assistant<|end_header_id|>", "qwen2": "You are Qwen",
                          "qwen3": "<think>", "mistral": "[INST]", "smollm2": "named SmolLM"]

    @Test(arguments: ["llama3", "qwen2", "qwen3", "mistral", "smollm2"]) func sftDPOAndGRPOFromAnImportedModel(family: String) throws {
        let tmp = try temporaryDirectory("imported-\(family)")
        defer { try? FileManager.default.removeItem(at: tmp) }
        func path(_ s: String) -> String { tmp.appendingPathComponent(s).path }
        let source = repo.appendingPathComponent("golden/hf/families/\(family)").path
        ok(try runSimply(["import", source, path("base"), "--seq_len", "96"], cwd: repo), "import")
        let tokenizer = path("base/tokenizer")
        for (format, file, count) in [("messages", "sft", 64), ("preference", "pref", 64), ("prompt_only", "q", 32)] {
            ok(try runSimply(["data", "generate", "--task", "addition", "--max_digits", "2", "--count", "\(count)", "--format", format,
                              "--conversational", "--output", path("\(file).jsonl")], cwd: repo), "generate \(format)")
            let prepared = try runSimply(["data", "prepare", path("\(file).jsonl"), "--tokenizer", tokenizer,
                                          "--output", path("\(file).ex")], cwd: repo)
            ok(prepared, "prepare \(format)")
        }
        // The model's own template, not ChatML (e.g. Qwen3's assistant turns open with an empty think block).
        let shown = try runSimply(["data", "inspect", path("sft.ex"), "--tokenizer", tokenizer], cwd: repo)
        ok(shown, "inspect")
        #expect(shown.stdout.contains(Self.marker[family] ?? "?"), "\(shown.stdout.prefix(600))")

        let runs: [(mode: String, from: String, data: String, extra: [String])] = [
            ("sft", "base", "sft.ex", []),
            ("dpo", "sft", "pref.ex", []),
            ("grpo", "sft", "q.ex", ["--set", "grpo.num_generations=4", "--set", "grpo.max_completion_length=8",
                                     "--set", "grpo.rewards=exact_match"]),
        ]
        for r in runs {
            let args = ["train", "--experiment_config", path("base/experiment.json"), "--training_mode", r.mode,
                        "--load_checkpoint", path(r.from), "--deterministic", "--set", "train.steps=8",
                        "--set", "train.batch_size=8", "--set", "train.warmup_steps=2", "--set", "checkpoint.interval=4",
                        "--set", "data.dataset=\(path(r.data))"] + r.extra
            ok(try runSimply(args + ["--threads", "2", "--experiment_dir", path(r.mode)], cwd: repo), r.mode)
            let want = try Data(contentsOf: tmp.appendingPathComponent("\(r.mode)/hashes.jsonl"))
            #expect(String(decoding: want, as: UTF8.self).split(separator: "\n").count == 8, "\(r.mode)")
            ok(try runSimply(args + ["--threads", "1", "--experiment_dir", path("\(r.mode)-1")], cwd: repo), "\(r.mode) on 1 thread")
            #expect(try Data(contentsOf: tmp.appendingPathComponent("\(r.mode)-1/hashes.jsonl")) == want, "\(r.mode): threads")

            // The step-8 checkpoint never written (a kill after step 8's hash, before its checkpoint): resume from step 4 on 1 thread.
            let cut = tmp.appendingPathComponent("\(r.mode)-cut")
            try FileManager.default.copyItem(at: tmp.appendingPathComponent(r.mode), to: cut)
            try FileManager.default.removeItem(at: cut.appendingPathComponent("checkpoints/step-00000008"))
            let latest = cut.appendingPathComponent("checkpoints/LATEST")
            let named = try String(contentsOf: latest, encoding: .utf8)
            try named.replacingOccurrences(of: "step-00000008", with: "step-00000004").write(to: latest, atomically: true, encoding: .utf8)
            ok(try runSimply(["train", "--experiment_dir", cut.path, "--resume", "--threads", "1"], cwd: repo), "\(r.mode) resume")
            #expect(try Data(contentsOf: cut.appendingPathComponent("hashes.jsonl")) == want, "\(r.mode): resume")

            let v = try runSimply(["verify", path(r.mode), "--threads", "1"], cwd: repo)
            ok(v, "\(r.mode) verify")
            #expect(v.stdout.contains("verified steps 1-8"), "\(v.stdout)")
        }
    }
}
