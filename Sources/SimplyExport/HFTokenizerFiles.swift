import SimplyCore
import SimplyData

/// The tokenizer files of an exported model.
public enum HFTokenizerFiles {
    /// The built-in byte tokenizer as a Hugging Face tokenizer.json: a
    /// byte-level BPE whose vocabulary is the 256 byte characters with id =
    /// byte value and no merges, plus bos/eos/pad as special added tokens at
    /// 256, 257, 258. Every text encodes to the ids `ByteTokenizer` gives
    /// (tools/interop/hf_interop.py checks it with `tokenizers`).
    public static func byteTokenizer() throws -> BPETokenizer {
        let b = ByteTokenizer()
        let vocab = (0..<256).map { (token: String(Character(ByteLevel.scalars[$0])), id: Int32($0)) }
        let added = [(b.bos, SpecialTokens.bos), (b.eos, SpecialTokens.eos), (b.pad, SpecialTokens.pad)].map {
            BPETokenizer.AddedToken(id: $0.0, content: $0.1, special: true)
        }
        return try BPETokenizer(vocab: vocab, merges: [], addedTokens: added)
    }

    /// True when `t` is `byteTokenizer()` (however the file was formatted).
    public static func isByteTokenizer(_ t: BPETokenizer) -> Bool {
        guard let byte = try? byteTokenizer() else { return false }
        return t.serialized() == byte.serialized()
    }

    /// Simply's chat template (ChatTemplate.swift) in Jinja: bos, then ChatML
    /// turns. With the byte tokenizer the markers are plain text on both sides;
    /// with a trained BPE they are its special tokens on both sides.
    public static let chatTemplate =
        "{{ bos_token }}{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n' }}{% endfor %}"
        + "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"

    /// tokenizer_config.json: a `PreTrainedTokenizerFast` over tokenizer.json
    /// that adds no bos/eos by itself (as Simply's `encode`).
    public static func tokenizerConfig(_ t: any Tokenizer, maxLength: Int) -> JSONValue {
        .object([
            ("tokenizer_class", .string("PreTrainedTokenizerFast")),
            ("bos_token", .string(SpecialTokens.bos)),
            ("eos_token", .string(SpecialTokens.eos)),
            ("pad_token", .string(SpecialTokens.pad)),
            ("add_bos_token", .bool(false)),
            ("add_eos_token", .bool(false)),
            ("clean_up_tokenization_spaces", .bool(false)),
            ("model_max_length", .int(maxLength)),
            ("chat_template", .string(chatTemplate)),
        ])
    }

    /// generation_config.json: generation stops at eos and at the end of a
    /// chat turn, as Simply's sampler does. A tokenizer with `<|im_end|>` as
    /// one special token lists its id next to eos; the byte tokenizer spells
    /// it in 10 tokens, so it is a stop string (transformers' `generate`
    /// honours `stop_strings` when it is given the tokenizer).
    public static func generationConfig(_ ids: HFTokenIds, endOfTurn: [Int32]) -> JSONValue {
        var fields: [(String, JSONValue)] = [("bos_token_id", .int(Int(ids.bos)))]
        if endOfTurn.count == 1 {
            fields.append(("eos_token_id", .array([.int(Int(ids.eos)), .int(Int(endOfTurn[0]))])))
        } else {
            fields.append(("eos_token_id", .int(Int(ids.eos))))
            fields.append(("stop_strings", .array([.string(SpecialTokens.imEnd)])))
        }
        fields.append(("pad_token_id", .int(Int(ids.pad))))
        return .object(fields)
    }
}
