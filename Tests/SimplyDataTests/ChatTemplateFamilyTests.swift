import Foundation
import Testing
import SimplyCore
import SimplyData

/// golden/hf/families/NAME, found from this file's path (as `goldenURL` in PhiloxTests).
private func familyGolden(_ name: String) -> URL {
    URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("golden").appendingPathComponent("hf").appendingPathComponent("families")
        .appendingPathComponent(name)
}

/// One record of expected-chat.json (tools/interop/family_fixtures.py): a
/// conversation and what transformers' apply_chat_template(tokenize=False)
/// rendered, or the error the template raised.
private struct ChatCase {
    let messages: [JSONValue]
    let addGenerationPrompt: Bool
    let tools: [JSONValue]?
    let kwargs: [String: JSONValue]
    let text: String?
    let error: String?
}

private func chatCases(_ family: String) throws -> [ChatCase] {
    let url = familyGolden(family).appendingPathComponent("expected-chat.json")
    guard case let .array(items) = try JSONValue.parse(try String(contentsOf: url, encoding: .utf8)) else {
        throw DataError(url, "not an array")
    }
    return try items.map { item in
        guard case let .array(messages)? = item["messages"], let gen = item["add_generation_prompt"]?.boolValue else {
            throw DataError(url, "a case without messages or add_generation_prompt")
        }
        var tools: [JSONValue]? = nil
        var kwargs: [String: JSONValue] = [:]
        if case let .object(pairs)? = item["kwargs"] {
            for (k, v) in pairs {
                if k == "tools", case let .array(t) = v { tools = t } else { kwargs[k] = v }
            }
        }
        return ChatCase(messages: messages, addGenerationPrompt: gen, tools: tools, kwargs: kwargs,
                        text: item["text"]?.stringValue, error: item["error"]?.stringValue)
    }
}

@Suite struct ChatTemplateFamilyTests {
    /// Every conversation of every family renders to exactly the text
    /// transformers gave, from the model directory alone (template file and
    /// special tokens of tokenizer_config.json).
    @Test(arguments: ["llama3", "qwen2", "qwen3", "mistral", "smollm2"])
    func rendersAsTransformers(family: String) throws {
        let renderer = try ChatTemplateRenderer(modelDirectory: familyGolden(family))
        let cases = try chatCases(family)
        #expect(cases.count >= 9, "\(family): too few cases in expected-chat.json")
        var rendered = 0, refused = 0
        for (i, c) in cases.enumerated() {
            if let expected = c.text {
                let text = try renderer.render(messages: c.messages, addGenerationPrompt: c.addGenerationPrompt,
                                               tools: c.tools, kwargs: c.kwargs)
                #expect(text == expected, "\(family) case \(i)")
                rendered += 1
            } else {
                let message = try #require(c.error, "\(family) case \(i) has neither text nor error")
                let error = #expect(throws: DataError.self, "\(family) case \(i)") {
                    try renderer.render(messages: c.messages, addGenerationPrompt: c.addGenerationPrompt,
                                        tools: c.tools, kwargs: c.kwargs)
                }
                #expect(error?.description.contains(message) == true, "\(family) case \(i): \(String(describing: error))")
                refused += 1
            }
        }
        #expect(rendered + refused == cases.count)
        #expect(rendered > 0)
    }

    /// The templates are the published ones: the Llama 3.2 template puts the
    /// date it is given in the system header (and never reads the clock),
    /// Qwen3 closes an empty think block when thinking is off.
    @Test func familyTemplatesUseTheirOptions() throws {
        let llama = try ChatTemplateRenderer(modelDirectory: familyGolden("llama3"))
        let user: [JSONValue] = [.object([("role", .string("user")), ("content", .string("Hi"))])]
        let dated = try llama.render(messages: user, kwargs: ["date_string": .string("01 Jan 2030")])
        #expect(dated.contains("Today Date: 01 Jan 2030\n"))
        // Without date_string the template's own fallback, as when strftime_now is absent…
        #expect(try llama.render(messages: user).contains("Today Date: 26 Jul 2024\n"))
        // …or, given a fixed clock, strftime_now("%d %b %Y") of it.
        var clocked = llama
        clocked.clock = JinjaClock(year: 2026, month: 3, day: 7)
        #expect(try clocked.render(messages: user).contains("Today Date: 07 Mar 2026\n"))

        let qwen3 = try ChatTemplateRenderer(modelDirectory: familyGolden("qwen3"))
        let off = try qwen3.render(messages: user, addGenerationPrompt: true, kwargs: ["enable_thinking": .bool(false)])
        #expect(off.hasSuffix("<|im_start|>assistant\n<think>\n\n</think>\n\n"))
        let on = try qwen3.render(messages: user, addGenerationPrompt: true)
        #expect(on.hasSuffix("<|im_start|>assistant\n"))
    }

    /// The reasoning aliasing of transformers 5: `reasoning` becomes
    /// `reasoning_content` (which Qwen3's template reads) and `thinking`.
    @Test func reasoningFieldsAreAliased() throws {
        let r = try ChatTemplateRenderer(source: "{% for m in messages %}{{ m | tojson }}{% endfor %}")
        let m: JSONValue = .object([("role", .string("assistant")), ("content", .string("4")), ("reasoning", .string("add"))])
        let text = try r.render(messages: [m])
        #expect(text == #"{"thinking": "add", "role": "assistant", "content": "4", "reasoning": "add", "reasoning_content": "add"}"#)
    }
}
