import Foundation
import Testing
import SimplyData

@Suite struct DataPrepareTests {
    let tok = ByteTokenizer()

    func prepare(_ inputs: [URL], _ format: InputFormat = .auto, field: String = "text", in dir: TempDir)
        throws -> (PrepareReport, TokenShard) {
        let out = dir.file("out.tokens")
        let r = try DataPrepare.prepare(inputs: inputs, format: format, textField: field, tokenizer: tok, output: out)
        return (r, try TokenShard.read(out))
    }

    /// The error text of a failing prepare, or nil if it succeeded.
    func failure(_ inputs: [URL], _ format: InputFormat = .auto, field: String = "text", in dir: TempDir) -> String? {
        do {
            _ = try DataPrepare.prepare(inputs: inputs, format: format, textField: field, tokenizer: tok,
                                        output: dir.file("out.tokens"))
            return nil
        } catch let e as DataError {
            return e.description
        } catch {
            return "unexpected error type: \(error)"
        }
    }

    @Test func plainTextFilesInOrder() throws {
        let dir = try TempDir()
        let a = try dir.write("a.txt", "Hello é\nworld\n")
        let b = try dir.write("b.md", "second % file")
        let (r, s) = try prepare([b, a], in: dir)
        #expect(r == PrepareReport(documents: 2, tokens: 13 + 1 + 15 + 1, files: 2))
        #expect(s.tokens == tok.encode("second % file") + [257] + tok.encode("Hello é\nworld\n") + [257])
        #expect(s.documentCount == 2 && s.tokenizerName == "byte" && s.vocabSize == 259)
        #expect(tok.decode(s.tokens) == "second % file<|eos|>Hello é\nworld\n<|eos|>")
    }

    @Test func anOutputThatIsAnInputIsRefusedAndTheInputKept() throws {
        let dir = try TempDir()
        let a = try dir.write("a.jsonl", "{\"text\": \"hello\"}\n")
        let before = try Data(contentsOf: a)
        var message = ""
        do { _ = try DataPrepare.prepare(inputs: [a], format: .auto, textField: "text", tokenizer: tok, output: a) } catch {
            message = "\(error)"
        }
        #expect(message.contains(a.path) && message.contains("is also an input"), "\(message)")
        #expect(try Data(contentsOf: a) == before)
    }

    @Test func fortuneFile() throws {
        let dir = try TempDir()
        let f = try dir.write("fortunes", "A penny saved.\n-- Ben\n%\nLook before you leap.\n%\n%\nLast one\n%\n")
        let (r, s) = try prepare([f], in: dir)
        #expect(r.documents == 3)
        #expect(tok.decode(s.tokens) == "A penny saved.\n-- Ben\n<|eos|>Look before you leap.\n<|eos|>Last one\n<|eos|>")
        // A "%" inside a line is not a separator; CRLF separators are.
        let g = try dir.write("crlf.txt", "one 100%\r\n%\r\ntwo\r\n")
        let (r2, s2) = try prepare([g], .text, in: dir)
        #expect(r2.documents == 2)
        #expect(tok.decode(s2.tokens) == "one 100%\r\n<|eos|>two\r\n<|eos|>")
    }

    @Test func jsonl() throws {
        let dir = try TempDir()
        let f = try dir.write("d.jsonl", """
            {"id": 1, "text": "first doc"}
            {"text": "second\\nline \\u00e9 🙂", "meta": {"a": [1, 2]}}

            {"body": "x", "text": ""}
            """)
        let (r, s) = try prepare([f], in: dir)
        #expect(r == PrepareReport(documents: 3, tokens: 9 + 1 + "second\nline é 🙂".utf8.count + 1 + 1, files: 1))
        #expect(tok.decode(s.tokens) == "first doc<|eos|>second\nline é 🙂<|eos|><|eos|>")
        // Another field, and an explicit format that overrides the extension.
        let g = try dir.write("d.txt", "{\"body\": \"bb\", \"text\": \"tt\"}\n")
        let (_, s2) = try prepare([g], .jsonl, field: "body", in: dir)
        #expect(tok.decode(s2.tokens) == "bb<|eos|>")
    }

    @Test func autoFormat() {
        #expect(DataPrepare.resolve(.auto, for: URL(fileURLWithPath: "/x/a.jsonl")) == .jsonl)
        #expect(DataPrepare.resolve(.auto, for: URL(fileURLWithPath: "/x/a.JSON")) == .jsonl)
        #expect(DataPrepare.resolve(.auto, for: URL(fileURLWithPath: "/x/a.txt")) == .text)
        #expect(DataPrepare.resolve(.auto, for: URL(fileURLWithPath: "/x/README")) == .text)
        #expect(DataPrepare.resolve(.text, for: URL(fileURLWithPath: "/x/a.jsonl")) == .text)
    }

    @Test func malformedJSONLine() throws {
        let dir = try TempDir()
        let f = try dir.write("bad.jsonl", "{\"text\": \"ok\"}\n{\"text\": \"ok\"}\n{\"text\": \"unterminated}\n{\"text\": \"ok\"}\n")
        let msg = try #require(failure([f], in: dir))
        #expect(msg.hasPrefix("\(f.path):3: malformed JSON"), "\(msg)")
        #expect(!FileManager.default.fileExists(atPath: dir.file("out.tokens").path))
    }

    @Test func notAnObject() throws {
        let dir = try TempDir()
        let f = try dir.write("arr.jsonl", "{\"text\": \"ok\"}\n[1, 2]\n")
        let msg = try #require(failure([f], in: dir))
        #expect(msg.contains("\(f.path):2:") && msg.contains("JSON object"), "\(msg)")
    }

    @Test func missingField() throws {
        let dir = try TempDir()
        let f = try dir.write("missing.jsonl", "{\"text\": \"ok\"}\n{\"content\": \"no text here\"}\n")
        let msg = try #require(failure([f], in: dir))
        #expect(msg.contains("\(f.path):2:") && msg.contains("\"text\" is missing") && msg.contains("content"), "\(msg)")
        // Keys with newlines do not break the one-line message.
        let g = try dir.write("nl.jsonl", "{\"a\\nb\": 1}\n")
        let msg2 = try #require(failure([g], in: dir))
        #expect(!msg2.contains("\n") && msg2.contains("\"text\" is missing") && msg2.contains("a\\nb"), "\(msg2)")
    }

    @Test func nonStringField() throws {
        let dir = try TempDir()
        let f = try dir.write("num.jsonl", "\n{\"text\": 42}\n")
        let msg = try #require(failure([f], in: dir))
        #expect(msg.contains("\(f.path):2:") && msg.contains("a number, expected a string"), "\(msg)")
        let g = try dir.write("null.jsonl", "{\"text\": null}\n")
        let msg2 = try #require(failure([g], in: dir))
        #expect(msg2.contains("\(g.path):1:") && msg2.contains("null"), "\(msg2)")
    }

    @Test func invalidUTF8() throws {
        let dir = try TempDir()
        let f = try dir.write("latin1.txt", Array("line one\ncaf".utf8) + [0xE9] + Array("\nthree\n".utf8))
        let msg = try #require(failure([f], in: dir))
        #expect(msg.contains("\(f.path):2:") && msg.contains("UTF-8") && msg.contains("byte 4"), "\(msg)")
        let g = try dir.write("bad.jsonl", Array("{\"text\": \"a\"}\n{\"text\": \"".utf8) + [0xFF, 0xFE] + Array("\"}\n".utf8))
        let msg2 = try #require(failure([g], in: dir))
        #expect(msg2.contains("\(g.path):2:") && msg2.contains("UTF-8"), "\(msg2)")
    }

    @Test func emptyFile() throws {
        let dir = try TempDir()
        let ok = try dir.write("ok.txt", "fine")
        let f = try dir.write("empty.txt", "")
        let msg = try #require(failure([ok, f], in: dir))
        #expect(msg == "\(f.path): file is empty", "\(msg)")
        let blank = try dir.write("blank.jsonl", "\n  \n")
        let msg2 = try #require(failure([blank], in: dir))
        #expect(msg2.contains(blank.path) && msg2.contains("no documents"), "\(msg2)")
    }

    @Test func missingInput() throws {
        let dir = try TempDir()
        let msg = try #require(failure([dir.file("absent.txt")], in: dir))
        #expect(msg.contains("absent.txt"), "\(msg)")
    }
}
