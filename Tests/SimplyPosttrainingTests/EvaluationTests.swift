import Foundation
import Testing
import SimplyCore
import SimplyData
import SimplyEval
import SimplyModel
import SimplyPosttraining
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
