import Foundation
import Testing
import SimplyCore
import SimplyData
import SimplyRun

/// The repository root, found from this file's path.
private let repositoryRoot = URL(fileURLWithPath: #filePath)
    .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

private func parityFile(_ name: String) -> URL {
    repositoryRoot.appendingPathComponent("golden/hf/tokenizer-parity").appendingPathComponent(name)
}

/// golden/hf/tokenizer-parity, written by tools/interop/tokenizer_parity.py
/// with Python `tokenizers` 0.23: a corpus of about 1 MB the fixtures'
/// tokenizers were not trained on, and the ids Python gives for every record
/// with every tokenizer kind.
private struct Parity {
    struct Kind { let name: String; let tokenizer: HFTokenizer; let decodeDiffers: [Int: String] }
    struct Record { let text: String; let line: Int; let ids: [(plain: [Int32], special: [Int32])] }
    let corpusBytes: Int
    let kinds: [Kind]
    let records: [Record]

    /// Loaded once for all tests (a few seconds in a debug build).
    static let shared = Result { try Parity.read() }
    static func load() throws -> Parity { try shared.get() }

    private static func read() throws -> Parity {
        let manifest = try JSONValue.parse(String(decoding: try FileBytes.read(parityFile("manifest.json")), as: UTF8.self))
        guard case let .array(kindItems)? = manifest["kinds"], let recordCount = manifest["records"]?.intValue else {
            throw DataError("manifest.json: no kinds or records")
        }
        var kinds: [Kind] = []
        for k in kindItems {
            guard let name = k["name"]?.stringValue, let path = k["tokenizer"]?.stringValue else { throw DataError("manifest.json: bad kind") }
            let loaded = try TokenizerLoader.load(repositoryRoot.appendingPathComponent(path).path)
            guard let t = loaded as? HFTokenizer else { throw DataError("\(path) did not load as HFTokenizer") }
            var differs: [Int: String] = [:]
            if case let .array(items)? = manifest["decode_differs"]?[name] {
                for item in items {
                    guard case let .array(pair) = item, pair.count == 2, let i = pair[0].intValue, let h = pair[1].stringValue else {
                        throw DataError("manifest.json: bad decode_differs entry")
                    }
                    differs[i] = h
                }
            }
            kinds.append(Kind(name: name, tokenizer: t, decodeDiffers: differs))
        }
        let corpus = try CheckpointZstd.decompress(try FileBytes.read(parityFile("corpus.txt.zst")), name: "corpus.txt.zst")
        let raw = try CheckpointZstd.decompress(try FileBytes.read(parityFile("ids.bin.zst")), name: "ids.bin.zst")
        var at = 0
        func u32() throws -> Int {
            guard at + 4 <= raw.count else { throw DataError("ids.bin: truncated at byte \(at)") }
            let v = Int(raw[at]) | Int(raw[at + 1]) << 8 | Int(raw[at + 2]) << 16 | Int(raw[at + 3]) << 24
            at += 4
            return v
        }
        var records: [Record] = []
        var offset = 0, line = 1
        for _ in 0..<recordCount {
            let length = try u32()
            guard offset + length <= corpus.count else { throw DataError("ids.bin: record past the corpus") }
            let bytes = corpus[offset..<(offset + length)]
            var ids: [([Int32], [Int32])] = []
            for _ in kinds {
                let n = try u32(), m = try u32()
                var a: [Int32] = [], b: [Int32] = []
                for _ in 0..<n { a.append(Int32(try u32())) }
                for _ in 0..<m { b.append(Int32(try u32())) }
                ids.append((a, b))
            }
            records.append(Record(text: String(decoding: bytes, as: UTF8.self), line: line, ids: ids))
            line += bytes.reduce(0) { $0 + ($1 == 0x0A ? 1 : 0) }
            offset += length
        }
        guard offset == corpus.count, at == raw.count else { throw DataError("ids.bin does not cover the corpus exactly") }
        return Parity(corpusBytes: corpus.count, kinds: kinds, records: records)
    }
}

/// Where two id lists first differ, with the text the common prefix decodes to.
private func mismatch(_ kind: String, _ mode: String, _ r: Parity.Record, _ index: Int, _ t: HFTokenizer,
                      got: [Int32], want: [Int32]) -> String {
    let k = zip(got, want).prefix { $0 == $1 }.count
    let prefix = t.decode(Array(want.prefix(k)))
    let line = r.line + prefix.reduce(0) { $0 + ($1 == "\n" ? 1 : 0) }
    let context = String(r.text.dropFirst(prefix.count).prefix(40))
    return "\(kind) \(mode): record \(index) (corpus line \(line)), token \(k): got \(Array(got.dropFirst(k).prefix(8))) "
        + "want \(Array(want.dropFirst(k).prefix(8))) before \(JSONValue.string(context).brief())"
}

@Suite(.serialized)
struct TokenizerParityTests {
    @Test func corpusIsLargeAndMixed() throws {
        let p = try Parity.load()
        #expect(p.corpusBytes >= 1 << 20)
        #expect(p.kinds.map(\.name) == ["llama3", "qwen2", "mistral", "smollm2", "llama2-legacy", "metaspace-digits",
                                        "added-flags", "added-normalized", "unk-fused", "split-behaviors", "qwen2-nfc", "llama3-nfkc"])
        let text = p.records.map(\.text).joined()
        // English, code, Chinese, Japanese, Korean, Cyrillic, emoji with a skin tone, Arabic digits, chat markup.
        for probe in ["GNU GENERAL PUBLIC LICENSE", "def ", "文件", "ファイル", "파일", "Русский", "🧖🏿", "٣", "<|im_start|>"] {
            let found = text.contains(probe)
            #expect(found, "corpus lacks \(probe)")
        }
    }

    /// Every record, every kind: Simply's ids are Python's, in both modes.
    @Test func idsMatchPythonOnTheWholeCorpus() throws {
        let p = try Parity.load()
        var failures: [String] = []
        for (k, kind) in p.kinds.enumerated() {
            var bad = 0
            var bytes = 0
            let clock = ContinuousClock()
            var elapsed = Duration.zero
            for (i, r) in p.records.enumerated() {
                let start = clock.now
                let plain = kind.tokenizer.encode(r.text)
                elapsed += clock.now - start
                bytes += r.text.utf8.count
                let special = kind.tokenizer.encode(r.text, parseSpecial: true, addSpecialTokens: true)
                if plain != r.ids[k].plain {
                    if bad == 0 { failures.append(mismatch(kind.name, "encode", r, i, kind.tokenizer, got: plain, want: r.ids[k].plain)) }
                    bad += 1
                }
                if special != r.ids[k].special {
                    if bad == 0 {
                        failures.append(mismatch(kind.name, "parseSpecial+addSpecialTokens", r, i, kind.tokenizer,
                                                 got: special, want: r.ids[k].special))
                    }
                    bad += 1
                }
            }
            let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) * 1e-18
            print("parity \(kind.name): \(p.records.count) records, \(bad) mismatching, encode \(String(format: "%.2f", Double(bytes) / 1e6 / seconds)) MB/s")
            if bad > 0 { failures.append("\(kind.name): \(bad) mismatching record encodings") }
        }
        #expect(failures.isEmpty, "\(failures.joined(separator: "\n"))")
    }

    /// decode(encode(x)) is x, except where Python's decode is not x either
    /// (a Metaspace kind's lost leading space, normalized added tokens): there
    /// it is exactly what Python decodes.
    @Test func decodeMatchesPython() throws {
        let p = try Parity.load()
        var failures: [String] = []
        for (k, kind) in p.kinds.enumerated() {
            var roundTrips = 0
            for (i, r) in p.records.enumerated() {
                let d = kind.tokenizer.decode(r.ids[k].plain)
                if let digest = kind.decodeDiffers[i] {
                    if sha256Hex(Array(d.utf8)) != digest { failures.append("\(kind.name): record \(i) decodes unlike Python") }
                } else if d != r.text {
                    let k = zip(d, r.text).prefix { $0 == $1 }.count
                    failures.append("\(kind.name): record \(i) (line \(r.line)) does not round-trip at character \(k): "
                                    + JSONValue.string(String(d.dropFirst(k).prefix(30))).brief())
                } else {
                    roundTrips += 1
                }
            }
            if ["llama3", "qwen2", "smollm2", "llama2-legacy"].contains(kind.name) { #expect(roundTrips == p.records.count, "\(kind.name)") }
        }
        #expect(failures.isEmpty, "\(failures.prefix(10).joined(separator: "\n"))")
    }
}
