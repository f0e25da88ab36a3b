import Foundation
import Testing
import SimplyCore
import SimplyData
import SimplyEval
import SimplyModel
import SimplyPosttraining

@Suite struct RewardsTests {
    let tok = ByteTokenizer()
    var prompt: [Int32] { try! ChatTemplate(tokenizer: tok).prompt(.messages([ChatMessage(.user, "What is 12 + 7?")])).tokens }

    func inputs(_ completions: [String], answer: String? = "19", eos: Bool = false) -> [RewardInput] {
        completions.map { RewardInput(prompt: prompt, completion: tok.encode($0) + (eos ? [tok.eos] : []), answer: answer) }
    }

    @Test func exactMatch() {
        let r = ExactMatchReward(tokenizer: tok)
        #expect(r.rewards(inputs(["19<|im_end|>", " 19\n<|im_end|>", "18<|im_end|>", "19", "19.0<|im_end|>", "<|im_end|>19"]),
                          parallel: .serial) == [1, 1, 0, 1, 0, 0])
        #expect(r.rewards(inputs(["19"], eos: true), parallel: .serial) == [1])
        #expect(r.name == "exact_match")
    }

    @Test func numericAnswer() {
        let r = NumericAnswerReward(tokenizer: tok)
        #expect(r.rewards(inputs(["19<|im_end|>", "The answer is 19.<|im_end|>", "19.0", "+19", "019", "12 + 7 = 19",
                                  "190", "19 or 20", "1.9", "<|im_end|>19"]), parallel: .serial)
                == [1, 1, 1, 1, 1, 1, 0, 0, 0, 0])
        #expect(r.rewards(inputs(["1,000", "-3", "3-4 is -1"], answer: "1000"), parallel: .serial) == [1, 0, 0])
        #expect(r.rewards(inputs(["-3", "x = -3", "5-3"], answer: "-3"), parallel: .serial) == [1, 1, 0])
        #expect(r.rewards(inputs(["kqzv", " kqzv "], answer: "kqzv"), parallel: .serial) == [1, 1])   // not a number: exact match
        #expect(AnswerGrading.numbers(in: "3-4, 1,234.5 and -7") == [3, 4, Decimal(string: "1234.5")!, -7])
    }

    @Test func format() {
        let plain = FormatReward(tokenizer: tok), numeric = FormatReward(tokenizer: tok, numeric: true)
        let cases = ["19<|im_end|>", "abc<|im_end|>", "19", " 19<|im_end|>", "19\n<|im_end|>", "<|im_end|>",
                     "19<|im_end|>junk", "19<|im_end|>\n", "1 9<|im_end|>", "-1,234.5<|im_end|>", "19<|im_end|><|im_end|>"]
        #expect(plain.rewards(inputs(cases), parallel: .serial) == [1, 1, 0, 0, 0, 0, 0, 0, 1, 1, 0])
        #expect(numeric.rewards(inputs(cases), parallel: .serial) == [1, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0])
        // eos ends a plain-text completion; text after it is junk.
        #expect(numeric.rewards(inputs(["19"], eos: true) + [RewardInput(prompt: prompt, completion: [tok.eos] + tok.encode("19"))],
                                parallel: .serial) == [1, 0])
    }

    @Test func weightedSum() {
        let r = WeightedReward([(ExactMatchReward(tokenizer: tok), 1), (FormatReward(tokenizer: tok, numeric: true), 0.25)])
        #expect(r.rewards(inputs(["19<|im_end|>", "19", "18<|im_end|>", "x"]), parallel: .serial) == [1.25, 1, 0.25, 0])
    }

    /// A reward model scores prompt + completion at its last token: the same
    /// bits alone or in a batch, on 1 or 2 threads, and a completion ending
    /// with the turn marker is scored with the ending training data has.
    @Test func rewardModelScores() {
        var c = ModelConfig(vocabSize: 260, dModel: 32, nLayers: 2, nHeads: 4, nKVHeads: 2, dFF: 64, seqLen: 96)
        c.scoreHead = true
        c.initStd = 0.2
        let m = Transformer(config: c, maxBatch: 3)
        m.initialize(seed: 8)
        let end = tok.encode("<|im_end|>"), suffix = tok.encode("\n") + [tok.eos]
        let r = ModelReward(model: m, pad: tok.pad, turnEnd: (end, suffix))
        let batch = inputs(["19<|im_end|>", "18", "nineteen, I think<|im_end|>", "7", String(repeating: "9", count: 100)])
        let all = r.rewards(batch, parallel: .serial)
        #expect(r.rewards(batch, parallel: Parallel(threads: 2)) == all)
        #expect(batch.indices.map { r.rewards([batch[$0]], parallel: .serial)[0] } == all)
        #expect(Set(all).count == 5)
        // By hand: the score head after a plain forward of the sequence (with the ending; cut to seq_len).
        func direct(_ seq: [Int32]) -> Double {
            let s = Array(seq.prefix(96))
            _ = m.forward(tokens: s, targets: s, weights: Array(repeating: 0, count: s.count), batch: 1, seqLen: s.count,
                          parallel: .serial, withLogits: false)
            return Double(m.scores(rows: [s.count - 1])[0])
        }
        #expect(all[0] == direct(prompt + tok.encode("19<|im_end|>") + suffix))
        #expect(all[1] == direct(prompt + tok.encode("18")))
        #expect(all[4] == direct(prompt + tok.encode(String(repeating: "9", count: 100))))
    }
}
