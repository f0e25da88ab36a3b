import Foundation
import Testing
import SimplyCore
import SimplyData

private let repositoryRoot = URL(fileURLWithPath: #filePath)
    .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

private func golden(_ path: String) -> URL { repositoryRoot.appendingPathComponent("golden").appendingPathComponent(path) }

private func loadHF(_ path: String) throws -> HFTokenizer {
    let t = try TokenizerLoader.load(golden(path).path)
    guard let hf = t as? HFTokenizer else { throw DataError("\(path) did not load as HFTokenizer") }
    return hf
}

/// The message of the error `body` throws ("" when it throws none).
private func message(_ body: () throws -> Void) -> String {
    do { try body(); return "" } catch { return "\(error)" }
}

/// A family's tokenizer.json as JSON, edited by `edit`, written with its
/// configs to a temporary directory; the error loading it, or "".
private func loadEdited(_ family: String, configs: Bool = true, _ edit: (inout [(String, JSONValue)]) -> Void) throws -> String {
    let dir = try TempDir()
    let text = try String(contentsOf: golden("hf/families/\(family)/tokenizer.json"), encoding: .utf8)
    guard case var .object(root) = try JSONValue.parse(text) else { throw DataError("not an object") }
    edit(&root)
    try dir.write("tokenizer.json", JSONValue.object(root).serialized())
    if configs {
        for name in ["tokenizer_config.json", "generation_config.json"] {
            try dir.write(name, try String(contentsOf: golden("hf/families/\(family)/\(name)"), encoding: .utf8))
        }
    }
    return message { _ = try TokenizerLoader.load(dir.url.path) }
}

private func set(_ root: inout [(String, JSONValue)], _ key: String, _ value: JSONValue) {
    if let i = root.firstIndex(where: { $0.0 == key }) { root[i].1 = value } else { root.append((key, value)) }
}

private func json(_ s: String) -> JSONValue {
    (try? JSONValue.parse(s)) ?? .null
}

struct HFTokenizerTests {
    static let families = ["llama3", "qwen2", "qwen3", "mistral", "smollm2"]

    /// Each family's expected-ids.json (Python `tokenizers`, family_fixtures.py): ids and decode.
    @Test(arguments: families) func familyExpectedIds(_ family: String) throws {
        let t = try loadHF("hf/families/\(family)")
        let text = try String(contentsOf: golden("hf/families/\(family)/expected-ids.json"), encoding: .utf8)
        guard case let .array(items) = try JSONValue.parse(text) else { throw DataError("expected-ids.json: not an array") }
        #expect(items.count == 6)
        for item in items {
            guard let s = item["text"]?.stringValue, let decoded = item["decoded"]?.stringValue,
                  case let .array(ids)? = item["ids"] else { throw DataError("expected-ids.json: bad item") }
            let want = ids.compactMap { $0.intValue.map(Int32.init) }
            #expect(t.encode(s) == want, "\(family): \(s)")
            #expect(t.decode(want) == decoded, "\(family): \(s)")
        }
    }

    /// bos / eos / pad by name from tokenizer_config.json; absent ones fall back to eos.
    @Test func specialsFromTheConfigs() throws {
        let expect: [(String, Int32?, Int32, Int32?)] = [("llama3", 0, 4, nil), ("qwen2", nil, 2, 0), ("qwen3", nil, 2, 0),
                                                         ("mistral", 1, 2, nil), ("smollm2", 1, 2, 0)]
        for (family, bos, eos, pad) in expect {
            let t = try loadHF("hf/families/\(family)")
            #expect(t.bosId == bos && t.eos == eos && t.padId == pad, "\(family)")
            #expect(t.bos == (bos ?? eos) && t.pad == (pad ?? eos), "\(family)")
            #expect(t.vocabSize == 1024, "\(family)")
            #expect(t.name.hasPrefix("hf-") && t.name.count == 19)
        }
        #expect(try loadHF("hf/families/llama3").specialToken("<|eot_id|>") == 4)
        #expect(try loadHF("hf/families/llama3").specialToken("<|im_start|>") == nil)
        // Loading twice gives the same name; another file another name.
        #expect(try loadHF("hf/families/qwen2").name == loadHF("hf/families/qwen2").name)
        #expect(try loadHF("hf/families/qwen2").name != loadHF("hf/families/smollm2").name)
        // The directory and its tokenizer.json load alike.
        #expect(try loadHF("hf/families/mistral/tokenizer.json").name == loadHF("hf/families/mistral").name)
    }

    /// Without its configs, a file says nothing about eos: refused.
    @Test func noEosIsRefused() throws {
        let m = try loadEdited("qwen2", configs: false) { _ in }
        #expect(m.hasSuffix("tokenizer.json: no eos token: tokenizer_config.json has no eos_token and generation_config.json no eos_token_id"), "\(m)")
    }

    /// Simply's own tokenizers still load as `BPETokenizer`, with their names.
    @Test func simplysOwnFilesStayBPETokenizer() throws {
        let path = golden("tokenizer/simply-trained.json").path
        let t = try TokenizerLoader.load(path)
        #expect(t is BPETokenizer)
        #expect(t.name == (try BPETokenizer.load(URL(fileURLWithPath: path))).name)
    }

    /// Default encode never turns special-token text into specials (Python with
    /// encode_special_tokens=True); parseSpecial does (Python's default).
    @Test func specialsAreParsedOnlyWhenAsked() throws {
        let s = "<|im_start|>user\nhi<|im_end|><s></s><|begin_of_text|>"
        let want: [String: ([Int32], [Int32])] = [
            "llama3": ([32, 96, 330, 67, 312, 474, 96, 34, 386, 265, 203, 76, 77, 32, 96, 330, 67, 431, 96, 34, 32, 87, 34, 32, 19, 87, 34,
                        32, 96, 726, 75, 264, 67, 633, 67, 723, 92, 88, 96, 34],
                       [32, 96, 330, 67, 312, 474, 96, 34, 386, 265, 203, 76, 77, 32, 96, 330, 67, 431, 96, 34, 32, 87, 34, 32, 19, 87, 34, 0]),
            "qwen2": ([30, 94, 328, 65, 310, 472, 94, 32, 384, 263, 201, 74, 75, 30, 94, 328, 65, 429, 94, 32, 30, 85, 32, 30, 17, 85, 32,
                       30, 94, 723, 73, 262, 65, 630, 65, 720, 90, 86, 94, 32],
                      [1, 384, 263, 201, 74, 75, 2, 30, 85, 32, 30, 17, 85, 32, 30, 94, 723, 73, 262, 65, 630, 65, 720, 90, 86, 94, 32]),
            "mistral": ([611, 353, 443, 324, 398, 625, 353, 291, 444, 376, 13, 333, 334, 289, 353, 443, 324, 574, 353, 291, 289, 344, 291,
                         289, 276, 344, 291, 289, 353, 438, 332, 374, 324, 397, 324, 345, 513, 345, 353, 291],
                        [611, 353, 443, 324, 398, 625, 353, 291, 444, 376, 13, 333, 334, 289, 353, 443, 324, 574, 353, 291, 1, 2, 289, 353,
                         438, 332, 374, 324, 397, 324, 345, 513, 345, 353, 291]),
        ]
        for (family, (plain, parsed)) in want.sorted(by: { $0.key < $1.key }) {
            let t = try loadHF("hf/families/\(family)")
            #expect(t.encode(s) == plain, "\(family)")
            #expect(t.encode(s, parseSpecial: false) == plain, "\(family)")
            #expect(t.encode(s, parseSpecial: true) == parsed, "\(family)")
            let specials = Set((0..<5).map(Int32.init))
            #expect(!t.encode(s).contains { specials.contains($0) && $0 != 13 }, "\(family)")
        }
    }

    /// Added-token flags, ids from Python `tokenizers` (added-flags: llama3 plus
    /// <tool> lstrip, </tool> rstrip, License single_word, return normalized,
    /// <|im_start|> special rstrip, <|im_end|> special lstrip+rstrip, [INST] special single_word).
    @Test func addedTokenFlags() throws {
        let t = try loadHF("hf/tokenizer-parity/added-flags")
        let cases: [(String, [Int32], [Int32])] = [
            ("a <tool>  b", [69, 1024, 225, 275], [69, 1024, 225, 275]),
            ("x  <|im_end|>  y", [92, 225, 912, 96, 330, 67, 431, 96, 34, 225, 300], [92, 1030, 93]),
            ("xLicense License", [92, 48, 305, 276, 321, 225, 1026], [92, 48, 305, 276, 321, 225, 1026]),
            ("[INST]x [INST] y", [63, 856, 55, 56, 65, 92, 225, 63, 856, 55, 56, 65, 300], [63, 856, 55, 56, 65, 92, 225, 1031, 300]),
            ("<|im_start|>  z", [32, 96, 330, 67, 312, 474, 96, 34, 225, 225, 94], [1029, 94]),
            (" return  x", [225, 1027, 225, 225, 92], [225, 1027, 225, 225, 92]),
        ]
        for (s, plain, parsed) in cases {
            #expect(t.encode(s) == plain, "\(s)")
            #expect(t.encode(s, parseSpecial: true) == parsed, "\(s)")
            // The post-processor adds <|begin_of_text|> (id 0) only when asked.
            #expect(t.encode(s, parseSpecial: true, addSpecialTokens: true) == [0] + parsed, "\(s)")
        }
    }

    /// Added tokens matched after the Llama 2 legacy normalizer (normalized: true)
    /// and before it (normalized: false), ids and decodes from Python.
    @Test func normalizedAddedTokens() throws {
        let t = try loadHF("hf/tokenizer-parity/added-normalized")
        #expect(t.bosId == 1 && t.eos == 2 && t.padId == 0)
        let cases: [(String, [Int32], [Int32], String)] = [
            ("I love New York", [684, 520, 347, 330, 1024], [1, 684, 520, 347, 330, 1024], "I love New York"),
            ("New  York", [629, 652, 386, 318, 384, 336], [1, 629, 652, 386, 318, 384, 336], "New  York"),
            ("the world and theworld", [1025, 370, 466, 451, 889, 329], [1, 1025, 370, 466, 451, 889, 329], "the world and theworld"),
            ("GNU/Linux GNUs", [1026, 370, 276, 305, 996, 349, 729, 307, 314, 344], [1, 1026, 370, 276, 305, 996, 349, 729, 307, 314, 344],
             "GNU /Linux GNUs"),
            ("a  [INST]  b  [/INST]  c", [370, 326, 386, 320, 1018, 312, 313, 322, 386, 327, 386, 320, 276, 1018, 312, 313, 322, 386, 328],
             [1, 370, 326, 1027, 524, 1028, 386, 445], "a  [INST]  b  [/INST]  c"),
            ("<s>[INST] hi [/INST]", [611, 344, 291, 320, 1018, 312, 313, 322, 496, 334, 370, 320, 276, 1018, 312, 313, 322],
             [1, 1, 1027, 496, 334, 1028], "<s>[INST] hi [/INST]"),
        ]
        for (s, plain, parsed, decoded) in cases {
            #expect(t.encode(s) == plain, "\(s)")
            #expect(t.encode(s, parseSpecial: true, addSpecialTokens: true) == parsed, "\(s)")
            #expect(t.decode(plain) == decoded, "\(s)")
        }
        // Python: the Strip step eats the space after [INST]; skipping specials leaves "hi".
        #expect(t.decode([1, 1, 1027, 496, 334, 1028]) == "<s><s>[INST] hi[/INST]")
        #expect(t.decode([1, 1, 1027, 496, 334, 1028], skipSpecialTokens: true) == "hi")
        let qwen = try loadHF("hf/families/qwen2")
        #expect(qwen.decode([1, 384, 263, 201, 74, 75, 2, 30, 85]) == "<|im_start|>user\nhi<|im_end|><s")
        #expect(qwen.decode([1, 384, 263, 201, 74, 75, 2, 30, 85], skipSpecialTokens: true) == "user\nhi<s")
    }

    /// Oniguruma's pieces for patterns beyond the families' (from Python
    /// `pre_tokenizers.Split(Regex(p), "isolated")`).
    @Test func regexMatchesOniguruma() throws {
        let cases: [(String, String, [String])] = [
            (#"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"#,
             "DON'T 'ſ 'K x'S 12345  \n\n  end   ",
             ["DON", "'T", " '", "ſ", " '", "K", " x", "'S", " ", "123", "45", "  \n\n", " ", " end", "   "]),
            (#"\p{N}{2}?"#, "12345", ["12", "34", "5"]),
            (#"a+?b|a++"#, "aaab aaa", ["aaab", " ", "aaa"]),
            (#"(?>a|ab)c|."#, "abc", ["a", "b", "c"]),
            (#"[a-c\d_]+|[^\w\s]+"#, "ab_9 ++ x٣", ["ab_9", " ", "++", " x", "٣"]),
            (#"^\s+|\s+$"#, "  mid  \n  x  ", ["  ", "mid", "  ", "\n", "  ", "x", "  "]),
            (#"x{2,}|\x41|\u00e9|[\-\]]"#, "xxx x A é -]", ["xxx", " x ", "A", " ", "é", " ", "-", "]"]),
            (#"(?i)abc|\P{L}"#, "ABC aBc", ["ABC", " ", "aBc"]),
            (#"\p{Lu}\p{Ll}*|\p{M}"#, "HelloWorld e\u{301}", ["Hello", "World", " e", "\u{301}"]),
            (#"(?=b)|b"#, "abab", ["a", "ba", "b"]),
            (#"(?i:s)"#, "xſy", ["x", "ſ", "y"]),
            (#"(?i:[a-c]+)"#, "xABCabcd", ["x", "ABCabc", "d"]),
            (#"(?i:[^a-c]+)"#, "xABCabcdX", ["x", "ABCabc", "dX"]),
            (#"[^\s\p{L}]+|[\S\d]"#, "a1 b2.. c ٣", ["a", "1", " ", "b", "2..", " ", "c", " ", "٣"]),
        ]
        for (pattern, text, want) in cases {
            let split = try ScalarRegex(pattern).isolatedPieces(text)
            #expect(split == want, "\(pattern) on \(text)")
        }
    }

    /// Exponential backtracking stops at the step budget (the rest of the text
    /// is one unmatched piece); deep nesting and too many classes are refused.
    @Test func regexWorkIsBounded() throws {
        let text = String(repeating: "a", count: 60)
        #expect(try ScalarRegex("(?:a|a)*b").isolatedPieces(text) == [text])
        #expect(try ScalarRegex("(?:a|a)*b").isolatedPieces("aab") == ["aab"])
        let deep = String(repeating: "(", count: 65) + "a" + String(repeating: ")", count: 65)
        #expect(message { _ = try ScalarRegex(deep) } == "groups nested more than 64 deep are not supported")
        #expect(message { _ = try ScalarRegex(String(repeating: "[a]", count: 65)) }
                == "more than 64 character classes are not supported")
        #expect(message { _ = try ScalarRegex("(?:(?:ab){1000}){1000}") }.hasPrefix("pattern too large"))
        #expect(message { _ = try ScalarRegex("(?:a*)*") }.contains("can match nothing"))
    }

    /// Every refusal names the file and the key path, and what is supported.
    @Test func refusals() throws {
        func expectEnd(_ m: String, _ suffix: String) {
            #expect(m.contains("/tokenizer.json: ") && m.hasSuffix(suffix), "\(m)")
        }
        expectEnd(try loadEdited("qwen2") { set(&$0, "normalizer", json(#"{"type": "BertNormalizer"}"#)) },
                  #"normalizer.type: "BertNormalizer" is not supported (supported: Prepend, Replace, NFC, NFD, NFKC, NFKD, Sequence)"#)
        expectEnd(try loadEdited("qwen2") { set(&$0, "normalizer", json(#"{"type": "Sequence", "normalizers": [{"type": "Prepend", "prepend": "x"}, {"type": "Lowercase"}]}"#)) },
                  #"normalizer.normalizers[1].type: "Lowercase" is not supported (supported: Prepend, Replace, NFC, NFD, NFKC, NFKD, Sequence)"#)
        expectEnd(try loadEdited("qwen2") { set(&$0, "pre_tokenizer", json(#"{"type": "Whitespace"}"#)) },
                  #"pre_tokenizer.type: "Whitespace" is not supported (supported: Split, ByteLevel, Metaspace, Digits, Sequence)"#)
        expectEnd(try loadEdited("qwen2") { set(&$0, "pre_tokenizer", json(#"{"type": "Split", "pattern": {"Regex": "(?<=a)b"}, "behavior": "Isolated", "invert": false}"#)) },
                  #"pre_tokenizer.pattern.Regex: "(?<=a)b": lookbehind at character 0 is not supported"#)
        expectEnd(try loadEdited("qwen2") { set(&$0, "pre_tokenizer", json(#"{"type": "Split", "pattern": {"Regex": "\\p{Greek}+"}, "behavior": "Isolated", "invert": false}"#)) },
                  #"pre_tokenizer.pattern.Regex: "\\p{Greek}+": \p{Greek} is not supported (general categories only, e.g. L, Lu, N, Nd)"#)
        expectEnd(try loadEdited("qwen2") { set(&$0, "pre_tokenizer", json(#"{"type": "Split", "pattern": {"String": " "}, "behavior": "Sideways", "invert": false}"#)) },
                  #"pre_tokenizer.behavior: "Sideways" is not supported (supported: Isolated, Removed, MergedWithPrevious, MergedWithNext, Contiguous)"#)
        expectEnd(try loadEdited("qwen2") { set(&$0, "decoder", json(#"{"type": "CTC"}"#)) },
                  #"decoder.type: "CTC" is not supported (supported: ByteLevel, Metaspace, Replace, ByteFallback, Fuse, Strip, Sequence)"#)
        expectEnd(try loadEdited("qwen2") { set(&$0, "post_processor", json(#"{"type": "RobertaProcessing"}"#)) },
                  #"post_processor.type: "RobertaProcessing" is not supported (supported: TemplateProcessing, ByteLevel, Sequence)"#)
        expectEnd(try loadEdited("qwen2") { set(&$0, "model", json(#"{"type": "WordPiece", "vocab": {}}"#)) },
                  #"model.type: "WordPiece" is not supported (supported: BPE)"#)
        expectEnd(try loadEdited("qwen2") { set(&$0, "truncation", json(#"{"max_length": 8}"#)) }, "truncation: only null is supported")
        expectEnd(try loadEdited("mistral") {
            guard let i = $0.firstIndex(where: { $0.0 == "model" }), case var .object(m) = $0[i].1 else { return }
            m.append(("continuing_subword_prefix", .string("##")))
            $0[i].1 = .object(m)
        }, "model.continuing_subword_prefix: only null is supported")
        expectEnd(try loadEdited("qwen2") { set(&$0, "added_tokens", json(#"[{"id": 5000, "content": "x", "special": true}]"#)) },
                  "added_tokens[0].id: expected an integer in 0...2048, found 5000")
        // A config naming a token the file lacks.
        let dir = try TempDir()
        try dir.write("tokenizer.json", try String(contentsOf: golden("hf/families/qwen2/tokenizer.json"), encoding: .utf8))
        try dir.write("tokenizer_config.json", #"{"eos_token": "<|nope|>"}"#)
        let m = message { _ = try TokenizerLoader.load(dir.url.path) }
        #expect(m.hasSuffix(#"tokenizer_config.json: eos_token: "<|nope|>" is not a token of \#(dir.url.path)/tokenizer.json"#), "\(m)")
    }
}
