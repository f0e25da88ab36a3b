import Foundation
import Testing
import SimplyCore
import SimplyData
import SimplyEval
import SimplyModel
import SimplyRun
import SimplyTrain

/// Sampling throughput, opt-in (SIMPLY_SAMPLER_BENCH=1; SIMPLY_BENCH_THREADS,
/// default 1; times are process CPU seconds unless SIMPLY_BENCH_WALL=1): the KV-cache sampler against the old one-full-forward-per-token
/// greedy loop, on the shapes of configs/tiny.json and configs/small.json with
/// random weights and no stop tokens (every row runs to max_new_tokens).
@Suite(.serialized) struct SamplerBenchmarkTests {
    static let enabled = ProcessInfo.processInfo.environment["SIMPLY_SAMPLER_BENCH"] != nil
    static let threads = Int(ProcessInfo.processInfo.environment["SIMPLY_BENCH_THREADS"] ?? "1") ?? 1

    func model(_ name: String) throws -> Transformer {
        let c = try ExperimentConfig.resolve(experiment: name, configDirectory: repositoryURL.appendingPathComponent("configs"),
                                             overrides: [])
        let m = Transformer(config: c.model, maxBatch: 1)
        m.initialize(seed: 1)
        return m
    }

    func prompts(_ n: Int, vocab: Int) -> [[Int32]] {
        let s = RandomStream(seed: 3, name: "bench.prompts")
        return (0..<n).map { p in (0..<(16 + p % 17)).map { Int32(s.uint64(UInt64(p), UInt64($0)) % UInt64(vocab)) } }
    }

    /// Process CPU seconds (with one thread, the compute time even on a busy machine;
    /// SIMPLY_BENCH_WALL=1 for wall-clock seconds).
    func seconds(_ body: () -> Void) -> Double {
        if ProcessInfo.processInfo.environment["SIMPLY_BENCH_WALL"] != nil {
            let t0 = DispatchTime.now().uptimeNanoseconds
            body()
            return Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9
        }
        var a = timespec(), b = timespec()
        clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &a)
        body()
        clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &b)
        return Double(b.tv_sec - a.tv_sec) + Double(b.tv_nsec - a.tv_nsec) / 1e9
    }

    @Test(.enabled(if: enabled)) func throughput() throws {
        let parallel = Parallel(threads: Self.threads)
        for (name, batches, newTokens, baseline) in [("tiny", [1, 16], 32, true), ("small", [1, 8], 32, false)] {
            let m = try model(name)
            for batch in batches {
                let ps = prompts(batch, vocab: m.config.vocabSize)
                let sampler = Sampler(model: m, maxRows: batch)
                let config = SamplingConfig(temperature: 1, maxNewTokens: newTokens, seed: 1)
                _ = sampler.generate(prompts: ps, config: config, parallel: parallel)   // warm up
                var out: [SampledCompletion] = []
                let t = seconds { out = sampler.generate(prompts: ps, config: config, parallel: parallel) }
                let n = out.reduce(0) { $0 + $1.count }
                // The prompts' prefill (and the first token): the rest is decoding steps.
                var first = config
                first.maxNewTokens = 1
                let tPrefill = seconds { _ = sampler.generate(prompts: ps, config: first, parallel: parallel) }
                let promptTokens = ps.reduce(0) { $0 + $1.count }
                print(String(format: "sampler %@ batch %d: %d tokens in %.3f s = %.1f tokens/s (%d threads); "
                             + "prefill of %d prompt tokens %.3f s, decoding steps %.1f tokens/s",
                             name, batch, n, t, Double(n) / t, Self.threads, promptTokens, tPrefill,
                             Double(n - batch) / (t - tPrefill)))
                if baseline && batch > 1 {
                    var old = 0
                    let tOld = seconds {
                        for p in ps {
                            old += Greedy.generateWithoutCache(model: m, prompt: p, maxNewTokens: newTokens,
                                                               tokenizer: ByteTokenizer(), parallel: parallel).count
                        }
                    }
                    print(String(format: "old greedy loop %@ %d prompts: %d tokens in %.3f s = %.1f tokens/s (%d threads)",
                                 name, batch, old, tOld, Double(old) / tOld, Self.threads))
                }
            }
        }
    }

    /// On a real checkpoint (SIMPLY_EM_CHECKPOINT, SIMPLY_EM_DATA: a prepared
    /// prompt_only shard): `ExactMatch.evaluate` on the sampler gives the same
    /// answers and accuracy as the old full-forward loop, and how much faster.
    @Test(.enabled(if: ProcessInfo.processInfo.environment["SIMPLY_EM_CHECKPOINT"] != nil))
    func exactMatchUnchangedOnACheckpoint() throws {
        let env = ProcessInfo.processInfo.environment
        let m = try TrainedModel(URL(fileURLWithPath: env["SIMPLY_EM_CHECKPOINT"]!), maxBatch: 1)
        let tok = try TrainingData.loadTokenizer(m.config)
        let examples = try ExampleShard.read(URL(fileURLWithPath: env["SIMPLY_EM_DATA"]!)).examples
        let parallel = Parallel(threads: Self.threads)
        var oldTexts: [String] = [], oldCorrect = 0, endedAtMarkerText = 0
        let tOld = seconds {
            for e in examples where e.kind == .prompt {
                let out = Greedy.generateWithoutCache(model: m.model, prompt: e.sequences[0].tokens, maxNewTokens: 16,
                                                      tokenizer: tok, parallel: parallel)
                let text = Greedy.answerText(out, tokenizer: tok)
                if tok.decode(out).contains(SpecialTokens.imEnd) { endedAtMarkerText += 1 }
                oldTexts.append(text)
                if AnswerGrading.isExactMatch(text, expected: e.answer!) { oldCorrect += 1 }
            }
        }
        var r: ExactMatchReport?
        let tNew = seconds {
            r = ExactMatch.evaluate(model: m.model, examples: examples, tokenizer: tok, maxNewTokens: 16,
                                    keepSamples: examples.count, parallel: parallel)
        }
        print(String(format: "exact match: old loop %d/%d in %.2f s; sampler %d/%d in %.2f s; %d completions contained <|im_end|> text",
                     oldCorrect, oldTexts.count, tOld, r!.correct, r!.total, tNew, endedAtMarkerText))
        #expect(r!.correct == oldCorrect && r!.samples.map(\.generated) == oldTexts)
    }
}
