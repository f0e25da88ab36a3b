import SimplyCore

/// `JSONValue.parse`; a parsed value must serialize to text that parses
/// back to the same serialization (compact and pretty forms).
enum JSONTarget {
    static let target = FuzzTarget(name: "json", summary: "JSONValue.parse, then serialized()/pretty() round trips",
                                   run: run, seeds: seeds)

    @Sendable static func run(_ bytes: [UInt8]) {
        guard let v = try? JSONValue.parse(String(decoding: bytes, as: UTF8.self)) else { return }
        let compact = v.serialized()
        let again = try? JSONValue.parse(compact)
        invariant(again?.serialized() == compact, "serialized() does not round-trip: \(compact.prefix(200))")
        let pretty = try? JSONValue.parse(v.pretty())
        invariant(pretty?.serialized() == compact, "pretty() does not round-trip: \(compact.prefix(200))")
        _ = v.intValue; _ = v.doubleValue
    }

    @Sendable static func seeds() -> [[UInt8]] {
        [
            #"{"a": 1, "b": [true, false, null], "c": {"d": "e\n\u00e9\ud83d\ude80"}, "n": -12.5e3}"#,
            #"[1, 2.0, -0, 1e308, 9223372036854775807, "\"\\\/\b\f\n\r\t", {}, []]"#,
            #""plain string""#, "123", "null", "  [ ]  ", #"{"dup": 1, "dup": 2}"#,
            #"{"model": {"d_model": 64, "n_layers": 2}, "train.lr": 0.001}"#,
        ].map { Array($0.utf8) }
    }
}
