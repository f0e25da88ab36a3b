import Testing
import SimplyCore

/// FIPS 180-2 example vectors (NIST): the hashes every run records must be real SHA-256.
@Suite struct SHA256Tests {
    @Test func nistVectors() {
        #expect(sha256Hex(Array("abc".utf8)) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        #expect(sha256Hex([]) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        #expect(sha256Hex(Array("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq".utf8))
                == "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
    }

    @Test func streamingEqualsOneShot() {
        let bytes = (0..<100_000).map { UInt8(truncatingIfNeeded: $0 &* 31) }
        let h = SHA256Hasher()
        h.update(Array(bytes[..<777]))
        h.update(Array(bytes[777...]))
        #expect(h.finalizeHex() == sha256Hex(bytes))
        let t = Tensor(shape: [2], values: [1, -2])
        let th = SHA256Hasher()
        th.update(t)
        #expect(th.finalizeHex() == sha256Hex([0, 0, 0x80, 0x3f, 0, 0, 0, 0xc0]))  // little-endian float32 bytes
    }
}
