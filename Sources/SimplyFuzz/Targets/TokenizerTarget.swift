import SimplyData
import SimplyExport

/// `BPETokenizer.parse` of a tokenizer.json, then encode and decode a few
/// texts; a loaded tokenizer's own serialization must load again.
enum TokenizerTarget {
    static let target = FuzzTarget(name: "tokenizer", summary: "BPETokenizer from tokenizer.json bytes, then encode/decode",
                                   run: run, seeds: seeds)

    static let texts = ["Hello, world!", "  two  spaces\tand\r\nlines", "héllo wörld ☃ 🚀 日本語", "<|eos|><|im_start|>",
                        "", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "1234567 don't"]

    @Sendable static func run(_ bytes: [UInt8]) {
        guard let t = try? BPETokenizer.parse(bytes, file: "tokenizer.json") else { return }
        for text in texts + [String(decoding: bytes.suffix(80), as: UTF8.self)] {
            let ids = t.encode(text)
            invariant(ids.allSatisfy { $0 >= 0 && Int($0) < t.vocabSize }, "encode gave an id outside the vocabulary")
            _ = t.decode(ids)
        }
        _ = t.decode([-1, 0, t.bos, t.eos, Int32(truncatingIfNeeded: t.vocabSize), Int32.max, Int32.min])
        _ = t.specialToken("<|im_start|>")
        invariant((try? BPETokenizer.parse(Array(t.serialized().utf8), file: "rewritten"))?.name == t.name,
                  "a loaded tokenizer's serialization does not load to the same tokenizer")
    }

    @Sendable static func seeds() -> [[UInt8]] {
        var out: [[UInt8]] = []
        if let byte = try? HFTokenizerFiles.byteTokenizer() { out.append(Array(byte.serialized().utf8)) }
        let corpus = ["the cat sat on the mat", "the dog sat on the log", "hello hello world", "aaaa bbbb aaaa"]
        if let trained = try? BPETrainer.train(texts: corpus, vocabSize: 300, minFrequency: 1) {
            out.append(Array(trained.serialized().utf8))
        }
        // A small hand-written file: legacy "a b" merges, an unk token, Sequence pre-tokenizer.
        let hand = #"""
        {"version": "1.0", "truncation": null, "padding": null,
         "added_tokens": [{"id": 6, "content": "<|bos|>", "special": true}, {"id": 7, "content": "<|eos|>", "special": true},
                          {"id": 8, "content": "<|pad|>", "special": true, "normalized": false}],
         "normalizer": null,
         "pre_tokenizer": {"type": "Sequence", "pretokenizers": [{"type": "ByteLevel", "add_prefix_space": false, "use_regex": true}]},
         "post_processor": {"type": "ByteLevel"}, "decoder": {"type": "ByteLevel"},
         "model": {"type": "BPE", "dropout": null, "unk_token": "<unk>", "fuse_unk": false, "byte_fallback": false,
                   "vocab": {"<unk>": 0, "a": 1, "b": 2, "ab": 3, "Ġ": 4, "Ġab": 5},
                   "merges": ["a b", ["Ġ", "ab"]]}}
        """#
        out.append(Array(hand.utf8))
        return out
    }
}
