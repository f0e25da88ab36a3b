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
}
