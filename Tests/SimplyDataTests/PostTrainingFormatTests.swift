import Foundation
import Testing
import SimplyCore
import SimplyData

/// The byte tokenizer plus the two ChatML specials as single ids (259, 260),
/// to check the template uses specials when a tokenizer has them.
struct ChatByteTokenizer: Tokenizer {
    let base = ByteTokenizer()
    var vocabSize: Int { 261 }
    var bos: Int32 { base.bos }
    var eos: Int32 { base.eos }
    var pad: Int32 { base.pad }
    var name: String { "byte+chat" }
    func encode(_ text: String) -> [Int32] { base.encode(text) }
    func decode(_ ids: [Int32]) -> String {
        ids.split(separator: 259, omittingEmptySubsequences: false).map { part in
            part.split(separator: 260, omittingEmptySubsequences: false).map { base.decode(Array($0)) }
                .joined(separator: "<|im_end|>")
        }.joined(separator: "<|im_start|>")
    }
    func specialToken(_ content: String) -> Int32? {
        content == SpecialTokens.imStart ? 259 : content == SpecialTokens.imEnd ? 260 : base.specialToken(content)
    }
}

@Suite struct PostTrainingFormatTests {
    let tok = ByteTokenizer()
    var template: ChatTemplate { ChatTemplate(tokenizer: tok) }

    func parse(_ format: RecordFormat, _ json: String) throws -> PostTrainingRecord {
        try format.parse(try JSONValue.parse(json))
    }

    func example(_ format: RecordFormat, _ json: String, tokenizer: any Tokenizer = ByteTokenizer()) throws -> PreparedExample {
        try PreparedExample(try parse(format, json), template: ChatTemplate(tokenizer: tokenizer))
    }

    /// Decoded text of the tokens in (or out of) the loss, run by run.
    func runs(_ s: MaskedTokens, loss: Bool) -> [String] {
        var out: [String] = []
        var cur: [Int32] = []
        for (t, m) in zip(s.tokens, s.mask) {
            if m == loss { cur.append(t) } else if !cur.isEmpty { out.append(tok.decode(cur)); cur = [] }
        }
        if !cur.isEmpty { out.append(tok.decode(cur)) }
        return out
    }

    @Test func alpacaRendersChatMLWithAssistantOnlyLoss() throws {
        let e = try example(.alpaca, #"{"instruction": "Add the numbers.", "input": "2 and 3", "output": "5"}"#)
        #expect(e.kind == .supervised && e.sequences.count == 1)
        let s = e.sequences[0]
        #expect(tok.decode(s.tokens) == "<|bos|><|im_start|>user\nAdd the numbers.\n\n2 and 3<|im_end|>\n<|im_start|>assistant\n5<|im_end|>\n<|eos|>")
        #expect(runs(s, loss: true) == ["5<|im_end|>\n<|eos|>"])
        #expect(runs(s, loss: false) == ["<|bos|><|im_start|>user\nAdd the numbers.\n\n2 and 3<|im_end|>\n<|im_start|>assistant\n"])
        // No input: the instruction alone; a null input is the same.
        let a = try example(.alpaca, #"{"instruction": "Say hi.", "input": "", "output": "hi"}"#)
        let b = try example(.alpaca, #"{"instruction": "Say hi.", "output": "hi", "input": null}"#)
        #expect(a == b)
        #expect(tok.decode(a.sequences[0].tokens).hasPrefix("<|bos|><|im_start|>user\nSay hi.<|im_end|>"))
    }

    @Test func multiTurnConversationTrainsEveryAssistantTurn() throws {
        let msgs = #"{"messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello"}, {"role": "user", "content": "2+2?"}, {"role": "assistant", "content": "4"}]}"#
        let share = #"{"conversations": [{"from": "system", "value": "Be brief."}, {"from": "human", "value": "Hi"}, {"from": "gpt", "value": "Hello"}, {"from": "human", "value": "2+2?"}, {"from": "gpt", "value": "4"}]}"#
        let m = try example(.messages, msgs)
        let g = try example(.sharegpt, share)
        #expect(m == g)
        #expect(runs(m.sequences[0], loss: true) == ["Hello<|im_end|>", "4<|im_end|>\n<|eos|>"])
        let notLoss = runs(m.sequences[0], loss: false)
        #expect(notLoss.first == "<|bos|><|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n")
        #expect(notLoss[1] == "\n<|im_start|>user\n2+2?<|im_end|>\n<|im_start|>assistant\n")
    }

    @Test func specialsAreSingleIdsWhenTheTokenizerHasThem() throws {
        let chat = ChatByteTokenizer()
        let e = try example(.messages, #"{"messages": [{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"}]}"#, tokenizer: chat)
        let s = e.sequences[0]
        let expected: [Int32] = [256, 259] + tok.encode("user\na") + [260] + tok.encode("\n") + [259] + tok.encode("assistant\n")
            + tok.encode("b") + [260] + tok.encode("\n") + [257]
        #expect(s.tokens == expected)
        #expect(s.mask == Array(repeating: false, count: expected.count - 4) + [true, true, true, true])
        #expect(s.tokens.filter { $0 == 259 }.count == 2)
    }

    @Test func promptCompletionPlainAndConversational() throws {
        let p = try example(.promptCompletion, #"{"prompt": "The sky is", "completion": " blue."}"#)
        #expect(p.sequences[0].tokens == [256] + tok.encode("The sky is") + tok.encode(" blue.") + [257])
        #expect(runs(p.sequences[0], loss: true) == [" blue.<|eos|>"])
        // Conversational: the prompt's own assistant turn (a few-shot example) is not trained.
        let c = try example(.promptCompletion, #"{"prompt": [{"role": "user", "content": "1+1?"}, {"role": "assistant", "content": "2"}, {"role": "user", "content": "2+2?"}], "completion": [{"role": "assistant", "content": "4"}]}"#)
        #expect(runs(c.sequences[0], loss: true) == ["4<|im_end|>\n<|eos|>"])
        // A text completion after a conversational prompt becomes an assistant turn.
        let mixed = try example(.promptCompletion, #"{"prompt": [{"role": "user", "content": "2+2?"}], "completion": "4"}"#)
        let conv = try example(.promptCompletion, #"{"prompt": [{"role": "user", "content": "2+2?"}], "completion": [{"role": "assistant", "content": "4"}]}"#)
        #expect(mixed == conv)
    }

    @Test func promptTokensArePrefixOfTheTrainedSequence() throws {
        for json in [#"{"prompt": [{"role": "system", "content": "s"}, {"role": "user", "content": "q"}], "completion": [{"role": "assistant", "content": "a"}]}"#,
                     #"{"prompt": "q", "completion": "a"}"#] {
            let rec = try parse(.promptCompletion, json)
            guard case let .supervised(prompt, _) = rec else { Issue.record("not supervised"); continue }
            let whole = try PreparedExample(rec, template: template).sequences[0]
            let head = try template.prompt(prompt)
            #expect(Array(whole.tokens.prefix(head.count)) == head.tokens)
            #expect(!whole.mask.prefix(head.count).contains(true))
            #expect(whole.mask[head.count])
        }
    }

    @Test func preferenceExplicitAndImplicitPrompt() throws {
        let e = try example(.preference, #"{"prompt": "Sort: 3 1 2", "chosen": "1 2 3", "rejected": "2 1 3"}"#)
        #expect(e.kind == .preference)
        #expect(tok.decode(e.sequences[0].tokens) == "<|bos|>Sort: 3 1 2" && e.sequences[0].lossTokens == 0)
        #expect(tok.decode(e.sequences[1].tokens) == "1 2 3<|eos|>" && e.sequences[1].lossTokens == e.sequences[1].count)
        #expect(tok.decode(e.sequences[2].tokens) == "2 1 3<|eos|>")
        // Implicit prompt (TRL extract_prompt): the shared start; the space stays with the completions.
        let i = try parse(.preference, #"{"chosen": "The sky is blue.", "rejected": "The sky is green."}"#)
        #expect(i == .preference(prompt: .text("The sky is"), chosen: .text(" blue."), rejected: .text(" green.")))
        let conv = try parse(.preference, #"{"chosen": [{"role": "user", "content": "Color?"}, {"role": "assistant", "content": "Blue"}], "rejected": [{"role": "user", "content": "Color?"}, {"role": "assistant", "content": "Green"}]}"#)
        #expect(conv == .preference(prompt: .messages([ChatMessage(.user, "Color?")]),
                                   chosen: .messages([ChatMessage(.assistant, "Blue")]),
                                   rejected: .messages([ChatMessage(.assistant, "Green")])))
        let ce = try PreparedExample(conv, template: template)
        #expect(tok.decode(ce.sequences[0].tokens) == "<|bos|><|im_start|>user\nColor?<|im_end|>\n<|im_start|>assistant\n")
        #expect(tok.decode(ce.sequences[1].tokens) == "Blue<|im_end|>\n<|eos|>")
        #expect(ce.sequences[1].lossTokens == ce.sequences[1].count)
        // A text prompt with conversational answers: the prompt becomes a user turn.
        let m = try parse(.preference, #"{"prompt": "Color?", "chosen": [{"role": "assistant", "content": "Blue"}], "rejected": "Green"}"#)
        #expect(m == conv)
    }

    @Test func promptOnlyKeepsTheAnswer() throws {
        let e = try example(.promptOnly, #"{"prompt": "What is 2 + 2?", "answer": "4"}"#)
        #expect(e.kind == .prompt && e.answer == "4")
        #expect(tok.decode(e.sequences[0].tokens) == "<|bos|>What is 2 + 2?")
        let c = try example(.promptOnly, #"{"prompt": [{"role": "user", "content": "2+2?"}]}"#)
        #expect(c.answer == nil)
        #expect(tok.decode(c.sequences[0].tokens) == "<|bos|><|im_start|>user\n2+2?<|im_end|>\n<|im_start|>assistant\n")
    }

    @Test func detection() throws {
        func d(_ s: String) throws -> RecordFormat? { RecordFormat.detect(try JSONValue.parse(s)) }
        #expect(try d(#"{"instruction": "a", "input": "", "output": "b"}"#) == .alpaca)
        #expect(try d(#"{"conversations": []}"#) == .sharegpt)
        #expect(try d(#"{"messages": []}"#) == .messages)
        #expect(try d(#"{"prompt": "a", "completion": "b"}"#) == .promptCompletion)
        #expect(try d(#"{"prompt": "a", "chosen": "b", "rejected": "c"}"#) == .preference)
        #expect(try d(#"{"chosen": "b", "rejected": "c"}"#) == .preference)
        #expect(try d(#"{"prompt": "a", "answer": "b"}"#) == .promptOnly)
        #expect(try d(#"{"body": "a"}"#) == nil)
    }

    @Test func recordProblemsNameTheField() throws {
        func problem(_ f: RecordFormat, _ json: String) -> String? {
            do { _ = try parse(f, json); return nil } catch let e as RecordFormat.Problem { return e.message } catch { return "\(error)" }
        }
        #expect(problem(.alpaca, #"{"instruction": "a"}"#)?.contains(#"field "output" is missing"#) == true)
        #expect(problem(.alpaca, #"{"instruction": 3, "output": "b"}"#)?.contains(#""instruction" is a number"#) == true)
        #expect(problem(.sharegpt, #"{"conversations": [{"from": "human", "value": "a"}, {"from": "robot", "value": "b"}]}"#)?
            .contains("conversations[1].from is \"robot\"") == true)
        #expect(problem(.messages, #"{"messages": [{"role": "user", "content": "a"}]}"#)?.contains("no assistant turn") == true)
        #expect(problem(.messages, #"{"messages": [{"role": "user"}]}"#)?.contains(#"messages[0]: field "content" is missing"#) == true)
        #expect(problem(.messages, #"{"messages": []}"#)?.contains("empty list") == true)
        #expect(problem(.preference, #"{"chosen": "same", "rejected": "same"}"#)?.contains("same text") == true)
        #expect(problem(.preference, #"{"chosen": "a", "rejected": [{"role": "assistant", "content": "b"}]}"#)?.contains("both be strings") == true)
        #expect(problem(.promptOnly, #"{"prompt": {"a": 1}}"#)?.contains("an object, expected a string or a list of messages") == true)
    }
}
