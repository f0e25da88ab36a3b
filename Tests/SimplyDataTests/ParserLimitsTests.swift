import Foundation
import Testing
import SimplyCore
import SimplyData

/// Inputs that once trapped, allocated without bound or gave Foundation's
/// error codes: each is now a one-line error naming the file and key.
@Suite struct DataParserLimitsTests {
    func message(_ body: () throws -> Void) -> String {
        do { try body(); return "" } catch { return "\(error)" }
    }

    /// A tokenizer.json with the three required specials at the given ids and
    /// a vocabulary of `vocab`.
    func tokenizerJSON(vocab: [String: Int], bos: Int = 1, eos: Int = 2, pad: Int = 3) -> [UInt8] {
        let v = JSONValue.object(vocab.sorted { $0.value < $1.value }.map { ($0.key, .int($0.value)) })
        func special(_ id: Int, _ s: String) -> JSONValue {
            .object([("id", .int(id)), ("content", .string(s)), ("special", .bool(true))])
        }
        let root = JSONValue.object([
            ("added_tokens", .array([special(bos, "<|bos|>"), special(eos, "<|eos|>"), special(pad, "<|pad|>")])),
            ("pre_tokenizer", .object([("type", .string("ByteLevel")), ("add_prefix_space", .bool(false))])),
            ("decoder", .object([("type", .string("ByteLevel"))])),
            ("model", .object([("type", .string("BPE")), ("vocab", v), ("merges", .array([]))])),
        ])
        return Array(root.serialized().utf8)
    }

    @Test func tokenizerIdsAreBoundedByTheTokenCount() throws {
        // 1 + 3 tokens: ids up to 4 + 1024 - 1 are allowed (gaps), larger ones refused before any table is built.
        let ok = try BPETokenizer.parse(tokenizerJSON(vocab: ["a": 0], bos: 1, eos: 2, pad: 1027), file: "t.json")
        #expect(ok.vocabSize == 1028)
        let big = message { _ = try BPETokenizer.parse(tokenizerJSON(vocab: ["a": 0], bos: 2_147_483_647), file: "t.json") }
        #expect(big == "t.json: added_tokens: id 2147483647 of \"<|bos|>\" is too large: ids must be below the number of tokens (4) + 1024")
        let vocab = message { _ = try BPETokenizer.parse(tokenizerJSON(vocab: ["a": 0, "b": 1029], bos: 1), file: "t.json") }
        #expect(vocab.hasPrefix("t.json: model.vocab: id 1029 of \"b\" is too large"))
        #expect(message { _ = try BPETokenizer.parse(tokenizerJSON(vocab: ["a": 0], pad: 1028), file: "t.json") }.contains("too large"))
    }

    @Test func aDirectoryIsNotAnInputFile() throws {
        let dir = try TempDir()
        let sub = dir.file("sub")
        try FileManager.default.createDirectory(at: sub, withIntermediateDirectories: true)
        let m = message {
            _ = try DataPrepare.prepare(inputs: [sub], format: .auto, textField: "text", tokenizer: ByteTokenizer(),
                                        output: dir.file("out.tokens"))
        }
        #expect(m == "\(sub.path): is a directory, expected a file")
        #expect(message { _ = try BPETokenizer.load(sub) } == "\(sub.path): is a directory, expected a file")
        #expect(message { _ = try TokenizerLoader.load(dir.file("none.json").path) }
                == "\(dir.file("none.json").path): cannot open: No such file or directory")
    }

    @Test func tokenizerFileWithByteOrderMarkLoads() throws {
        let t = try BPETokenizer.parse([0xEF, 0xBB, 0xBF] + tokenizerJSON(vocab: ["a": 0]), file: "t.json")
        #expect(t.vocabSize == 4)
        #expect(message { _ = try BPETokenizer.parse([0xFF, 0xFE], file: "t.json") } == "t.json: not valid UTF-8")
    }

    @Test func parseInputMatchesPrepare() throws {
        let bytes = Array(#"{"instruction": "Add 2 and 3.", "output": "5"}"#.utf8) + [0x0A] + Array(#"{"instruction": 5}"#.utf8)
        let url = URL(fileURLWithPath: "/x/data.jsonl")
        #expect(message { _ = try DataPrepare.parseInput(bytes, url: url, format: .auto) }
                == "/x/data.jsonl:2: alpaca: field \"instruction\" is a number, expected a string")
        let file = try #require(try DataPrepare.parseInput(bytes, url: url, format: .auto, skipInvalid: true))
        #expect(file.recordFormat == .alpaca)
        guard case let .records(records) = file.content else { Issue.record("expected records"); return }
        #expect(records.count == 1)
    }

    @Test func inspectStartPastTheEndShowsNothing() throws {
        let dir = try TempDir()
        let input = try dir.write("a.jsonl", #"{"prompt": "1+1=", "completion": "2"}"# + "\n" + #"{"prompt": "2+2=", "completion": "4"}"# + "\n")
        let out = dir.file("out.examples")
        _ = try DataPrepare.prepare(inputs: [input], format: .auto, textField: "text", tokenizer: ByteTokenizer(), output: out)
        for (start, count) in [(5, 3), (2, 3), (1, Int.max), (Int.max, Int.max)] {
            let lines = try DataInspect.describe(out, tokenizer: ByteTokenizer(), start: start, count: count)
            #expect(lines.filter { $0.hasPrefix("example ") }.count == max(0, min(2 - min(start, 2), 2)), "start \(start) count \(count)")
        }
        let text = try dir.write("b.txt", "one\n%\ntwo\n")
        let shard = dir.file("out.tokens")
        _ = try DataPrepare.prepare(inputs: [text], format: .auto, textField: "text", tokenizer: ByteTokenizer(), output: shard)
        let docs = try DataInspect.describe(shard, tokenizer: ByteTokenizer(), start: 1, count: Int.max)
        #expect(docs.filter { $0.hasPrefix("document ") } == ["document 1: 5 tokens, all in the loss"])
    }
}
