import Foundation
import Testing
import SimplyCore
import SimplyData
import SimplyEval
import SimplyModel

/// pass@k, win-rate tallies and sampled generation evals in process.
@Suite struct PassAtKTests {
    /// Hand-computed values of 1 − C(n−c, k)/C(n, k).
    @Test func handValues() {
        #expect(PassAtK.estimate(n: 5, c: 2, k: 2) == 0.7)           // 1 − C(3,2)/C(5,2) = 1 − 3/10
        #expect(abs(PassAtK.estimate(n: 10, c: 3, k: 1) - 0.3) < 1e-15)
        #expect(abs(PassAtK.estimate(n: 10, c: 3, k: 4) - (1 - 35.0 / 210)) < 1e-15)  // C(7,4) = 35, C(10,4) = 210
        #expect(abs(PassAtK.estimate(n: 8, c: 1, k: 4) - 0.5) < 1e-15)
        #expect(PassAtK.estimate(n: 4, c: 0, k: 4) == 0)
        #expect(PassAtK.estimate(n: 4, c: 1, k: 4) == 1)              // n − c < k: every k-subset holds the correct one
        #expect(PassAtK.estimate(n: 4, c: 4, k: 1) == 1)
        let want: Double = (0.7 + 0 + 1) / 3
        #expect(PassAtK.mean(n: 5, correct: [2, 0, 5], k: 2) == want)
    }

    /// Against the definition: the fraction of the C(n, k) k-subsets of n
    /// samples (c correct) that hold at least one correct sample, counted
    /// by enumerating every subset, for all n ≤ 8.
    @Test func equalsExhaustiveEnumeration() {
        for n in 1...8 {
            for c in 0...n {
                for k in 1...n {
                    var subsets = 0, hits = 0
                    for mask in 0..<(1 << n) where mask.nonzeroBitCount == k {
                        subsets += 1
                        if mask & ((1 << c) - 1) != 0 { hits += 1 }   // samples 0..<c are the correct ones
                    }
                    let want = Double(hits) / Double(subsets)
                    #expect(abs(PassAtK.estimate(n: n, c: c, k: k) - want) < 1e-12, "n \(n) c \(c) k \(k)")
                }
            }
        }
    }

    @Test func winRateTally() {
        let r = WinRateReport(scores: [1, 2, 3, 0.5, -1], baselineScores: [0, 2, 4, 0.25, -1])
        #expect(r.wins == 2 && r.ties == 2 && r.losses == 1 && r.count == 5)
        #expect(r.winRate == 0.6)   // (2 + 2/2) / 5
        let mean: Double = 5.5 / 5, baseMean: Double = 5.25 / 5
        #expect(r.meanScore == mean && r.meanBaselineScore == baseMean)
        let same = WinRateReport(scores: [0.1, 7, -3], baselineScores: [0.1, 7, -3])
        #expect(same.ties == 3 && same.winRate == 0.5)
    }

    /// At temperature 0 every sample is the greedy completion: pass@k equals
    /// greedy exact match for every k. The answers are rigged so that the
    /// random model is right on exactly the even prompts (its own greedy
    /// answer there, an impossible one elsewhere), so the check is not 0 = 0.
    @Test func temperatureZeroPassAtOneIsExactMatch() throws {
        let dir = try Scratch()
        let data = try preparedTasks(.promptOnly, count: 10, split: .test, in: dir, name: "prompts")
        var c = ModelConfig(vocabSize: 260, dModel: 32, nLayers: 2, nHeads: 4, nKVHeads: 2, dFF: 64, seqLen: 128)
        c.initStd = 0.3
        let m = Transformer(config: c, maxBatch: 1)
        m.initialize(seed: 7)
        let tok = ByteTokenizer()
        let prompts = try ExampleShard.read(data).examples
        let greedy = Greedy.generate(model: m, prompts: prompts.map { $0.sequences[0].tokens }, maxNewTokens: 12,
                                     tokenizer: tok, parallel: .serial)
        #expect(greedy.allSatisfy { !$0.isEmpty })
        let examples = prompts.enumerated().map { i, e in
            let own = Greedy.answerText(greedy[i], tokenizer: tok).trimmingCharacters(in: .whitespacesAndNewlines)
            return PreparedExample(kind: .prompt, sequences: e.sequences, answer: i % 2 == 0 ? own : "\u{1}never")
        }
        let em = ExactMatch.evaluate(model: m, examples: examples, tokenizer: tok, maxNewTokens: 12, parallel: .serial)
        #expect(em.correct == 5 && em.total == 10)
        let config = SamplingConfig(temperature: 0, maxNewTokens: 12, stopSequences: ChatTemplate(tokenizer: tok).stopSequences)
        let s = SampledGeneration.evaluate(model: m, examples: examples, tokenizer: tok, samples: 3, ks: [1, 2, 3],
                                           config: config, rows: 4, parallel: Parallel(threads: 2, deterministic: true))
        #expect(s.correct == (0..<10).map { $0 % 2 == 0 ? 3 : 0 })
        #expect(s.passAtK.map(\.value) == [em.accuracy, em.accuracy, em.accuracy])
        #expect(s.sampleAccuracy == em.accuracy)
    }

    /// Sampled evals do not depend on the thread count or on how many rows
    /// are decoded together; another seed draws other samples.
    @Test func sampledEvalIsDeterministic() throws {
        let dir = try Scratch()
        let data = try preparedTasks(.promptOnly, count: 8, split: .test, in: dir, name: "prompts")
        var c = ModelConfig(vocabSize: 260, dModel: 32, nLayers: 2, nHeads: 4, nKVHeads: 2, dFF: 64, seqLen: 128)
        c.initStd = 0.02   // a flat random model: samples differ
        let m = Transformer(config: c, maxBatch: 1)
        m.initialize(seed: 3)
        let tok = ByteTokenizer()
        // Rig the answers to the first sample drawn with seed 1, so some counts are non-zero.
        let prompts = try ExampleShard.read(data).examples
        let config = SamplingConfig(temperature: 1, maxNewTokens: 4, stopSequences: ChatTemplate(tokenizer: tok).stopSequences, seed: 1)
        let first = Sampler(model: m, maxRows: 4).generate(prompts: prompts.map { $0.sequences[0].tokens }, samplesPerPrompt: 4,
                                                          config: config, parallel: .serial)
        let examples = prompts.enumerated().map { i, e in
            PreparedExample(kind: .prompt, sequences: e.sequences,
                            answer: Greedy.answerText(first[i * 4].tokens, tokenizer: tok).trimmingCharacters(in: .whitespacesAndNewlines))
        }
        let a = SampledGeneration.evaluate(model: m, examples: examples, tokenizer: tok, samples: 4, ks: [1, 4], config: config,
                                           rows: 4, parallel: .serial)
        let b = SampledGeneration.evaluate(model: m, examples: examples, tokenizer: tok, samples: 4, ks: [1, 4], config: config,
                                           rows: 32, parallel: Parallel(threads: 2, deterministic: true))
        #expect(a.correct == b.correct && a.passAtK.map(\.value) == b.passAtK.map(\.value))
        #expect(a.correct.allSatisfy { $0 >= 1 } && first.allSatisfy { $0.count == 4 })
        #expect(a.passAtK[1].value == 1)   // every prompt has a correct sample among its 4
        var other = config
        other.seed = 2
        let o = SampledGeneration.evaluate(model: m, examples: examples, tokenizer: tok, samples: 4, ks: [1, 4], config: other,
                                           rows: 4, parallel: .serial)
        #expect(o.correct != a.correct)
    }
}
