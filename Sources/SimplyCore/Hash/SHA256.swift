import CCrypto

/// Streaming SHA-256 through OpenSSL's libcrypto (EVP interface).
public final class SHA256Hasher {
    private let ctx: OpaquePointer

    public init() {
        guard let ctx = EVP_MD_CTX_new() else { fatalError("EVP_MD_CTX_new failed") }
        self.ctx = ctx
        precondition(EVP_DigestInit_ex(ctx, EVP_sha256(), nil) == 1)
    }

    deinit { EVP_MD_CTX_free(ctx) }

    public func update(_ bytes: UnsafeRawBufferPointer) {
        if bytes.count == 0 { return }
        precondition(EVP_DigestUpdate(ctx, bytes.baseAddress, bytes.count) == 1)
    }

    public func update(_ bytes: [UInt8]) { bytes.withUnsafeBytes { update($0) } }

    public func update(_ string: String) { update(Array(string.utf8)) }

    public func update(_ tensor: Tensor) { tensor.withBytes { update($0) } }

    /// Little-endian bytes of an integer.
    public func update(_ value: Int64) {
        withUnsafeBytes(of: value.littleEndian) { update($0) }
    }

    /// Finishes and returns the 32-byte digest. The hasher cannot be reused.
    public func finalize() -> [UInt8] {
        var out = [UInt8](repeating: 0, count: 32)
        var len: UInt32 = 0
        precondition(EVP_DigestFinal_ex(ctx, &out, &len) == 1 && len == 32)
        return out
    }

    public func finalizeHex() -> String { hex(finalize()) }
}

public func sha256Hex(_ bytes: [UInt8]) -> String {
    let h = SHA256Hasher()
    h.update(bytes)
    return h.finalizeHex()
}

public func hex(_ bytes: [UInt8]) -> String {
    let digits: [Character] = Array("0123456789abcdef")
    var s = ""
    s.reserveCapacity(bytes.count * 2)
    for b in bytes { s.append(digits[Int(b >> 4)]); s.append(digits[Int(b & 15)]) }
    return s
}
