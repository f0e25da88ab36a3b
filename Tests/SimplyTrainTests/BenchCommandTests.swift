import Foundation
import SimplyCore
import SimplyModel
import SimplyRun
import SimplyTrain
import Testing

/// `simply bench` on a micro config: it runs, prints the table and writes
/// sorted JSON with every key compare.sh and the docs read. No timing is
/// asserted (tests do not time things); the counts and FLOP formulas are.
@Suite(.serialized) struct BenchCommandTests {
    static let micro = ["--set", "model.d_model=32", "--set", "model.n_layers=2", "--set", "model.n_heads=4",
                        "--set", "model.n_kv_heads=2", "--set", "model.d_ff=48", "--set", "model.seq_len=16",
                        "--set", "model.vocab_size=259", "--set", "train.batch_size=4", "--set", "train.grad_shards=2",
                        "--set", "data.synthetic_bytes=20000"]

    @Test func writesSortedJSONWithTheExpectedKeys() throws {
        let tmp = try temporaryDirectory("bench")
        defer { try? FileManager.default.removeItem(at: tmp) }
        let repo = configsURL.deletingLastPathComponent()
        let out = tmp.appendingPathComponent("bench.json")
        let r = try runSimply(["bench", "--experiment_config", "tiny", "--deterministic", "--threads", "2",
                               "--steps", "2", "--warmup_steps", "1", "--square", "48", "--kernel_seconds", "0",
                               "--json", out.path] + Self.micro, cwd: repo)
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.contains("train step") && r.stdout.contains("where a step's time goes"))
        let text = try String(contentsOf: out, encoding: .utf8)
        let j = try JSONValue.parse(text)
        #expect(text == j.pretty() + "\n", "keys sorted, as pretty() writes them")

        // The model the bench trained is the micro config's.
        let config = try ExperimentConfig.resolve(experiment: "tiny", configDirectory: configsURL,
                                                  overrides: stride(from: 1, to: Self.micro.count, by: 2).map { Self.micro[$0] })
        let params = ParameterLayout(config: config.model).count
        #expect(j["config"]?["parameters"]?.intValue == params)
        #expect(j["run"]?["deterministic"]?.boolValue == true)
        #expect(j["run"]?["threads"]?.intValue == 2)
        #expect(j["run"]?["steps"]?.intValue == 2)

        // FLOP accounting: 6·P + 12·L·T·d per token, and the exact Σ 2mnk of one step.
        let (d, l, t, v, f) = (32, 2, 16, 259, 48)
        let (qd, kvd, hd, heads, batch) = (32, 16, 8, 4, 4)
        #expect(j["train"]?["flops_per_token"]?.doubleValue == Double(6 * params + 12 * l * t * d))
        let rows = batch * t   // over both shards
        let linear = 3 * 2 * rows * (l * (qd * d + 2 * kvd * d + d * qd + 3 * f * d) + v * d)
        // Six products per (row, head) and layer, and the backward's recomputed scores.
        let attention = 7 * 2 * t * t * hd * batch * heads * l
        #expect(j["train"]?["matmul_flops_per_step"]?.doubleValue == Double(linear + attention))
        #expect(j["train"]?["tokens_per_step"]?.intValue == batch * t)
        // MatmulClock saw exactly those products in the measured steps, and they took part of the threads' time.
        let inStep = j["train"]?["matmul_in_step"]
        #expect(inStep?["flops_per_step"]?.doubleValue == Double(linear + attention))
        let share = inStep?["share_of_thread_time"]?.doubleValue ?? .nan
        #expect(share > 0 && share < 1, "share_of_thread_time = \(share)")
        #expect((inStep?["gflops_per_thread"]?.doubleValue).map { $0 > 0 && $0.isFinite } == true)
        // The state hash covers the parameters and both AdamW moments, in 1 MiB pieces.
        let hash = j["train"]?["state_hash"]
        let hashBytes = 3 * params * MemoryLayout<Float>.stride
        #expect(hash?["bytes_per_step"]?.intValue == hashBytes)
        #expect(hash?["pieces"]?.intValue == (hashBytes + (1 << 20) - 1) >> 20)
        #expect((hash?["pieces_hashed_in_adamw"]?.intValue).map { $0 >= 0 && $0 <= hashBytes >> 20 } == true)
        #expect((hash?["sec_per_step_after_adamw"]?.doubleValue).map { $0 > 0 && $0.isFinite } == true)
        #expect(r.stdout.contains("state hash ("))

        for path in [["train", "tokens_per_sec"], ["train", "gflops"], ["train", "step_sec_mean"],
                     ["forward", "tokens_per_sec"], ["sample", "tokens_per_sec"],
                     ["memory", "peak_rss_bytes_training"], ["memory", "ru_maxrss_bytes_end"],
                     ["kernels", "square_deterministic_1t_gflops"], ["kernels", "square_openblas_2t_gflops"],
                     ["kernels", "model_shapes_deterministic_2t_gflops"], ["kernels", "model_shapes_openblas_1t_gflops"],
                     ["ratios", "train_gflops_over_openblas_2t_square"], ["ratios", "train_gflops_over_fma_peak"],
                     ["fma_peak", "gflops"], ["fma_peak", "gflops_1t"],
                     ["memory", "training_breakdown_bytes", "weights"], ["memory", "training_breakdown_bytes", "gradients"],
                     ["memory", "training_breakdown_bytes", "optimizer_state"], ["memory", "training_breakdown_bytes", "activations"],
                     ["memory", "training_breakdown_bytes", "scratch"]] {
            let x = path.reduce(Optional(j)) { $0?[$1] }?.doubleValue
            #expect(x.map { $0 > 0 && $0.isFinite } == true, "\(path.joined(separator: ".")) = \(String(describing: x))")
        }
        for phase in ["load_batch", "shard_forward_backward", "tree_sum", "clip", "adamw", "state_hash",
                      "forward_estimate", "linear_matmul_estimate", "attention_matmul_estimate"] {
            #expect(j["train"]?["phase_sec_per_step"]?[phase]?.doubleValue != nil, "phase \(phase)")
        }
        // Sampling: 4 prompts of 8 tokens, up to seq_len − 8 new tokens each.
        let sampled = j["sample"]?["new_tokens"]?.intValue ?? 0
        #expect(sampled >= 4 && sampled <= 4 * 8)
        // Equal shapes are merged; every linear product of the step (fwd, dx, dw per projection and the head, per shard) counts once.
        if case let .array(shapes)? = j["kernels"]?["model_shapes"] {
            let counts = shapes.compactMap { $0["count_per_step"]?.intValue }
            #expect(counts.reduce(0, +) == 3 * 2 * (7 * l + 1))
        } else {
            Issue.record("kernels.model_shapes missing")
        }
    }

    /// With gradient checkpointing the step's product list counts the
    /// backward's recomputed forward products: the clock sees exactly them.
    /// The breakdown sees one model (no second lane) and the weights,
    /// gradients and AdamW moments at their sizes.
    @Test func checkpointedStepCountsTheRecomputedProducts() throws {
        let tmp = try temporaryDirectory("bench-ckpt")
        defer { try? FileManager.default.removeItem(at: tmp) }
        let repo = configsURL.deletingLastPathComponent()
        let out = tmp.appendingPathComponent("bench.json")
        let micro = Self.micro.map { $0 == "model.n_layers=2" ? "model.n_layers=3" : $0 }
        let r = try runSimply(["bench", "--experiment_config", "tiny", "--deterministic", "--threads", "2",
                               "--steps", "2", "--warmup_steps", "1", "--square", "48", "--kernel_seconds", "0",
                               "--json", out.path, "--set", "train.checkpoint_activations=layer"] + micro, cwd: repo)
        #expect(r.status == 0, "\(r.stderr)")
        let j = try JSONValue.parse(try String(contentsOf: out, encoding: .utf8))
        let listed = j["train"]?["matmul_flops_per_step"]?.doubleValue ?? 0
        #expect(listed > 0 && j["train"]?["matmul_in_step"]?["flops_per_step"]?.doubleValue == listed)
        #expect(j["run"]?["concurrent_shards"]?.intValue == 1)
        let params = j["config"]?["parameters"]?.intValue ?? 0
        let b = j["memory"]?["training_breakdown_bytes"]
        #expect(b?["weights"]?.intValue == 4 * params)
        #expect(b?["optimizer_state"]?.intValue == 8 * params)
        #expect((b?["gradients"]?.intValue ?? 0) >= 4 * params)
    }

    @Test func badStepsIsAOneLineError() throws {
        let repo = configsURL.deletingLastPathComponent()
        let r = try runSimply(["bench", "--experiment_config", "tiny", "--steps", "0"], cwd: repo)
        #expect(r.status != 0)
        #expect(r.stderr == "error: --steps must be >= 1\n")
    }
}
