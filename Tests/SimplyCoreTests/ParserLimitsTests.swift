import Foundation
import Testing
import SimplyCore

/// Inputs that once trapped or allocated without bound are errors naming the problem.
@Suite struct ParserLimitsTests {
    @Test func unicodeEscapeTakesExactlyFourHexDigits() throws {
        #expect(try JSONValue.parse(#""\u00e9\u00C9""#) == .string("éÉ"))
        #expect(try JSONValue.parse(#""\ud83d\ude80""#) == .string("🚀"))
        for bad in [#""\u+123""#, #""\u-123""#, #""\u 123""#, #""\u12""#, #""\u12g4""#, #""\ud83d\u+e80""#, #""\udc00""#] {
            #expect(throws: JSONParseError.self, "\(bad)") { try JSONValue.parse(bad) }
        }
        do { _ = try JSONValue.parse(#"["\u+123"]"#) } catch { #expect("\(error)".contains("expected 4 hex digits")) }
    }

    /// A safetensors header by hand.
    func file(_ header: String, data: [UInt8] = []) -> [UInt8] {
        let h = Array(header.utf8)
        var out: [UInt8] = []
        withUnsafeBytes(of: UInt64(h.count).littleEndian) { out.append(contentsOf: $0) }
        return out + h + data
    }

    func message(_ body: () throws -> Void) -> String {
        do { try body(); return "" } catch { return "\(error)" }
    }

    @Test func safetensorsShapeOverflowIsAnError() {
        for shape in ["[4294967296, 4294967296]", "[4611686018427387904, 4]", "[3037000500, 3037000500, 0]"] {
            let m = message { _ = try SafetensorsFile.parse(file(#"{"a":{"dtype":"F32","shape":\#(shape),"data_offsets":[0,0]}}"#), name: "x.safetensors") }
            #expect(m.contains("x.safetensors") && m.contains("'a'") && m.contains("too many elements"), "\(shape): \(m)")
        }
        // A zero dimension first keeps the product at zero: an empty tensor, not an error.
        let empty = try? SafetensorsFile.parse(file(#"{"a":{"dtype":"F32","shape":[0, 4294967296, 4294967296],"data_offsets":[0,0]}}"#), name: "x")
        #expect(empty?.entries["a"]?.count == 0)
        #expect(SafetensorsFile.elementCount([1 << 32, 1 << 31]) == nil)
        #expect(SafetensorsFile.elementCount([1 << 31, 1 << 31]) == 1 << 62)
        #expect(SafetensorsFile.elementCount([]) == 1)
    }

    @Test func integerTensorIsRefusedAsFloat() throws {
        let f = try SafetensorsFile.parse(file(#"{"i":{"dtype":"I64","shape":[2],"data_offsets":[0,16]}}"#, data: [UInt8](repeating: 1, count: 16)),
                                          name: "x")
        #expect(message { _ = try f.tensor("i") }.contains("not a float type"))
        #expect(message { _ = try f.int32s("i") }.contains("does not fit Int32"))
        #expect(message { _ = try f.doubles("i") }.contains("not a float type"))
    }

    @Test func fileBytesNamesTheCause() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("simply-filebytes-\(getpid())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        #expect(message { _ = try FileBytes.read(dir) } == "\(dir.path): is a directory, expected a file")
        #expect(message { _ = try SafetensorsFile.read(dir) } == "\(dir.path): is a directory, expected a file")
        let missing = dir.appendingPathComponent("missing")
        #expect(message { _ = try FileBytes.read(missing) } == "\(missing.path): cannot open: No such file or directory")
        let small = dir.appendingPathComponent("small")
        try Data([1, 2, 3]).write(to: small)
        #expect(try FileBytes.read(small) == [1, 2, 3])
        #expect(message { _ = try FileBytes.read(small, limit: 2) }.contains("more than the 2-byte limit"))
        try Data().write(to: small)
        #expect(try FileBytes.read(small) == [])
    }
}

@Suite struct BriefTests {
    /// Values quoted in errors stay short however large the input.
    @Test func briefCutsLongValues() throws {
        #expect(JSONValue.int(5).brief() == "5")
        #expect(JSONValue.string("ab").brief() == "\"ab\"")
        let long = JSONValue.array(Array(repeating: .int(1), count: 10_000))
        let b = long.brief(limit: 20)
        #expect(b == "[1,1,1,1,1,1,1,1,1,1… (20001 bytes)")
    }
}
