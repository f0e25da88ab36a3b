import Foundation
import Hummingbird
import HummingbirdTesting
import NIOCore
import Testing
import SimplyCore
import SimplyData
import SimplyModel
import SimplyServe

/// A server over `serveModel()` and the byte tokenizer, named "test-model".
func testServer(slots: Int = 8) -> Server {
    let m = serveModel()
    let engine = BatchEngine(model: m, maxSequences: slots, parallel: Parallel(threads: 2), decode: byteDecode)
    let served = ServedModel(name: "test-model", seqLen: m.config.seqLen, tokenizer: ByteTokenizer(),
                             stateSHA256: String(repeating: "ab", count: 32), maxSequences: slots)
    return Server(engine: engine, served: served)
}

/// POSTs `body` and returns the status and the parsed JSON (or the raw text of a stream).
func post(_ client: some TestClientProtocol, _ uri: String, _ body: String) async throws -> (HTTPResponse.Status, String) {
    try await client.execute(uri: uri, method: .post, headers: [.contentType: "application/json"],
                             body: ByteBuffer(string: body)) { ($0.status, String(buffer: $0.body)) }
}

func json(_ s: String) throws -> JSONValue { try JSONValue.parse(s) }

/// The `data:` payloads of a server-sent event stream.
func events(_ stream: String) -> [String] {
    stream.components(separatedBy: "\n\n").compactMap { e in e.hasPrefix("data: ") ? String(e.dropFirst(6)) : nil }
}

@Suite struct ServerTests {
    @Test func modelsHealthAndThePage() async throws {
        let server = testServer()
        defer { server.engine.shutdown() }
        try await Application(router: server.router()).test(.router) { client in
            try await client.execute(uri: "/v1/models", method: .get) { r in
                #expect(r.status == .ok)
                let body = try json(String(buffer: r.body))
                #expect(body["object"]?.stringValue == "list")
                if case let .array(models)? = body["data"] { #expect(models.first?["id"]?.stringValue == "test-model") }
                else { Issue.record("no data list") }
            }
            try await client.execute(uri: "/v1/models/other", method: .get) { r in #expect(r.status == .notFound) }
            try await client.execute(uri: "/health", method: .get) { r in
                let body = try json(String(buffer: r.body))
                #expect(r.status == .ok && body["status"]?.stringValue == "ok" && body["running"]?.intValue == 0)
                #expect(body["system_fingerprint"]?.stringValue == "simply-" + String(repeating: "ab", count: 32))
            }
            try await client.execute(uri: "/", method: .get) { r in
                #expect(r.headers[.contentType]?.hasPrefix("text/html") == true)
                #expect(String(buffer: r.body).contains("/v1/chat/completions"))
            }
        }
    }

    /// A chat completion answers with the chat template's prompt, the usage,
    /// the seed and the fingerprint; the same request streamed sends deltas
    /// that add up to the same text, then the finish, the usage and [DONE].
    @Test func chatWholeAndStreamedAgree() async throws {
        let server = testServer()
        defer { server.engine.shutdown() }
        let messages = #"[{"role":"system","content":"Be brief."},{"role":"user","content":[{"type":"text","text":"Hi there"}]}]"#
        try await Application(router: server.router()).test(.router) { client in
            let request = #"{"model":"test-model","messages":\#(messages),"max_tokens":20,"seed":7,"n":2,"logprobs":true,"top_logprobs":2"#
            let (status, text) = try await post(client, "/v1/chat/completions", request + "}")
            #expect(status == .ok)
            let whole = try json(text)
            #expect(whole["object"]?.stringValue == "chat.completion" && whole["seed"]?.intValue == 7)
            let prompt = try ChatTemplate(tokenizer: ByteTokenizer())
                .prompt(.messages([ChatMessage(.system, "Be brief."), ChatMessage(.user, "Hi there")])).tokens
            #expect(whole["usage"]?["prompt_tokens"]?.intValue == prompt.count)
            guard case let .array(choices)? = whole["choices"], choices.count == 2 else { Issue.record("two choices"); return }
            var completionTokens = 0
            for c in choices {
                guard case let .array(content)? = c["logprobs"]?["content"] else { Issue.record("logprobs.content"); return }
                completionTokens += content.count
                if case let .array(top)? = content.first?["top_logprobs"] { #expect(top.count == 2) }
            }
            #expect(whole["usage"]?["completion_tokens"]?.intValue == completionTokens)

            let (sStatus, stream) = try await post(client, "/v1/chat/completions",
                                                   request + #","stream":true,"stream_options":{"include_usage":true}}"#)
            #expect(sStatus == .ok)
            let data = events(stream)
            #expect(data.last == "[DONE]")
            var texts = ["", ""], finish: [String?] = [nil, nil]
            for d in data.dropLast() {
                let chunk = try json(d)
                guard case let .array(cs)? = chunk["choices"] else { continue }
                for c in cs {
                    let i = c["index"]?.intValue ?? -1
                    texts[i] += c["delta"]?["content"]?.stringValue ?? ""
                    if let f = c["finish_reason"]?.stringValue { finish[i] = f }
                }
            }
            for (i, c) in choices.enumerated() {
                #expect(texts[i] == c["message"]?["content"]?.stringValue, "choice \(i)")
                #expect(finish[i] == c["finish_reason"]?.stringValue)
            }
            let usage = try json(data[data.count - 2])["usage"]
            #expect(usage == whole["usage"])
        }
    }

    /// A stop string ends the completion and is cut from its text, streamed
    /// or not; the streamed text never shows a piece of it.
    @Test func stopStrings() async throws {
        let server = testServer()
        defer { server.engine.shutdown() }
        try await Application(router: server.router()).test(.router) { client in
            // Find a two-character stretch of a free completion, then stop at it.
            let free = try json(try await post(client, "/v1/completions",
                                               #"{"model":"test-model","prompt":"abc","max_tokens":30,"seed":5,"ignore_eos":true}"#).1)
            let text = free["choices"]?[0]?["text"]?.stringValue ?? ""
            let scalars = Array(text.unicodeScalars)
            guard scalars.count >= 6 else { Issue.record("short completion \(text.debugDescription)"); return }
            var stop = String.UnicodeScalarView(); stop.append(contentsOf: scalars[4..<6])
            let stopString = String(stop)
            let expected = String(text[..<text.firstRange(of: stopString)!.lowerBound])
            let request = #"{"model":"test-model","prompt":"abc","max_tokens":30,"seed":5,"ignore_eos":true,"stop":["zzzz",\#(JSONValue.string(stopString).serialized())]"#
            let cut = try json(try await post(client, "/v1/completions", request + "}").1)
            #expect(cut["choices"]?[0]?["text"]?.stringValue == expected)
            #expect(cut["choices"]?[0]?["finish_reason"]?.stringValue == "stop")
            let stream = try await post(client, "/v1/completions", request + #","stream":true}"#).1
            var streamed = ""
            for d in events(stream).dropLast() { streamed += try json(d)["choices"]?[0]?["text"]?.stringValue ?? "" }
            #expect(streamed == expected)
        }
    }

    /// Bad requests: a 4xx with OpenAI's error object naming the field.
    @Test(arguments: [
        (#"{"model":"nope","messages":[{"role":"user","content":"hi"}]}"#, 404, "model"),
        (#"{"model":"test-model","messages":[{"role":"user","content":"hi"}]"#, 400, nil),
        (#"{"model":"test-model","messages":[{"role":"user","content":"hi"}],"max_tokens":1000}"#, 400, "max_tokens"),
        (#"{"model":"test-model","messages":[{"role":"user","content":"\#(String(repeating: "x", count: 150))"}]}"#, 400, "messages"),
        (#"{"model":"test-model","messages":[{"role":"user","content":"hi"}],"temperature":-0.5}"#, 400, "temperature"),
        (#"{"model":"test-model","messages":[{"role":"user","content":"hi"}],"top_p":0}"#, 400, "top_p"),
        (#"{"model":"test-model","messages":[{"role":"user","content":"hi"}],"n":9}"#, 400, "n"),
        (#"{"model":"test-model","messages":[{"role":"tool","content":"hi"}]}"#, 400, "messages[0].role"),
        (#"{"model":"test-model","messages":[]}"#, 400, "messages"),
        (#"{"model":"test-model"}"#, 400, "messages"),
        (#"{"messages":[{"role":"user","content":"hi"}]}"#, 400, "model"),
        (#"{"model":"test-model","messages":[{"role":"user","content":"hi"}],"stop":["a","b","c","d","e"]}"#, 400, "stop"),
        (#"{"model":"test-model","messages":[{"role":"user","content":"hi"}],"max_tokens":"ten"}"#, 400, "max_tokens"),
        (#"{"model":"test-model","messages":[{"role":"user","content":"hi"}],"top_logprobs":3}"#, 400, "top_logprobs"),
        (#"{"model":"test-model","messages":[{"role":"user","content":"hi"}],"tools":[{"type":"function"}]}"#, 400, "tools"),
        (#"[1, 2]"#, 400, nil),
    ] as [(String, Int, String?)])
    func badChatRequests(body: String, status: Int, param: String?) async throws {
        let server = testServer()
        defer { server.engine.shutdown() }
        try await Application(router: server.router()).test(.router) { client in
            let (s, text) = try await post(client, "/v1/chat/completions", body)
            #expect(s.code == status)
            let error = try json(text)["error"]
            #expect(error?["param"] == (param.map(JSONValue.string) ?? .null))
            #expect(error?["message"]?.stringValue?.isEmpty == false && error?["type"]?.stringValue != nil)
        }
    }

    @Test func badCompletionRequests() async throws {
        let server = testServer()
        defer { server.engine.shutdown() }
        try await Application(router: server.router()).test(.router) { client in
            for (body, param) in [(#"{"model":"test-model","prompt":[1, 999]}"#, "prompt[1]"),
                                  (#"{"model":"test-model","prompt":["a", "b"]}"#, "prompt"),
                                  (#"{"model":"test-model","prompt":"hi","logprobs":21}"#, "logprobs"),
                                  (#"{"model":"test-model","prompt":"hi","echo":true}"#, "echo")] {
                let (s, text) = try await post(client, "/v1/completions", body)
                #expect(s == .badRequest, "\(body)")
                #expect(try json(text)["error"]?["param"]?.stringValue == param)
            }
            // Token ids work as a prompt, and the default is 16 tokens.
            let ok = try json(try await post(client, "/v1/completions", #"{"model":"test-model","prompt":[1, 2, 3],"ignore_eos":true}"#).1)
            #expect(ok["usage"]?["prompt_tokens"]?.intValue == 3 && ok["usage"]?["completion_tokens"]?.intValue == 16)
        }
    }
}

@Suite struct CompletionTextTests {
    /// A stream holds back what may still be cut: the start of a stop string or
    /// of a marker spelled in several tokens, and an unfinished character.
    @Test func holdsBackWhatMayBeCut() {
        let t = ByteTokenizer()
        var c = CompletionText(tokenizer: t, stopTokens: [t.encode("<|im_end|>")], stopTexts: ["END"],
                               stopMarkers: ["<|im_end|>"])
        var sent = ""
        for b in t.encode("ab E") { c.append(b); sent += c.releasable() }
        #expect(sent == "ab ")   // "E" may start "END"
        for b in t.encode("Xé") { c.append(b); sent += c.releasable() }
        #expect(sent == "ab EXé")
        for b in t.encode("<|im_") { c.append(b); sent += c.releasable() }
        #expect(sent == "ab EXé")
        for b in t.encode("end|>") { c.append(b) }
        sent += c.finish()
        #expect(sent == "ab EXé" && c.text() == "ab EXé")
        // An unfinished UTF-8 character waits for its last byte.
        var d = CompletionText(tokenizer: t, stopTokens: [], stopTexts: [], stopMarkers: [])
        let euro = t.encode("€")
        d.append(euro[0]); d.append(euro[1])
        #expect(d.releasable() == "")
        d.append(euro[2])
        #expect(d.releasable() == "€")
        // The earliest stop string cuts, even one that ends later.
        var e = CompletionText(tokenizer: t, stopTokens: [], stopTexts: ["cd", "bcde"], stopMarkers: [])
        for b in t.encode("abcdef") { e.append(b) }
        #expect(e.text() == "a")
    }
}

extension JSONValue {
    subscript(index: Int) -> JSONValue? {
        if case let .array(items) = self, items.indices.contains(index) { return items[index] }
        return nil
    }
}
