import Foundation
import SimplyCore
import SimplyRun

/// The readable form of `Benchmark.run`'s result.
public enum BenchTable {
    public static func render(_ r: JSONValue) -> String {
        func num(_ v: JSONValue?) -> Double { v?.doubleValue ?? .nan }
        func f(_ x: Double, _ digits: Int = 1) -> String { String(format: "%.\(digits)f", x) }
        func mib(_ v: JSONValue?) -> String { f(num(v) / 1048576, 1) + " MiB" }
        let c = r["config"], run = r["run"], t = r["train"], fw = r["forward"], s = r["sample"], m = r["memory"], k = r["kernels"]
        var lines: [String] = []
        let rank = c?["lora_rank"]?.intValue ?? 0
        let lora = rank > 0 ? " (LoRA rank \(rank) on \(c?["lora_targets"]?.stringValue ?? "?"): \(c?["trained_parameters"]?.intValue ?? 0) trained)" : ""
        lines.append("\(c?["name"]?.stringValue ?? "?"): \(c?["parameters"]?.intValue ?? 0) parameters\(lora), batch \(c?["batch_size"]?.intValue ?? 0) x seq \(c?["seq_len"]?.intValue ?? 0), "
                     + "\(run?["threads"]?.intValue ?? 0) thread(s), \(run?["concurrent_shards"]?.intValue ?? 1) shard(s) at once, \(run?["deterministic"]?.boolValue == true ? "deterministic" : "fast"), "
                     + "OpenBLAS \(run?["openblas_core"]?.stringValue ?? "?"), load \(f(num(run?["load_average_1m"]), 2))")
        lines.append("")
        lines.append("                     tokens/s     GFLOP/s   sec")
        lines.append(row("train step", num(t?["tokens_per_sec"]), num(t?["gflops"]), num(t?["step_sec_mean"])))
        lines.append(row("forward (1 shard)", num(fw?["tokens_per_sec"]), num(fw?["gflops"]), num(fw?["sec_per_call"])))
        lines.append(row("sampling", num(s?["tokens_per_sec"]), .nan, num(s?["sec"])))
        lines.append("step time min/median/max: \(f(num(t?["step_sec_min"]), 4)) / \(f(num(t?["step_sec_median"]), 4)) / \(f(num(t?["step_sec_max"]), 4)) s")
        lines.append("peak RSS: training \(mib(m?["peak_rss_bytes_training"])), end \(mib(m?["peak_rss_bytes_end"]))")
        if case let .object(parts)? = m?["training_breakdown_bytes"] {
            lines.append("  training memory: " + parts.map { "\($0.0.replacingOccurrences(of: "_", with: " ")) \(mib($0.1))" }.joined(separator: ", "))
        }
        if let p = r["fma_peak"] {
            let threads = p["threads"]?.intValue ?? 0
            lines.append("FMA peak (register-only loop, \(p["vector_lanes"]?.intValue ?? 0) lanes): \(f(num(p["gflops_1t"]))) GFLOP/s on 1 thread, "
                         + "\(f(num(p["gflops"]))) on \(threads); training runs at \(f(100 * num(r["ratios"]?["train_gflops_over_fma_peak"])))% of it, "
                         + "its products at \(f(100 * num(r["ratios"]?["matmul_in_step_gflops_per_thread_over_fma_peak_per_thread"])))%")
        }
        lines.append("")
        lines.append("where a step's time goes (sec/step):")
        if case let .object(phases)? = t?["phase_sec_per_step"] {
            let step = num(t?["step_sec_mean"])
            for (name, v) in phases {
                let x = num(v)
                lines.append("  " + name.padding(toLength: 36, withPad: " ", startingAt: 0) + f(x, 4).leftPad(9)
                             + "  " + f(100 * x / step, 1).leftPad(5) + "%")
            }
        }
        if let ms = t?["matmul_in_step"] {
            lines.append("matrix products inside the step: \(f(num(ms["thread_sec_per_step"]), 3)) thread-s/step, "
                         + "\(f(100 * num(ms["share_of_thread_time"])))% of the threads' time, "
                         + "\(f(num(ms["gflops_per_thread"]))) GFLOP/s per thread")
        }
        if let h = t?["state_hash"], num(h["pieces"]) > 0 {
            let adamw = num(t?["phase_sec_per_step"]?["adamw"])
            lines.append("state hash (\(f(num(h["bytes_per_step"]) / 1e9, 3)) GB in \(f(num(h["pieces"]), 0)) pieces of 1 MiB): "
                         + "\(f(num(h["pieces_hashed_in_adamw"]), 0)) hashed inside AdamW's pass (adamw \(f(adamw, 3)) s/step with them), "
                         + "the rest \(f(num(h["sec_per_step_after_adamw"]), 4)) s/step")
        }
        lines.append("")
        lines.append("matmul GFLOP/s (fastest call)        determ 1t  determ 2t  OpenBLAS 1t  OpenBLAS 2t")
        func kernelRow(_ label: String, _ v: JSONValue?) -> String {
            label.padding(toLength: 36, withPad: " ", startingAt: 0)
                + ["deterministic_1t", "deterministic_2t", "openblas_1t", "openblas_2t"].map { key -> String in
                    f(num(v?[key + "_gflops"])).leftPad(key.hasPrefix("open") ? 13 : 11)
                }.joined()
        }
        if case let .array(shapes)? = k?["model_shapes"] {
            for v in shapes {
                let label = "\(v["m"]?.intValue ?? 0)x\(v["n"]?.intValue ?? 0)x\(v["k"]?.intValue ?? 0) \(v["name"]?.stringValue ?? "")"
                lines.append(kernelRow(String(label.prefix(35)), v))
            }
        }
        var aggregate: [(String, JSONValue)] = []
        for key in ["deterministic_1t", "deterministic_2t", "openblas_1t", "openblas_2t"] {
            aggregate.append((key + "_gflops", k?["model_shapes_" + key + "_gflops"] ?? .null))
        }
        lines.append(kernelRow("all model shapes (count-weighted)", .object(aggregate)))
        if let sq = k?["square"] { lines.append(kernelRow("square \(sq["m"]?.intValue ?? 0)", sq)) }
        if case let .object(ratios)? = r["ratios"] {
            lines.append("")
            for (name, v) in ratios { lines.append(name + ": " + f(num(v), 3)) }
        }
        return lines.joined(separator: "\n")
    }

    static func row(_ label: String, _ tokens: Double, _ gflops: Double, _ sec: Double) -> String {
        label.padding(toLength: 18, withPad: " ", startingAt: 0)
            + (tokens.isNaN ? "-" : String(format: "%.0f", tokens)).leftPad(11)
            + (gflops.isNaN ? "-" : String(format: "%.2f", gflops)).leftPad(12)
            + String(format: "%.4f", sec).leftPad(9)
    }
}

extension String {
    func leftPad(_ width: Int) -> String { count >= width ? self : String(repeating: " ", count: width - count) + self }
}
