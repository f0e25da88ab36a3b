import Foundation
import Testing
import SimplyCore
import SimplyData

/// `ChatTemplate` with a published model's tokenizer (golden/hf/families):
/// its own template's text, special tokens parsed, the loss on exactly the
/// assistant turns, prompts that prefix their examples, and stop tokens.
@Suite struct ModelChatTemplateTests {
    static let families = ["llama3", "qwen2", "qwen3", "mistral", "smollm2"]

    static func tokenizer(_ family: String) throws -> any Tokenizer {
        let dir = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("golden/hf/families").appendingPathComponent(family)
        return try TokenizerLoader.load(dir.path)
    }

    static let conversation = [ChatMessage(.system, "Answer with a number."), ChatMessage(.user, "What is 2 + 2?"),
                               ChatMessage(.assistant, "4"), ChatMessage(.user, "And 30 + 3?"), ChatMessage(.assistant, "33")]

    @Test(arguments: families) func rendersTheModelsTemplateWithAssistantOnlyLoss(family: String) throws {
        let tok = try Self.tokenizer(family)
        let renderer = try #require(tok.chatTemplate, "\(family) has no chat template")
        let template = ChatTemplate(tokenizer: tok)
        #expect(template.kind == "the model's own")
        let json = Self.conversation.map { JSONValue.object([("role", .string($0.role.rawValue)), ("content", .string($0.content))]) }
        let text = try renderer.render(messages: json)
        let r = try template.render(Self.conversation)
        #expect(r.tokens == tok.encodeRendered(text), "\(family): tokens are the rendered text's")
        #expect(!r.tokens.isEmpty && tok.decode(r.tokens) == text || family == "mistral", "\(family): decode")

        // The masked runs: one per assistant turn, each its content then the end-of-turn token.
        var runs: [[Int32]] = [], current: [Int32] = []
        for (t, m) in zip(r.tokens, r.mask) {
            if m { current.append(t) } else if !current.isEmpty { runs.append(current); current = [] }
        }
        if !current.isEmpty { runs.append(current) }
        #expect(runs.count == 2, "\(family): \(runs.count) masked runs")
        let stops = Set(template.stopSequences.compactMap { $0.count == 1 ? $0[0] : nil })
        for (run, answer) in zip(runs, ["4", "33"]) {
            let shown = tok.decode(run)
            #expect(shown.contains(answer) && !shown.contains("What is") && !shown.contains("Answer with"), "\(family): \(shown)")
            #expect(run.last.map(stops.contains) == true, "\(family): the run ends at an end-of-turn token: \(shown)")
        }
        // trainFrom: only the later turn.
        let later = try template.render(Self.conversation, trainFrom: 3)
        #expect(later.tokens == r.tokens && later.lossTokens == runs[1].count, "\(family)")
    }

    @Test(arguments: families) func promptsPrefixTheirExamples(family: String) throws {
        let tok = try Self.tokenizer(family)
        let template = ChatTemplate(tokenizer: tok)
        let prompt = TextOrMessages.messages(Array(Self.conversation.prefix(4)))
        let example = try PreparedExample(.supervised(prompt: prompt, completion: .messages([ChatMessage(.assistant, "33")])),
                                          template: template)
        let p = try template.prompt(prompt)
        let whole = example.sequences[0]
        #expect(whole.tokens.starts(with: p.tokens), "\(family)")
        #expect(!whole.mask.prefix(p.count).contains(true) && whole.mask.dropFirst(p.count).contains(true), "\(family)")
        // A sampled completion up to its stop token, plus what the template writes after a final turn, is the example's end.
        let completion = Array(whole.tokens[p.count...])
        let end = template.afterFinalTurn
        #expect(completion.count > end.count && Array(completion.suffix(end.count)) == end, "\(family)")
        #expect(template.answerText(Array(completion.dropLast(end.count))) == "33", "\(family)")
    }

    @Test func reasoningIsNotTheAnswer() throws {
        let tok = try Self.tokenizer("qwen3")
        let template = ChatTemplate(tokenizer: tok)
        let ids = tok.encodeRendered("<think>\nadding\n</think>\n\n33<|im_end|>")
        #expect(template.answerText(ids) == "33")
        // Simply's ChatML keeps the text as it is.
        #expect(ChatTemplate(tokenizer: ByteTokenizer()).answerText(ByteTokenizer().encode("<think>x</think>33")) == "<think>x</think>33")
    }

    /// A template that raises (Mistral: roles must alternate) fails the
    /// record with the template's message, one line.
    @Test func aTemplateErrorIsADataError() throws {
        let template = ChatTemplate(tokenizer: try Self.tokenizer("mistral"))
        let bad = [ChatMessage(.user, "a"), ChatMessage(.user, "b")]
        #expect { try template.render(bad) } throws: { e in
            let text = "\(e)"
            return e is DataError && text.contains("chat template") && !text.contains("\n")
        }
    }
}
