import Foundation
import Testing
import SimplyCore
import SimplyData
import SimplyEval
import SimplyModel
import SimplyPosttraining
import SimplyRun
import SimplyTrain

@Suite struct EvaluationTests {
    @Test func answerTextEndsAtTheTurnMarker() {
        let tok = ByteTokenizer()
        #expect(Greedy.answerText(tok.encode("54<|im_end|>\n") + [tok.eos], tokenizer: tok) == "54")
        #expect(Greedy.answerText(tok.encode("7") + [tok.eos] + tok.encode("junk"), tokenizer: tok) == "7")
        #expect(Greedy.answerText(tok.encode("no end"), tokenizer: tok) == "no end")
    }

    /// Greedy decoding is a pure function of weights and prompt: the same on
    /// 1 and 3 threads, each token the argmax after the prefix, stopping at eos
    /// or the length limit.
    @Test func greedyIsDeterministicAndArgmax() throws {
        var c = ModelConfig(vocabSize: 260, dModel: 32, nLayers: 2, nHeads: 4, nKVHeads: 2, dFF: 64, seqLen: 40)
        c.initStd = 0.5   // a peaked random model, so the argmax is clear
        let m = Transformer(config: c, maxBatch: 1)
        m.initialize(seed: 11)
        let tok = ByteTokenizer()
        let prompt = [tok.bos] + tok.encode("What is 1 + 1?")
        let a = Greedy.generate(model: m, prompt: prompt, maxNewTokens: 12, tokenizer: tok, parallel: .serial)
        let b = Greedy.generate(model: m, prompt: prompt, maxNewTokens: 12, tokenizer: tok,
                                parallel: Parallel(threads: 3, deterministic: true))
        #expect(a == b && !a.isEmpty && a.count <= 12)
        var seq = prompt
        for next in a {
            _ = m.forward(tokens: seq, targets: Array(repeating: 0, count: seq.count), weights: Array(repeating: 0, count: seq.count),
                          batch: 1, seqLen: seq.count, parallel: .serial)
            let logits = m.logits
            let v = c.vocabSize, base = (seq.count - 1) * v
            var best = 0
            for j in 1..<v where logits.pointer[base + j] > logits.pointer[base + best] { best = j }
            #expect(Int32(best) == next)
            seq.append(next)
        }
        // The model's context limit stops generation.
        let long = Greedy.generate(model: m, prompt: Array(repeating: 65, count: 38), maxNewTokens: 10, tokenizer: tok, parallel: .serial)
        #expect(long.count <= 3)
    }

    /// The KV-cache greedy path equals the old full-forward loop token for
    /// token (same stops), alone or batched; with the chat template's stops
    /// it only ends earlier, at the `<|im_end|>` text, so answers and
    /// exact-match results are unchanged.
    @Test func cachedGreedyEqualsTheUncachedLoop() throws {
        let dir = try Scratch()
        let data = try preparedTasks(.promptOnly, count: 12, split: .test, in: dir, name: "prompts")
        let examples = try ExampleShard.read(data).examples
        var c = ModelConfig(vocabSize: 260, dModel: 32, nLayers: 2, nHeads: 4, nKVHeads: 2, dFF: 64, seqLen: 64)
        c.initStd = 0.3
        let m = Transformer(config: c, maxBatch: 1)
        m.initialize(seed: 7)
        let tok = ByteTokenizer()
        let prompts = examples.map { $0.sequences[0].tokens }
        let old = prompts.map { Greedy.generateWithoutCache(model: m, prompt: $0, maxNewTokens: 20, tokenizer: tok, parallel: .serial) }
        let sampler = Sampler(model: m, maxRows: 5)
        let cached = sampler.generate(prompts: prompts, config: .greedy(maxNewTokens: 20, stopSequences: [[tok.eos]]),
                                      parallel: Parallel(threads: 2))
        #expect(cached.map(\.tokens) == old)
        let batched = Greedy.generate(model: m, prompts: prompts, maxNewTokens: 20, tokenizer: tok, batch: 4, parallel: .serial)
        for (b, o) in zip(batched, old) {
            #expect(o.starts(with: b))
            #expect(Greedy.answerText(b, tokenizer: tok) == Greedy.answerText(o, tokenizer: tok))
        }
        let r = ExactMatch.evaluate(model: m, examples: examples, tokenizer: tok, maxNewTokens: 20, keepSamples: 12, batch: 3,
                                    parallel: .serial)
        #expect(r.total == 12 && r.samples.map(\.generated) == old.map { Greedy.answerText($0, tokenizer: tok) })
        #expect(r.correct == r.samples.filter { AnswerGrading.isExactMatch($0.generated, expected: $0.expected) }.count)
        #expect(r.numericCorrect == r.samples.filter { AnswerGrading.isNumericMatch($0.generated, expected: $0.expected) }.count)
        // A model trained to answer "7<|im_end|>\n<|eos|>" is cut at the marker's text.
        let turn = tok.encode("7<|im_end|>\n") + [tok.eos]
        #expect(ChatTemplate(tokenizer: tok).stopSequences == [[tok.eos], tok.encode("<|im_end|>")])
        #expect(Greedy.answerText(Array(turn.prefix(11)), tokenizer: tok) == Greedy.answerText(turn, tokenizer: tok))
    }

    /// A policy equal to its reference has zero implicit rewards: accuracy 0
    /// (ties are not wins), margin 0.
    @Test func preferenceEvaluationOfTheReferenceItself() throws {
        let dir = try Scratch()
        let data = try preparedTasks(.preference, count: 12, split: .test, in: dir, name: "pref")
        let shard = try ExampleShard.read(data)
        let c = ModelConfig(vocabSize: 260, dModel: 32, nLayers: 2, nHeads: 4, nKVHeads: 2, dFF: 64, seqLen: 96)
        let p = Transformer(config: c, maxBatch: 8), q = Transformer(config: c, maxBatch: 8)
        p.initialize(seed: 3); q.initialize(seed: 3)
        let r = PreferenceEvaluation.evaluate(policy: p, reference: q, examples: shard.examples, beta: 0.1, pad: 258, batch: 4,
                                              parallel: .serial)
        #expect(r.pairs == 12 && r.accuracy == 0 && r.meanMargin == 0 && r.meanChosenLogProb < 0)
        q.initialize(seed: 4)
        let s = PreferenceEvaluation.evaluate(policy: p, reference: q, examples: shard.examples, beta: 0.1, pad: 258, batch: 4,
                                              parallel: .serial)
        #expect(s.meanMargin != 0 && s.meanChosenLogProb == r.meanChosenLogProb)
    }
}
