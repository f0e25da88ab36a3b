import Foundation
import Testing
import SimplyCore

@Suite struct SafetensorsTests {
    let aValues: [Float] = [1, -2, 3.5, .pi, 0, -0.0]

    func sample() -> [UInt8] {
        let a = Tensor(shape: [2, 3], values: aValues)
        let b = Tensor(shape: [4], values: [7, 8, 9, 1e-30])
        return SafetensorsWriter.encode(tensors: [("b.weight", b), ("a.weight", a)], metadata: ["format": "pt", "step": "3"])
    }

    @Test func roundTripKeepsBitsNamesAndMetadata() throws {
        let bytes = sample()
        #expect(bytes == sample())                    // deterministic bytes
        let f = try SafetensorsFile.parse(bytes, name: "mem")
        #expect(f.names == ["b.weight", "a.weight"])  // data order
        #expect(f.metadata == ["format": "pt", "step": "3"])
        #expect(try f.tensor("a.weight").shape == [2, 3])
        #expect(try f.tensor("a.weight").toArray().map { $0.bitPattern } == aValues.map { $0.bitPattern })
        #expect(try f.tensor("b.weight").toArray() == [7, 8, 9, 1e-30])
        // Header is 8-byte aligned, as the format recommends.
        var len = 0
        for i in 0..<8 { len |= Int(bytes[i]) << (8 * i) }
        #expect((8 + len) % 8 == 0)
    }

    @Test func readsTheGoldenFileWrittenByPythonSafetensors() throws {
        let url = goldenURL("reference_tied.safetensors")
        let f = try SafetensorsFile.read(url)
        #expect(f.metadata["tie_embeddings"] == "true")
        #expect(try f.int32s("tokens").count == 24)          // I64 in the file
        #expect(try f.doubles("loss").count == 1)             // F64
        #expect(try f.tensor("model.norm.weight").shape == [32])
    }

    @Test func errorsNameTheFileAndTheProblem() {
        let good = sample()
        func message(_ bytes: [UInt8]) -> String {
            do { _ = try SafetensorsFile.parse(bytes, name: "x.safetensors"); return "no error" } catch { return "\(error)" }
        }
        #expect(message([1, 2, 3]).contains("x.safetensors") && message([1, 2, 3]).contains("truncated"))
        #expect(message(Array(good.prefix(20))).contains("header length"))
        #expect(message(Array(good.dropLast(4))).contains("outside the data"))
        var badJSON = good
        badJSON[9] = UInt8(ascii: "?")
        #expect(message(badJSON).contains("not valid JSON"))
        let f = try? SafetensorsFile.parse(good, name: "x.safetensors")
        #expect(throws: SafetensorsError.self) { _ = try f?.tensor("missing") }
        do { _ = try f?.int32s("a.weight") } catch { #expect("\(error)".contains("not I32 or I64")) }
    }

    /// A file in the layout Python's safetensors writes, built by hand: other
    /// dtypes, no padding, metadata first.
    func handMade(_ tensors: [(String, String, [Int], [UInt8])], metadata: String = "") -> [UInt8] {
        var parts: [String] = metadata.isEmpty ? [] : ["\"__metadata__\":\(metadata)"]
        var data: [UInt8] = [], offset = 0
        for (name, dtype, shape, bytes) in tensors {
            parts.append("\"\(name)\":{\"dtype\":\"\(dtype)\",\"shape\":[\(shape.map(String.init).joined(separator: ","))],\"data_offsets\":[\(offset),\(offset + bytes.count)]}")
            data += bytes; offset += bytes.count
        }
        let header = Array(("{" + parts.joined(separator: ",") + "}").utf8)
        var out: [UInt8] = []
        withUnsafeBytes(of: UInt64(header.count).littleEndian) { out.append(contentsOf: $0) }
        return out + header + data
    }

    func le<T: FixedWidthInteger>(_ values: [T]) -> [UInt8] {
        values.flatMap { v in withUnsafeBytes(of: v.littleEndian) { Array($0) } }
    }

    @Test func convertsOtherFloatTypesAndIntegers() throws {
        let f64 = le([1.5, -0.25, 1e-3].map { (x: Double) in x.bitPattern })
        let f16 = le([Float16(1.5), Float16(-2), Float16(0.099975586)].map(\.bitPattern))
        let bf16 = le([UInt16(0x3FC0), 0xC000, 0x0000])                       // 1.5, -2, 0
        let i64 = le([Int64(5), -7, 66])
        let i32 = le([Int32(1), 2, Int32.max])
        let bytes = handMade([("d", "F64", [3], f64), ("h", "F16", [1, 3], f16), ("b", "BF16", [3], bf16),
                              ("l", "I64", [3], i64), ("i", "I32", [3], i32)], metadata: "{\"k\":\"v\"}")
        let f = try SafetensorsFile.parse(bytes, name: "mem")
        #expect(f.names == ["d", "h", "b", "l", "i"])
        #expect(f.metadata == ["k": "v"])
        #expect(try f.tensor("d").toArray() == [1.5, -0.25, Float(1e-3 as Double)])
        #expect(try f.tensor("h").shape == [1, 3])
        #expect(try f.tensor("h").toArray() == [1.5, -2, Float(Float16(0.099975586))])
        #expect(try f.tensor("b").toArray() == [1.5, -2, 0])
        #expect(try f.int32s("l") == [5, -7, 66])
        #expect(try f.int32s("i") == [1, 2, Int32.max])
        #expect(throws: SafetensorsError.self) { _ = try f.tensor("l") }      // integers are not floats
        let big = handMade([("l", "I64", [1], le([Int64(1) << 40]))])
        #expect(throws: SafetensorsError.self) { _ = try SafetensorsFile.parse(big, name: "mem").int32s("l") }
    }

    @Test func corruptHeadersAreErrorsNamingTheProblem() {
        func message(_ bytes: [UInt8]) -> String {
            do { _ = try SafetensorsFile.parse(bytes, name: "y.safetensors"); return "no error" } catch { return "\(error)" }
        }
        let unknown = message(handMade([("a", "F8_E9", [2], [0, 0])]))
        #expect(unknown.contains("y.safetensors") && unknown.contains("F8_E9") && unknown.contains("'a'"))
        #expect(message(handMade([("a", "F32", [3], [0, 0, 0, 0])])).contains("needs 12"))   // size mismatch
        #expect(message(handMade([("a", "F32", [1], [0, 0, 0, 0])], metadata: "{\"k\":1}")).contains("__metadata__"))
        #expect(message(handMade([("a", "F32", [-1], [])])).contains("bad shape"))
        var hugeLength = handMade([("a", "F32", [1], [0, 0, 0, 0])])
        hugeLength[7] = 0x7F
        #expect(message(hugeLength).contains("header length"))
        #expect(message([]).contains("truncated"))
        #expect(message(Array(repeating: 0, count: 8)).contains("header length"))  // zero-length header
        #expect(message(handMade([("a", "F32", [1], [0, 0, 0, 0])]) + [1, 2, 3, 4]).contains("trailing"))
        #expect(message(handMade([("a", "F32", [1], [0, 0, 0, 0]), ("a", "F32", [1], [0, 0, 0, 0])])).contains("twice"))
        // Two tensors claiming the same bytes.
        var overlap = handMade([("a", "F32", [1], [0, 0, 0, 0]), ("b", "F32", [1], [0, 0, 0, 0])])
        let text = String(decoding: overlap, as: UTF8.self).replacingOccurrences(of: "[4,8]", with: "[0,4]")
        overlap = Array(text.utf8)
        #expect(message(overlap).contains("overlapping"))
    }
}
