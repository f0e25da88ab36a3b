import SimplyCore
import SimplyData

/// `HFTokenizer.parse` of a published-style tokenizer.json (normalizer,
/// Split regex, Metaspace, byte fallback, added tokens, decoders,
/// post-processor), then encode in both modes and decode a few texts.
enum HFTokenizerTarget {
    static let target = FuzzTarget(name: "hf-tokenizer", summary: "HFTokenizer from tokenizer.json bytes, then encode/decode",
                                   run: run, seeds: seeds)

    static let texts = ["Hello, world!", "  two  spaces\tand\r\nlines", "héllo wörld ☃ 🚀 日本語", "<s>[INST] hi [/INST]</s>",
                        "", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "1234567 DON'T"]

    @Sendable static func run(_ bytes: [UInt8]) {
        let configs = (tokenizer: (JSONValue.object([("eos_token", .string("</s>"))]), "tokenizer_config.json"),
                       generation: (JSONValue.object([("eos_token_id", .int(2))]), "generation_config.json"))
        guard let t = try? HFTokenizer.parse(bytes, file: "tokenizer.json", configs: (configs.tokenizer, configs.generation)) else { return }
        for text in texts + [String(decoding: bytes.suffix(80), as: UTF8.self)] {
            for ids in [t.encode(text), t.encode(text, parseSpecial: true, addSpecialTokens: true)] {
                invariant(ids.allSatisfy { $0 >= 0 }, "encode gave a negative id")
                _ = t.decode(ids)
                _ = t.decode(ids, skipSpecialTokens: true)
            }
        }
        _ = t.decode([-1, 0, t.bos, t.eos, Int32(truncatingIfNeeded: t.vocabSize), Int32.max, Int32.min])
    }

    @Sendable static func seeds() -> [[UInt8]] {
        // Llama 2 style: normalizer, byte fallback, unk, Replace/ByteFallback/Fuse/Strip decoder, a template.
        let sentencePiece = #"""
        {"version": "1.0", "truncation": null, "padding": null,
         "added_tokens": [{"id": 0, "content": "<unk>", "special": true, "normalized": false},
                          {"id": 1, "content": "<s>", "special": true, "normalized": false},
                          {"id": 2, "content": "</s>", "special": true, "normalized": false},
                          {"id": 12, "content": "[INST]", "special": true, "lstrip": true, "rstrip": true, "normalized": false},
                          {"id": 13, "content": "hi there", "single_word": true, "normalized": true}],
         "normalizer": {"type": "Sequence", "normalizers": [{"type": "Prepend", "prepend": "▁"},
                        {"type": "Replace", "pattern": {"String": " "}, "content": "▁"}]},
         "pre_tokenizer": null,
         "post_processor": {"type": "TemplateProcessing", "single": [{"SpecialToken": {"id": "<s>", "type_id": 0}},
                            {"Sequence": {"id": "A", "type_id": 0}}], "pair": [],
                            "special_tokens": {"<s>": {"id": "<s>", "ids": [1], "tokens": ["<s>"]}}},
         "decoder": {"type": "Sequence", "decoders": [{"type": "Replace", "pattern": {"String": "▁"}, "content": " "},
                     {"type": "ByteFallback"}, {"type": "Fuse"}, {"type": "Strip", "content": " ", "start": 1, "stop": 0}]},
         "model": {"type": "BPE", "dropout": null, "unk_token": "<unk>", "fuse_unk": true, "byte_fallback": true,
                   "vocab": {"<unk>": 0, "<s>": 1, "</s>": 2, "<0x41>": 3, "<0xE6>": 4, "▁": 5, "h": 6, "i": 7, "hi": 8, "▁hi": 9,
                             "e": 10, "l": 11},
                   "merges": ["h i", ["▁", "hi"]]}}
        """#
        // Llama 3 style: Split regex then ByteLevel, ignore_merges, Metaspace and Digits in a Sequence.
        let byteLevel = #"""
        {"version": "1.0", "truncation": null, "padding": null,
         "added_tokens": [{"id": 2, "content": "</s>", "special": true}],
         "normalizer": {"type": "Replace", "pattern": {"Regex": " {2,}"}, "content": " "},
         "pre_tokenizer": {"type": "Sequence", "pretokenizers": [
            {"type": "Split", "pattern": {"Regex": "(?i:'s|'t)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"},
             "behavior": "Isolated", "invert": false},
            {"type": "Digits", "individual_digits": true},
            {"type": "Metaspace", "replacement": "▁", "prepend_scheme": "first", "split": true},
            {"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": false}]},
         "post_processor": {"type": "ByteLevel"}, "decoder": {"type": "ByteLevel"},
         "model": {"type": "BPE", "dropout": null, "unk_token": null, "ignore_merges": true,
                   "vocab": {"a": 0, "b": 1, "ab": 3, "Ġ": 4, "Ġab": 5},
                   "merges": ["a b", ["Ġ", "ab"]]}}
        """#
        return [Array(sentencePiece.utf8), Array(byteLevel.utf8)]
    }
}
