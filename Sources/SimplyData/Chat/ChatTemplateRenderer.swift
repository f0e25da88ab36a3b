import Foundation
import SimplyCore

/// A model's own chat template, rendered to text exactly as transformers'
/// `tokenizer.apply_chat_template(messages, tokenize=False, ...)` does:
/// the template sees `messages`, `tools` and `documents` (None unless
/// given), `add_generation_prompt`, the tokenizer's special tokens
/// (`bos_token`, `eos_token`, … as strings, only those that are set) and any
/// extra keyword arguments (`enable_thinking`, `date_string`, …), which
/// override the special tokens. As in transformers 5, a message carrying
/// reasoning under `reasoning_content`, `thinking` or `reasoning` gets it
/// under both `thinking` (first) and `reasoning_content` (last).
///
///     let chat = try ChatTemplateRenderer(modelDirectory: dir)
///     let hi = JSONValue.object([("role", .string("user")), ("content", .string("Hi"))])
///     let text = try chat.render(messages: [hi], addGenerationPrompt: true)
///
/// Rendering never reads the clock: templates that fall back to
/// `strftime_now` (Llama 3.x) get their fixed default date unless the caller
/// passes `date_string` or sets `clock`.
public struct ChatTemplateRenderer: Sendable {
    public let template: JinjaTemplate
    /// Special token name → text, e.g. "bos_token" → "<|begin_of_text|>".
    public var specialTokens: [String: String]
    /// The instant `strftime_now` formats; nil (the default) leaves it
    /// undefined, as if the template ran without a clock.
    public var clock: JinjaClock? = nil

    public init(template: JinjaTemplate, specialTokens: [String: String] = [:]) {
        self.template = template
        self.specialTokens = specialTokens
    }

    public init(source: String, name: String? = nil, bosToken: String? = nil, eosToken: String? = nil,
                limits: JinjaLimits = JinjaLimits()) throws {
        var tokens: [String: String] = [:]
        if let bosToken { tokens["bos_token"] = bosToken }
        if let eosToken { tokens["eos_token"] = eosToken }
        self.init(template: try JinjaTemplate(source: source, name: name, limits: limits), specialTokens: tokens)
    }

    /// The template of a Hugging Face model directory: `chat_template.jinja`
    /// if present, else `chat_template` in `tokenizer_config.json` (a string,
    /// or a list of named templates, of which "default" is used); the
    /// special tokens come from `tokenizer_config.json`.
    public init(modelDirectory dir: URL, limits: JinjaLimits = JinjaLimits()) throws {
        let configURL = dir.appendingPathComponent("tokenizer_config.json")
        var config: JSONValue = .object([])
        if FileManager.default.fileExists(atPath: configURL.path) {
            let bytes: [UInt8]
            do { bytes = try FileBytes.read(configURL, limit: JinjaTemplate.maxFileBytes) } catch { throw DataError(configURL, error.reason) }
            guard let text = String(validating: bytes, as: UTF8.self) else { throw DataError(configURL, "not valid UTF-8") }
            do { config = try JSONValue.parse(text) } catch { throw DataError(configURL, "not valid JSON: \(error)") }
        }
        var tokens: [String: String] = [:]
        for key in ["bos_token", "eos_token", "unk_token", "sep_token", "pad_token", "cls_token", "mask_token"] {
            switch config[key] {
            case let .string(s)?: tokens[key] = s
            case let .object(pairs)?:   // older configs: {"content": "<s>", ...}
                if case let .string(s)? = pairs.last(where: { $0.0 == "content" })?.1 { tokens[key] = s }
            default: break
            }
        }
        let jinjaURL = dir.appendingPathComponent("chat_template.jinja")
        let template: JinjaTemplate
        if FileManager.default.fileExists(atPath: jinjaURL.path) {
            template = try JinjaTemplate(contentsOf: jinjaURL, limits: limits)
        } else {
            switch config["chat_template"] {
            case let .string(s)?:
                template = try JinjaTemplate(source: s, name: configURL.path + " chat_template", limits: limits)
            case let .array(named)?:
                guard let entry = named.first(where: { $0["name"]?.stringValue == "default" }), let s = entry["template"]?.stringValue else {
                    throw DataError(configURL, "chat_template is a list without a \"default\" template")
                }
                template = try JinjaTemplate(source: s, name: configURL.path + " chat_template", limits: limits)
            default:
                throw DataError(file: dir.path, "no chat_template.jinja and no chat_template in tokenizer_config.json")
            }
        }
        self.init(template: template, specialTokens: tokens)
    }

    /// Renders a conversation given as JSON objects (`role`, `content` and
    /// any other fields, e.g. `tool_calls`, `reasoning_content`).
    public func render(messages: [JSONValue], addGenerationPrompt: Bool = false, tools: [JSONValue]? = nil,
                       documents: [JSONValue]? = nil, kwargs: [String: JSONValue] = [:]) throws -> String {
        let converted = try messages.enumerated().map { i, m -> JinjaValue in
            guard case .object = m else { throw DataError("chat message \(i) is not a JSON object") }
            return try JinjaValue(json: m)
        }
        var extra: [String: JinjaValue] = [:]
        for (k, v) in kwargs { extra[k] = try JinjaValue(json: v) }
        return try render(messages: converted, addGenerationPrompt: addGenerationPrompt,
                          tools: try tools.map { try $0.map { try JinjaValue(json: $0) } },
                          documents: try documents.map { try $0.map { try JinjaValue(json: $0) } }, kwargs: extra)
    }

    /// Renders a conversation of Jinja values (each message a dict).
    public func render(messages: [JinjaValue], addGenerationPrompt: Bool = false, tools: [JinjaValue]? = nil,
                       documents: [JinjaValue]? = nil, kwargs: [String: JinjaValue] = [:]) throws -> String {
        var context: [String: JinjaValue] = [:]
        for (k, v) in specialTokens { context[k] = .string(v) }
        for (k, v) in kwargs { context[k] = v }
        context["messages"] = .list(messages.map(ChatTemplateRenderer.aliasReasoning))
        context["tools"] = tools.map { .list($0) } ?? JinjaValue.none
        context["documents"] = documents.map { .list($0) } ?? JinjaValue.none
        context["add_generation_prompt"] = .bool(addGenerationPrompt)
        return try template.render(context, clock: clock)
    }

    /// transformers 5's `_alias_reasoning_fields`, i.e. Python's
    /// `{"thinking": r, **message, "reasoning_content": r}` where r is the
    /// first non-None of reasoning_content, thinking, reasoning.
    static func aliasReasoning(_ message: JinjaValue) -> JinjaValue {
        guard case let .dict(d) = message else { return message }
        let found = ["reasoning_content", "thinking", "reasoning"].lazy.compactMap { key -> JinjaValue? in
            guard let v = d[key] else { return nil }
            if case .none = v { return nil }
            return v
        }.first
        guard let reasoning = found else { return message }
        var out = JinjaDict([("thinking", reasoning)])
        for (k, v) in d.pairs { out[k] = v }   // a message's own `thinking` wins, in first place
        out["reasoning_content"] = reasoning
        return .dict(out)
    }
}
