import Foundation
import Testing
import SimplyCore
import SimplyData

@Suite struct ExampleShardTests {
    let tok = ByteTokenizer()

    func prepare(_ name: String, _ text: String, _ format: InputFormat = .auto, skip: Bool = false, in dir: TempDir)
        throws -> (PrepareReport, URL) {
        let f = try dir.write(name, text)
        let out = dir.file(name + ".ex")
        return (try DataPrepare.prepare(inputs: [f], format: format, textField: "text", tokenizer: tok, output: out,
                                        skipInvalid: skip), out)
    }

    func failure(_ body: () throws -> Void) -> String? {
        do { try body(); return nil } catch let e as DataError { return e.description } catch { return "unexpected: \(error)" }
    }

    static let alpaca = """
        {"instruction": "What is 1 + 1?", "input": "", "output": "2"}
        {"instruction": "Reverse it.", "input": "abc", "output": "cba"}
        """

    @Test func roundTripEveryKind() throws {
        let dir = try TempDir()
        let (r, out) = try prepare("a.jsonl", Self.alpaca, in: dir)
        #expect(r.kind == .supervised && r.documents == 2)
        let shard = try ExampleShard.read(out)
        #expect(shard.kind == .supervised && shard.examples.count == 2 && shard.tokenizerName == "byte" && shard.vocabSize == 259)
        let t = ChatTemplate(tokenizer: tok)
        let expected = try Self.alpaca.split(separator: "\n").map {
            try PreparedExample(try RecordFormat.alpaca.parse(try JSONValue.parse(String($0))), template: t)
        }
        #expect(shard.examples == expected)
        #expect(r.tokens == expected.reduce(0) { $0 + $1.tokenCount })
        #expect(r.lossTokens == expected.reduce(0) { $0 + $1.sequences[0].lossTokens })

        let (pr, pout) = try prepare("p.jsonl", #"{"prompt": "q", "chosen": "yes", "rejected": "no"}"# + "\n", in: dir)
        let p = try ExampleShard.read(pout)
        #expect(pr.kind == .preference && p.kind == .preference && p.examples[0].sequences.count == 3)
        #expect(tok.decode(p.examples[0].sequences[2].tokens) == "no<|eos|>")

        let (_, qout) = try prepare("q.jsonl", #"{"prompt": "q1", "answer": "42"}"# + "\n" + #"{"prompt": "q2"}"#, in: dir)
        let q = try ExampleShard.read(qout)
        #expect(q.kind == .prompt && q.examples.map(\.answer) == ["42", nil])
        // Same input, same bytes.
        let again = dir.file("again.ex")
        _ = try DataPrepare.prepare(inputs: [dir.file("a.jsonl")], format: .alpaca, textField: "text", tokenizer: tok, output: again)
        #expect(try Data(contentsOf: again) == Data(contentsOf: out))
    }

    @Test func corruptionIsNamed() throws {
        let dir = try TempDir()
        let (_, out) = try prepare("a.jsonl", Self.alpaca, in: dir)
        var bytes = [UInt8](try Data(contentsOf: out))
        bytes[200] ^= 1
        let bad = try dir.write("bad.ex", bytes)
        #expect(failure { _ = try ExampleShard.read(bad) }?.contains("\(bad.path): sha256") == true)
        let cut = try dir.write("cut.ex", Array(bytes.prefix(100)))
        #expect(failure { _ = try ExampleShard.read(cut) }?.contains("truncated") == true)
        var magic = [UInt8](try Data(contentsOf: out))
        magic[0] = UInt8(ascii: "X")
        let m = try dir.write("magic.ex", magic)
        #expect(failure { _ = try ExampleShard.read(m) }?.contains("magic") == true)
    }

    @Test func badRecordsStopOrAreSkippedAndCounted() throws {
        let dir = try TempDir()
        let text = Self.alpaca + "\n" + #"{"instruction": "no output"}"# + "\n{not json\n" + #"{"instruction": "ok", "output": "fine"}"#
        // Without the flag: an error naming file and line; nothing written.
        let msg = failure { _ = try prepare("bad.jsonl", text, in: dir) }
        #expect(msg?.contains("bad.jsonl:3: alpaca: field \"output\" is missing") == true, "\(msg ?? "")")
        #expect(!FileManager.default.fileExists(atPath: dir.file("bad.jsonl.ex").path))
        // With it: two skipped, counted, reasons kept; the rest written.
        let (r, out) = try prepare("bad2.jsonl", text, skip: true, in: dir)
        #expect(r.documents == 3 && r.skipped == 2)
        #expect(r.skippedReasons.count == 2 && r.skippedReasons[0].contains(":3:") && r.skippedReasons[1].contains(":4: malformed JSON"))
        #expect(try ExampleShard.read(out).examples.count == 3)
        // Invalid UTF-8 in a line is skippable too, and named by line without the flag.
        let f = try dir.write("u.jsonl", Array((Self.alpaca + "\n").utf8) + Array(#"{"instruction": "x"#.utf8) + [0xFF] + Array(#"", "output": "y"}"#.utf8))
        let um = failure { _ = try DataPrepare.prepare(inputs: [f], format: .auto, textField: "text", tokenizer: tok, output: dir.file("u.ex")) }
        #expect(um?.contains("u.jsonl:3: invalid UTF-8") == true, "\(um ?? "")")
        let ur = try DataPrepare.prepare(inputs: [f], format: .auto, textField: "text", tokenizer: tok, output: dir.file("u.ex"), skipInvalid: true)
        #expect(ur.documents == 2 && ur.skipped == 1)
        // An empty file: an error, or with the flag a counted skip.
        let empty = try dir.write("empty.jsonl", "")
        let a = dir.file("a2.jsonl")
        try Data(Self.alpaca.utf8).write(to: a)
        #expect(failure { _ = try DataPrepare.prepare(inputs: [a, empty], format: .auto, textField: "text", tokenizer: tok, output: dir.file("e.ex")) }
            == "\(empty.path): file is empty")
        let er = try DataPrepare.prepare(inputs: [a, empty], format: .auto, textField: "text", tokenizer: tok, output: dir.file("e.ex"), skipInvalid: true)
        #expect(er.documents == 2 && er.skipped == 1 && er.skippedReasons == ["\(empty.path): file is empty"])
        // Everything invalid is still an error with the flag.
        let all = failure { _ = try prepare("all.jsonl", "{bad\n[1]\n", skip: true, in: dir) }
        #expect(all?.contains("all.jsonl: no documents in file") == true, "\(all ?? "")")
    }

    @Test func formatsDoNotMix() throws {
        let dir = try TempDir()
        let a = try dir.write("a.jsonl", Self.alpaca)
        let p = try dir.write("p.jsonl", #"{"prompt": "q", "chosen": "yes", "rejected": "no"}"#)
        let t = try dir.write("t.jsonl", #"{"text": "plain"}"#)
        let m1 = failure { _ = try DataPrepare.prepare(inputs: [a, p], format: .auto, textField: "text", tokenizer: tok, output: dir.file("x")) }
        #expect(m1?.contains("\(p.path): holds preference examples but \(a.path) holds supervised examples") == true, "\(m1 ?? "")")
        let m2 = failure { _ = try DataPrepare.prepare(inputs: [t, a], format: .auto, textField: "text", tokenizer: tok, output: dir.file("x")) }
        #expect(m2?.contains("holds supervised examples but \(t.path) holds pretraining text") == true, "\(m2 ?? "")")
        // Supervised formats mix: alpaca + messages in one file set.
        let m = try dir.write("m.jsonl", #"{"messages": [{"role": "user", "content": "u"}, {"role": "assistant", "content": "v"}]}"#)
        let r = try DataPrepare.prepare(inputs: [a, m], format: .auto, textField: "text", tokenizer: tok, output: dir.file("am.ex"))
        #expect(r.kind == .supervised && r.documents == 3)
        // An explicit format that does not fit names the field.
        let wrong = failure { _ = try DataPrepare.prepare(inputs: [a], format: .preference, textField: "text", tokenizer: tok, output: dir.file("x")) }
        #expect(wrong?.contains("a.jsonl:1: preference: field \"chosen\" is missing") == true, "\(wrong ?? "")")
    }

    @Test func inspectShowsTheMasks() throws {
        let dir = try TempDir()
        let (_, out) = try prepare("a.jsonl", Self.alpaca, in: dir)
        let lines = try DataInspect.describe(out, tokenizer: tok, start: 1, count: 1)
        #expect(lines[0].contains("supervised examples: 2"))
        // "cba", "<|im_end|>" as 10 bytes, "\\n" and eos
        #expect(lines.contains("example 1: \(try ExampleShard.read(out).examples[1].tokenCount) tokens, 15 in the loss"))
        #expect(lines.contains("         │ <|bos|><|im_start|>user\\nReverse it.\\n\\nabc<|im_end|>\\n<|im_start|>assistant\\n"))
        #expect(lines.contains("    loss │ cba<|im_end|>\\n<|eos|>"))
        #expect(!lines.contains { $0.contains("What is 1 + 1") })   // example 0 not shown

        let (_, pout) = try prepare("p.jsonl", #"{"prompt": "Sort: 2 1", "chosen": "1 2", "rejected": "2 1"}"#, in: dir)
        let p = try DataInspect.describe(pout, tokenizer: tok)
        #expect(p.contains("  prompt (10 tokens, 0 in the loss):") && p.contains("         │ <|bos|>Sort: 2 1"))
        #expect(p.contains("  chosen (4 tokens, 4 in the loss):") && p.contains("    loss │ 1 2<|eos|>"))
        #expect(p.contains("  rejected (4 tokens, 4 in the loss):") && p.contains("    loss │ 2 1<|eos|>"))
        // Another tokenizer than the file's: refused, naming the file.
        let m = failure { _ = try DataInspect.describe(pout, tokenizer: ChatByteTokenizer()) }
        #expect(m?.contains("\(pout.path): tokenizer_name: prepared with 'byte'") == true)
        // A pretraining token shard shows documents.
        let (_, tout) = try prepare("t.txt", "one\n%\ntwo\n", in: dir)
        let t = try DataInspect.describe(tout, tokenizer: tok, count: 5)
        #expect(t.contains("    loss │ one\\n<|eos|>") && t.contains("    loss │ two\\n<|eos|>"))
    }
}
