import Testing
import SimplyCore

@Suite struct JSONTests {
    @Test func roundTripKeepsNumberTextAndSortsKeys() throws {
        let v = try JSONValue.parse(#"{"b": 1.50, "a": [true, null, "x\n\u00e9\ud83d\ude00"], "c": {"z": -2e-3, "y": 0}}"#)
        #expect(v.serialized() == #"{"a":[true,null,"x\né😀"],"b":1.50,"c":{"y":0,"z":-2e-3}}"#)
        #expect(try JSONValue.parse(v.serialized()).serialized() == v.serialized())
        #expect(try JSONValue.parse(v.serialized()) != v)  // == keeps key order; serialized() sorts
        #expect(v["b"]?.doubleValue == 1.5)
        #expect(v["c"]?["y"]?.intValue == 0)
    }

    @Test func rejectsMalformedInput() {
        for bad in ["", "{", "{\"a\" 1}", "[1,]", "01x", "\"unterminated", "{\"a\":1} x", "[1 2]", "tru"] {
            #expect(throws: JSONParseError.self, "\(bad)") { try JSONValue.parse(bad) }
        }
    }

    @Test func doublesUseShortestRoundTripForm() {
        #expect(JSONValue.double(0.1).serialized() == "0.1")
        #expect(JSONValue.double(3).serialized() == "3")
        #expect(JSONValue.double(1e-8).serialized() == "1e-08")
        #expect(JSONValue.double(.nan).serialized() == "null")
    }
}
