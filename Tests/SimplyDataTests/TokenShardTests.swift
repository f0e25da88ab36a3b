import Foundation
import Testing
import SimplyCore
import SimplyData

@Suite struct TokenShardTests {
    @Test func roundTripNarrow() throws {
        let dir = try TempDir()
        let url = dir.file("a.tokens")
        let tokens: [Int32] = [0, 1, 255, 256, 257, 258, 72, 0, 258]
        try TokenShard.write(tokens: tokens, vocabSize: 259, tokenizerName: "byte", documentCount: 2, to: url)
        #expect(!FileManager.default.fileExists(atPath: url.path + ".tmp"))
        let size = try FileManager.default.attributesOfItem(atPath: url.path)[.size] as? Int
        #expect(size == 128 + 2 * tokens.count)
        let s = try TokenShard.read(url)
        #expect(s.tokens == tokens)
        #expect(s.vocabSize == 259)
        #expect(s.tokenizerName == "byte")
        #expect(s.documentCount == 2)
        // The hash covers exactly the stored little-endian 16-bit tokens.
        let stored = tokens.flatMap { [UInt8($0 & 0xFF), UInt8($0 >> 8)] }
        #expect(s.contentHash == sha256Hex(stored))
        let bytes = [UInt8](try Data(contentsOf: url))
        #expect(Array(bytes[0..<8]) == Array("SIMPLYTK".utf8))
        #expect(Array(bytes[128...]) == stored)
    }

    @Test func roundTripWide() throws {
        let dir = try TempDir()
        let url = dir.file("wide.tokens")
        let tokens: [Int32] = [0, 65535, 65536, 99_999, 7]
        try TokenShard.write(tokens: tokens, vocabSize: 100_000, tokenizerName: "bpe-100k", documentCount: 1, to: url)
        let s = try TokenShard.read(url)
        #expect(s.tokens == tokens && s.vocabSize == 100_000 && s.tokenizerName == "bpe-100k")
        let size = try FileManager.default.attributesOfItem(atPath: url.path)[.size] as? Int
        #expect(size == 128 + 4 * tokens.count)
    }

    @Test func sameTokensSameBytes() throws {
        let dir = try TempDir()
        let tokens: [Int32] = (0..<1000).map { Int32($0 % 259) }
        try TokenShard.write(tokens: tokens, vocabSize: 259, tokenizerName: "byte", documentCount: 3, to: dir.file("x"))
        try TokenShard.write(tokens: tokens, vocabSize: 259, tokenizerName: "byte", documentCount: 3, to: dir.file("y"))
        #expect(try Data(contentsOf: dir.file("x")) == Data(contentsOf: dir.file("y")))
    }

    @Test func unwritableDestinationLeavesNothing() throws {
        let dir = try TempDir()
        let url = dir.file("no-such-dir/x.tokens")
        #expect(throws: DataError.self) {
            try TokenShard.write(tokens: [1], vocabSize: 259, tokenizerName: "byte", documentCount: 1, to: url)
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.url.path).isEmpty)
    }

    @Test func rejectsOutOfRangeTokensOnWrite() throws {
        let dir = try TempDir()
        #expect(throws: DataError.self) {
            try TokenShard.write(tokens: [1, 259], vocabSize: 259, tokenizerName: "byte", documentCount: 1, to: dir.file("bad"))
        }
    }

    func writeSample(_ dir: TempDir) throws -> (URL, [UInt8]) {
        let url = dir.file("sample.tokens")
        let tokens = ByteTokenizer().encode("the quick brown fox") + [257]
        try TokenShard.write(tokens: tokens, vocabSize: 259, tokenizerName: "byte", documentCount: 1, to: url)
        return (url, [UInt8](try Data(contentsOf: url)))
    }

    func readError(_ url: URL) -> String? {
        do { _ = try TokenShard.read(url); return nil } catch { return "\(error)" }
    }

    @Test func truncatedFile() throws {
        let dir = try TempDir()
        let (url, bytes) = try writeSample(dir)
        try Data(bytes.dropLast(3)).write(to: url)
        let msg = try #require(readError(url))
        #expect(msg.contains(url.path) && msg.contains("token_count"), "\(msg)")
        try Data(bytes.prefix(50)).write(to: url)
        let msg2 = try #require(readError(url))
        #expect(msg2.contains(url.path) && msg2.contains("truncated"), "\(msg2)")
    }

    @Test func wrongMagic() throws {
        let dir = try TempDir()
        var (url, bytes) = try writeSample(dir)
        bytes[0] = UInt8(ascii: "X")
        try Data(bytes).write(to: url)
        let msg = try #require(readError(url))
        #expect(msg.contains(url.path) && msg.contains("magic"), "\(msg)")
    }

    @Test func wrongVersion() throws {
        let dir = try TempDir()
        var (url, bytes) = try writeSample(dir)
        bytes[8] = 9
        try Data(bytes).write(to: url)
        let msg = try #require(readError(url))
        #expect(msg.contains(url.path) && msg.contains("version"), "\(msg)")
    }

    @Test func corruptedTokenByte() throws {
        let dir = try TempDir()
        var (url, bytes) = try writeSample(dir)
        bytes[128 + 6] ^= 0x01
        try Data(bytes).write(to: url)
        let msg = try #require(readError(url))
        #expect(msg.contains(url.path) && msg.contains("sha256") && msg.contains("corrupted"), "\(msg)")
    }

    @Test func missingFile() throws {
        let dir = try TempDir()
        let msg = try #require(readError(dir.file("nope.tokens")))
        #expect(msg.contains("nope.tokens"), "\(msg)")
    }
}
