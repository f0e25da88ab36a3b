import Foundation
import SimplyCore

/// Resolves a tokenizer spec as given on the command line or in a config:
/// "byte" is `ByteTokenizer`; anything else the path of a Hugging Face
/// tokenizer.json, or of a directory holding one. A file that
/// `BPETokenizer` reads (Simply's own tokenizers: byte-level BPE with the
/// `<|bos|>`, `<|eos|>`, `<|pad|>` specials) loads as `BPETokenizer`, so its
/// name and ids stay what they were; any other loads as `HFTokenizer`, with
/// bos/eos/pad from the tokenizer_config.json / generation_config.json
/// beside it, and the chat template there (chat_template.jinja or
/// tokenizer_config.json's chat_template) as its `chatTemplate`.
public enum TokenizerLoader {
    public static func load(_ spec: String) throws -> any Tokenizer {
        if spec == "byte" { return ByteTokenizer() }
        var url = URL(fileURLWithPath: spec)
        var isDir: ObjCBool = false
        if FileManager.default.fileExists(atPath: url.path, isDirectory: &isDir), isDir.boolValue {
            let inside = url.appendingPathComponent("tokenizer.json")
            guard FileManager.default.fileExists(atPath: inside.path) else {
                throw DataError(url, "is a directory without a tokenizer.json")
            }
            url = inside
        }
        let bytes: [UInt8]
        do { bytes = try FileBytes.read(url, limit: HFTokenizer.maxFileBytes) } catch { throw DataError(url, error.reason) }
        if let own = try? BPETokenizer.parse(bytes, file: url.path) { return own }
        let configs = try HFTokenizer.configs(besides: url)
        var t = try HFTokenizer.parse(bytes, file: url.path, configs: configs)
        try t.attachChat(directory: url.deletingLastPathComponent(), tokenizerConfig: configs.tokenizer?.0,
                         generation: configs.generation)
        return t
    }
}
