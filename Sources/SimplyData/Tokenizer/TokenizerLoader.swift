import Foundation

/// Resolves a tokenizer spec as given on the command line or in a config:
/// "byte" is `ByteTokenizer`, anything else the path of a Hugging Face
/// tokenizer.json read by `BPETokenizer.load`.
public enum TokenizerLoader {
    public static func load(_ spec: String) throws -> any Tokenizer {
        if spec == "byte" { return ByteTokenizer() }
        return try BPETokenizer.load(URL(fileURLWithPath: spec))
    }
}
