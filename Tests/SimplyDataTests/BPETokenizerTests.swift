import Foundation
import Testing
import SimplyCore
import SimplyData

/// golden/tokenizer/NAME, found from this file's path (as `goldenURL` in PhiloxTests).
private func tokenizerGolden(_ name: String) -> URL {
    URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("golden").appendingPathComponent("tokenizer").appendingPathComponent(name)
}

/// One record of expected-ids.json: a string and the ids Python `tokenizers`
/// gives for it with hf-trained.json and with simply-trained.json (written by
/// tools/interop/tokenizer_interop.py). The strings hold no special-token
/// text: HF's `encode` would parse "<|eos|>" as a special, Simply never does.
private struct Expected {
    let text: String
    let hfTrained: [Int32]
    let simplyTrained: [Int32]
}

private func expectedIDs() throws -> [Expected] {
    let text = try String(contentsOf: tokenizerGolden("expected-ids.json"), encoding: .utf8)
    guard case let .array(items) = try JSONValue.parse(text) else { throw DataError("expected-ids.json: not an array") }
    func ids(_ v: JSONValue?) throws -> [Int32] {
        guard case let .array(a)? = v else { throw DataError("expected-ids.json: ids not an array") }
        return try a.map { guard let i = $0.intValue else { throw DataError("expected-ids.json: bad id") }; return Int32(i) }
    }
    return try items.map {
        guard let t = $0["text"]?.stringValue else { throw DataError("expected-ids.json: no text") }
        return Expected(text: t, hfTrained: try ids($0["hf_trained"]), simplyTrained: try ids($0["simply_trained"]))
    }
}

/// The corpus exactly as `simply tokenizer train corpus.txt` reads it.
private func corpusTexts() throws -> [String] {
    try DataPrepare.documents(in: tokenizerGolden("corpus.txt"), format: .auto, textField: "text")
}

/// `root` with the value at `path` replaced (nil removes the key).
private func replacing(_ root: JSONValue, _ path: [String], _ new: JSONValue?) -> JSONValue {
    guard let key = path.first, case let .object(pairs) = root else { return new ?? .null }
    var out: [(String, JSONValue)] = []
    var found = false
    for (k, v) in pairs {
        if k == key {
            found = true
            if path.count == 1 { if let new { out.append((k, new)) } } else { out.append((k, replacing(v, Array(path.dropFirst()), new))) }
        } else {
            out.append((k, v))
        }
    }
    if !found, path.count == 1, let new { out.append((key, new)) }
    return .object(out)
}

/// Reference BPE training that recounts every pair before each merge (same
/// tie rule: highest count, then smallest (left id, right id); same stop).
private func naiveMerges(_ texts: [String], vocabSize: Int, minFrequency: Int) -> [String] {
    var counts: [[UInt8]: Int] = [:]
    for t in texts { for p in PreTokenizer.split(t) { counts[Array(p.utf8), default: 0] += 1 } }
    var words = counts.map { (syms: $0.key.map { Int32($0) }, count: $0.value) }
    var tokens: [[UInt8]] = (0..<256).map { [UInt8($0)] }
    var merges: [String] = []
    while tokens.count < vocabSize - 5 {
        var pairs: [[Int32]: Int] = [:]
        for w in words where w.syms.count > 1 {
            for i in 0..<(w.syms.count - 1) { pairs[[w.syms[i], w.syms[i + 1]], default: 0] += w.count }
        }
        guard let best = pairs.max(by: { $0.value != $1.value ? $0.value < $1.value : !$0.key.lexicographicallyPrecedes($1.key) }),
              best.value >= minFrequency else { break }
        let (l, r) = (best.key[0], best.key[1])
        let bytes = tokens[Int(l)] + tokens[Int(r)]
        let id = tokens.firstIndex(of: bytes).map { Int32($0) } ?? Int32(tokens.count)
        if id == Int32(tokens.count) { tokens.append(bytes) }
        merges.append(ByteLevel.encode(tokens[Int(l)]) + " " + ByteLevel.encode(tokens[Int(r)]))
        for k in words.indices {
            let s = words[k].syms
            var out: [Int32] = [], i = 0
            while i < s.count {
                if i + 1 < s.count && s[i] == l && s[i + 1] == r { out.append(id); i += 2 } else { out.append(s[i]); i += 1 }
            }
            words[k].syms = out
        }
    }
    return merges
}

@Suite struct BPETokenizerTests {
    // MARK: Pre-tokenizer and byte table

    /// Expected pieces (in byte-level form) are the output of Python
    /// `pre_tokenizers.ByteLevel(add_prefix_space=False).pre_tokenize_str`.
    @Test func preTokenizerMatchesHF() {
        let cases: [(String, [String])] = [
            ("Hello world", ["Hello", "Ġworld"]),
            ("don't I'll we've she's THEY'RE 'tis",
             ["don", "'t", "ĠI", "'ll", "Ġwe", "'ve", "Ġshe", "'s", "ĠTHEY", "'", "RE", "Ġ'", "tis"]),
            ("  leading spaces", ["Ġ", "Ġleading", "Ġspaces"]),
            ("trailing\n\n", ["trailing", "ĊĊ"]),
            ("a  b   c\t\td\n e", ["a", "Ġ", "Ġb", "ĠĠ", "Ġc", "ĉ", "ĉ", "d", "Ċ", "Ġe"]),
            ("123 4567 x1y2 ½ ⅷ", ["123", "Ġ4567", "Ġx", "1", "y", "2", "ĠÂ½", "Ġâħ·"]),
            ("Hi!!! ... ?!", ["Hi", "!!!", "Ġ...", "Ġ?!"]),
            ("naïve café Ελληνικά 日本語テキスト",
             ["naÃ¯ve", "ĠcafÃ©", "ĠÎķÎ»Î»Î·Î½Î¹ÎºÎ¬", "ĠæĹ¥æľ¬èªŀãĥĨãĤŃãĤ¹ãĥĪ"]),
            ("emoji 🙂👍🏽 ok", ["emoji", "ĠðŁĻĤðŁĳįðŁı½", "Ġok"]),
            ("\u{a0}nbsp\u{3000}ideo", ["Âł", "nbsp", "ãĢĢ", "ideo"]),
            ("tab\t \tx", ["tab", "ĉĠ", "ĉ", "x"]),
            ("''s 's ' s", ["''", "s", "Ġ'", "s", "Ġ'", "Ġs"]),
            ("x \n y", ["x", "ĠĊ", "Ġy"]),
        ]
        for (text, expected) in cases {
            let pieces = PreTokenizer.split(text)
            #expect(pieces.map { ByteLevel.encode($0.utf8) } == expected, "\(text.debugDescription)")
            #expect(pieces.joined() == text)
        }
        #expect(PreTokenizer.split("") == [])
    }

    @Test func byteLevelTable() {
        let s = ByteLevel.scalars
        #expect(s.count == 256 && Set(s).count == 256)
        for b in 0..<256 {
            let identity = (33...126).contains(b) || (161...172).contains(b) || (174...255).contains(b)
            if identity { #expect(s[b].value == UInt32(b)) } else { #expect((256..<324).contains(s[b].value)) }
            #expect(ByteLevel.byte(for: s[b]) == UInt8(b))
        }
        #expect(s.filter { $0.value >= 256 }.map(\.value) == Array(256..<324))  // in byte order
        #expect(s[32] == "Ġ" && s[10] == "Ċ" && s[9] == "ĉ" && s[173] == "Ń")
        #expect(ByteLevel.byte(for: "\u{144}") == nil && ByteLevel.byte(for: " ") == nil && ByteLevel.byte(for: "€") == nil)
        let all = (0..<256).map { UInt8($0) }
        #expect(ByteLevel.decode(ByteLevel.encode(all)) == all)
        #expect(ByteLevel.decode("a b") == nil)
    }

    // MARK: Interop with Python tokenizers

    @Test func hfTrainedFileGivesPythonIDs() throws {
        let tok = try BPETokenizer.load(tokenizerGolden("hf-trained.json"))
        let cases = try expectedIDs()
        #expect(cases.count >= 25)
        for c in cases {
            #expect(tok.encode(c.text) == c.hfTrained, "\(c.text.debugDescription)")
        }
        #expect(tok.vocabSize == 600)
        // HF's trainer puts the specials first.
        #expect(tok.bos == 0 && tok.eos == 1 && tok.pad == 2)
        #expect(tok.specialToken(SpecialTokens.imStart) == 3 && tok.specialToken(SpecialTokens.imEnd) == 4)
    }

    /// Training is pinned: the same corpus and settings as the interop script
    /// give the committed file byte for byte, and Python's ids for it.
    @Test func trainingIsPinned() throws {
        let tok = try BPETrainer.train(texts: try corpusTexts(), vocabSize: 600, minFrequency: 2)
        let committed = try Data(contentsOf: tokenizerGolden("simply-trained.json"))
        #expect(Array(tok.serialized().utf8) == [UInt8](committed))
        #expect(tok.vocabSize == 600 && tok.merges.count == 600 - 256 - 5)
        #expect([tok.bos, tok.eos, tok.pad] == [595, 596, 597])
        #expect(SpecialTokens.all.map { tok.specialToken($0) } == [595, 596, 597, 598, 599])
        #expect(tok.specialToken("<|unknown|>") == nil)
        for c in try expectedIDs() {
            #expect(tok.encode(c.text) == c.simplyTrained, "\(c.text.debugDescription)")
        }
        #expect(tok.name.hasPrefix("bpe-") && tok.name.utf8.count == 20 && tok.name.utf8.count <= 48)
        let loaded = try BPETokenizer.load(tokenizerGolden("simply-trained.json"))
        #expect(loaded.name == tok.name)
    }

    // MARK: Round trips

    @Test func decodeInvertsEncode() throws {
        let hf = try BPETokenizer.load(tokenizerGolden("hf-trained.json"))
        let st = try BPETokenizer.load(tokenizerGolden("simply-trained.json"))
        let extra = ["\u{0}", "\r\n\r\n", "e\u{301}\u{301}\u{301}", "\u{1F469}\u{200D}\u{1F469}\u{200D}\u{1F467}",
                     "\u{10FFFF}\u{E0001}", String(repeating: " ", count: 300) + "x", String(repeating: "ab", count: 500),
                     "<|eos|> <|im_start|>user"]
        for s in try expectedIDs().map(\.text) + extra {
            for tok in [hf, st] {
                #expect(Array(tok.decode(tok.encode(s)).utf8) == Array(s.utf8), "\(s.debugDescription)")
            }
        }
        // Special strings in text are plain text, never the special ids.
        let ids = st.encode("<|eos|>")
        #expect(!ids.contains(st.eos) && ids.count > 1)
        // Specials render as their content; a byte cut from its character is U+FFFD.
        let e = st.encode("é")
        #expect(st.decode([st.bos] + e + [st.eos, st.pad]) == "<|bos|>é<|eos|><|pad|>")
        let byteIds = (0..<256).map { b in st.vocab.first { $0.token == String(ByteLevel.scalars[b]) }!.id }
        #expect(st.decode([byteIds[0xE6], byteIds[0x97]]) == "\u{FFFD}")
        #expect(st.decode([byteIds[0xFF], byteIds[0x41]]) == "\u{FFFD}A")
        #expect(st.decode([byteIds[0xE6], byteIds[0x97], byteIds[0xA5]]) == "日")
        #expect(st.decode([9999, byteIds[0x41]]) == "<|unk:9999|>A")
        #expect(st.encode("") == [] && st.decode([]) == "")
    }

    /// Python's decode (skip_special_tokens=False) of random id sequences,
    /// from expected-decode.json: bytes cut from their character become U+FFFD
    /// exactly as Rust's `from_utf8_lossy` does; specials render as content.
    @Test func decodeMatchesPython() throws {
        let root = try JSONValue.parse(try String(contentsOf: tokenizerGolden("expected-decode.json"), encoding: .utf8))
        var checked = 0, replacements = 0
        for (key, file) in [("hf_trained", "hf-trained.json"), ("simply_trained", "simply-trained.json")] {
            let tok = try BPETokenizer.load(tokenizerGolden(file))
            guard case let .array(items)? = root[key] else { Issue.record("no \(key)"); continue }
            for item in items {
                guard case let .array(ids)? = item["ids"], let text = item["text"]?.stringValue else { Issue.record("bad record"); continue }
                let got = tok.decode(ids.map { Int32($0.intValue!) })
                #expect(Array(got.utf8) == Array(text.utf8), "\(key) \(ids.map { $0.intValue! })")
                checked += 1
                if text.contains("\u{FFFD}") { replacements += 1 }
            }
        }
        #expect(checked == 80 && replacements > 10)
    }

    @Test func writeLoadWriteIsByteIdentical() throws {
        let dir = try TempDir()
        for name in ["hf-trained.json", "simply-trained.json"] {
            let a = try BPETokenizer.load(tokenizerGolden(name))
            try a.write(to: dir.file("a.json"))
            let b = try BPETokenizer.load(dir.file("a.json"))
            try b.write(to: dir.file("b.json"))
            let bytesA = try Data(contentsOf: dir.file("a.json")), bytesB = try Data(contentsOf: dir.file("b.json"))
            #expect(bytesA == bytesB, "\(name)")
            #expect(a.name == b.name && a.vocabSize == b.vocabSize && a.addedTokens == b.addedTokens)
            for c in try expectedIDs() { #expect(b.encode(c.text) == a.encode(c.text)) }
        }
        // The re-written HF file is not the HF bytes, but gives the same ids (checked above via a == hf).
        let hf = try BPETokenizer.load(tokenizerGolden("hf-trained.json"))
        #expect(hf.name != (try BPETokenizer.load(tokenizerGolden("simply-trained.json"))).name)
    }

    @Test func mergesAsStringsAndArraysBothLoad() throws {
        let dir = try TempDir()
        let root = try JSONValue.parse(try String(contentsOf: tokenizerGolden("hf-trained.json"), encoding: .utf8))
        guard case let .array(merges)? = root["model"]?["merges"] else { Issue.record("no merges"); return }
        let asArrays: [JSONValue] = merges.map {
            if case let .string(s) = $0 { let p = s.split(separator: " ").map { JSONValue.string(String($0)) }; return .array(p) }
            return $0
        }
        let asStrings: [JSONValue] = asArrays.map {
            guard case let .array(p) = $0 else { return $0 }
            return .string(p.compactMap(\.stringValue).joined(separator: " "))
        }
        #expect(asStrings.allSatisfy { $0.stringValue != nil } && asArrays.allSatisfy { if case .array = $0 { true } else { false } })
        let a = try dir.write("arrays.json", replacing(root, ["model", "merges"], .array(asArrays)).serialized())
        let s = try dir.write("strings.json", replacing(root, ["model", "merges"], .array(asStrings)).serialized())
        let ta = try BPETokenizer.load(a), ts = try BPETokenizer.load(s)
        #expect(ta.serialized() == ts.serialized() && ta.merges.count == merges.count)
        for c in try expectedIDs() { #expect(ts.encode(c.text) == c.hfTrained) }
        // Also inside a pre-tokenizer Sequence.
        let seq = replacing(root, ["pre_tokenizer"], .object([("type", .string("Sequence")),
                                                                 ("pretokenizers", .array([root["pre_tokenizer"]!]))]))
        let tq = try BPETokenizer.load(try dir.write("seq.json", seq.serialized()))
        #expect(tq.serialized() == ta.serialized())
    }

    @Test func badFilesNameFileAndKey() throws {
        let dir = try TempDir()
        let root = try JSONValue.parse(try String(contentsOf: tokenizerGolden("hf-trained.json"), encoding: .utf8))
        func failure(_ name: String, _ text: String) -> String {
            let url = try! dir.write(name, text)
            do {
                _ = try BPETokenizer.load(url)
                return "loaded"
            } catch let e as DataError {
                let d = e.description
                #expect(d.hasPrefix(url.path + ": ") && !d.contains("\n"), "\(d)")
                return d
            } catch {
                return "other error: \(error)"
            }
        }
        guard case let .array(added)? = root["added_tokens"] else { Issue.record("no added_tokens"); return }
        let noEos = replacing(root, ["added_tokens"], .array(added.filter { $0["content"]?.stringValue != SpecialTokens.eos }))
        let cases: [(String, JSONValue?, String, [String])] = [
            ("wordpiece.json", replacing(root, ["model", "type"], .string("WordPiece")), "", ["model.type", "WordPiece"]),
            ("noeos.json", noEos, "", ["added_tokens", "<|eos|>"]),
            ("normalizer.json", replacing(root, ["normalizer"], .object([("type", .string("NFC"))])), "", ["normalizer"]),
            ("prefix.json", replacing(root, ["pre_tokenizer", "add_prefix_space"], .bool(true)), "", ["pre_tokenizer.add_prefix_space"]),
            ("dropout.json", replacing(root, ["model", "dropout"], .number("0.1")), "", ["model.dropout"]),
            ("fallback.json", replacing(root, ["model", "byte_fallback"], .bool(true)), "", ["model.byte_fallback"]),
            ("decoder.json", replacing(root, ["decoder"], .null), "", ["decoder.type"]),
            ("pretok.json", replacing(root, ["pre_tokenizer"], .object([("type", .string("Whitespace"))])), "", ["pre_tokenizer.type", "Whitespace"]),
            ("merge.json", replacing(root, ["model", "merges"], .array([.string("Ġ nosuchtoken")])), "", ["model.merges[0]"]),
            ("malformed.json", nil, "{\"model\": {\"type\": \"BPE\", ", ["malformed JSON"]),
        ]
        for (name, json, raw, needles) in cases {
            let d = failure(name, json?.serialized() ?? raw)
            for n in needles { #expect(d.contains(n), "\(name): \(d)") }
        }
        let missing = dir.file("absent.json")
        do { _ = try BPETokenizer.load(missing); Issue.record("loaded a missing file") } catch let e as DataError {
            #expect(e.description.hasPrefix(missing.path))
        }
    }

    // MARK: Trainer

    /// The result is a function of the texts' pre-token counts only: reordering
    /// the texts, or training twice, gives the same bytes.
    @Test func trainerIgnoresTextOrder() throws {
        let lines = try corpusTexts().joined().split(separator: "\n").map { String($0) + "\n" }
        #expect(lines.count > 50)
        let a = try BPETrainer.train(texts: lines, vocabSize: 400)
        let b = try BPETrainer.train(texts: Array(lines.reversed()), vocabSize: 400)
        let rotated = Array(lines[17...] + lines[..<17])
        let c = try BPETrainer.train(texts: rotated, vocabSize: 400)
        let d = try BPETrainer.train(texts: lines, vocabSize: 400)
        #expect(a.serialized() == b.serialized() && a.serialized() == c.serialized() && a.serialized() == d.serialized())
        #expect(a.merges.count == 400 - 261)
        // A prefix of the training: a smaller vocabulary's merges are the first merges of a larger one.
        let small = try BPETrainer.train(texts: lines, vocabSize: 300)
        #expect(small.merges.map { $0.left + " " + $0.right } == a.merges.prefix(300 - 261).map { $0.left + " " + $0.right })
    }

    /// The incremental trainer agrees with a naive one that recounts every
    /// pair from scratch before each merge (same tie rule: highest count,
    /// then smallest (left id, right id); same min_frequency stop).
    @Test func trainerMatchesNaiveRecount() throws {
        let texts = try corpusTexts()
        let naive = naiveMerges(texts, vocabSize: 600, minFrequency: 2)
        #expect(naive.count == 339)
        #expect(try BPETrainer.train(texts: texts, vocabSize: 600, minFrequency: 2).merges.map { $0.left + " " + $0.right } == naive)
        // Runs of one symbol and alternations: merges next to merges in one pass.
        let runs = ["aaaaaaa aaaa aaa", "abababab ababa bab", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaab", "xyxyxyxyxy  xxyy", "  \n\n\n\n    \t\t"]
        let naiveRuns = naiveMerges(runs, vocabSize: 300, minFrequency: 1)
        #expect(naiveRuns.count > 10)
        #expect(try BPETrainer.train(texts: runs, vocabSize: 300, minFrequency: 1).merges.map { $0.left + " " + $0.right } == naiveRuns)
    }

    @Test func trainerLimits() throws {
        // No merges: the bytes and the specials only.
        let t = try BPETrainer.train(texts: ["aaaa bbbb"], vocabSize: 261)
        #expect(t.vocabSize == 261 && t.merges.isEmpty && t.encode("ab") == [97, 98])
        #expect(throws: DataError.self) { try BPETrainer.train(texts: ["x"], vocabSize: 260) }
        // Stops early when no pair reaches min_frequency ("ab" occurs 3 times, everything else once).
        let early = try BPETrainer.train(texts: ["ab ab ab xy"], vocabSize: 1000, minFrequency: 3)
        #expect(early.merges.map { $0.left + $0.right } == ["ab"] && early.vocabSize == 262)
        #expect(early.encode("ab xy") == [256, 32, 120, 121])  // trained ids 0...255 are the bytes themselves
    }

    @Test func loaderSpecs() throws {
        #expect(try TokenizerLoader.load("byte").name == "byte")
        let bpe = try TokenizerLoader.load(tokenizerGolden("simply-trained.json").path)
        #expect(bpe.name.hasPrefix("bpe-") && bpe.vocabSize == 600)
        #expect(throws: DataError.self) { try TokenizerLoader.load("/nonexistent/tokenizer.json") }
    }
}
