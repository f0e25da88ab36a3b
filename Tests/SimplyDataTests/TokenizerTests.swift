import Testing
import SimplyData

@Suite struct TokenizerTests {
    let tok = ByteTokenizer()

    @Test func constants() {
        #expect(tok.vocabSize == 259)
        #expect(tok.bos == 256 && tok.eos == 257 && tok.pad == 258)
        #expect(tok.name == "byte")
    }

    @Test func asciiRoundTrip() {
        let s = "Hello, world!\n\t12 plus 7 is 19."
        let ids = tok.encode(s)
        #expect(ids.count == s.utf8.count)
        #expect(ids.prefix(5) == [72, 101, 108, 108, 111])
        #expect(tok.decode(ids) == s)
    }

    @Test func multiByteRoundTrip() {
        let s = "naïve café — 日本語 🙂 Ελληνικά"
        let ids = tok.encode(s)
        #expect(ids.count == s.utf8.count)
        #expect(ids.count > s.count)  // really multi-byte
        #expect(ids.allSatisfy { $0 >= 0 && $0 < 256 })
        #expect(tok.decode(ids) == s)
        #expect(tok.encode("é") == [0xC3, 0xA9])
    }

    @Test func specialsDecode() {
        let ids: [Int32] = [tok.bos] + tok.encode("hi é") + [tok.eos, tok.pad, 999]
        #expect(tok.decode(ids) == "<|bos|>hi é<|eos|><|pad|><|unk:999|>")
        #expect(tok.encode("") == [])
        #expect(tok.decode([]) == "")
    }
}
