import SimplyCore

/// A value of a tokenizer.json with its key path (`pre_tokenizer.pretokenizers[0].pattern`),
/// so that every refusal names where it comes from. Errors carry no file
/// name; `HFTokenizer.parse` adds it.
struct HFField {
    let value: JSONValue
    let path: String

    init(_ value: JSONValue, _ path: String) { self.value = value; self.path = path }

    var isNull: Bool { value == .null }

    /// The member `key`, or nil when it is missing or null.
    func optional(_ key: String) -> HFField? {
        guard let v = value[key], v != .null else { return nil }
        return HFField(v, path.isEmpty ? key : path + "." + key)
    }

    func required(_ key: String) throws -> HFField {
        guard let f = optional(key) else { throw DataError("\(sub(key)): missing") }
        return f
    }

    func sub(_ key: String) -> String { path.isEmpty ? key : path + "." + key }

    func string() throws -> String {
        guard let s = value.stringValue else { throw DataError("\(path): expected a string, found \(value.brief())") }
        return s
    }

    func bool() throws -> Bool {
        guard let b = value.boolValue else { throw DataError("\(path): expected true or false, found \(value.brief())") }
        return b
    }

    func int(in range: ClosedRange<Int>) throws -> Int {
        guard let i = value.intValue, range.contains(i) else {
            throw DataError("\(path): expected an integer in \(range.lowerBound)...\(range.upperBound), found \(value.brief())")
        }
        return i
    }

    func array() throws -> [HFField] {
        guard case let .array(items) = value else { throw DataError("\(path): expected an array, found \(value.brief())") }
        return items.enumerated().map { HFField($1, "\(path)[\($0)]") }
    }

    /// A string member with a default when missing or null.
    func string(_ key: String, default d: String) throws -> String { try optional(key)?.string() ?? d }
    func bool(_ key: String, default d: Bool) throws -> Bool { try optional(key)?.bool() ?? d }

    /// The single scalar of a string member (Metaspace's `replacement`, Strip's `content`).
    func scalar(_ key: String) throws -> UInt32 {
        let f = try required(key)
        let s = try f.string()
        guard s.unicodeScalars.count == 1, let u = s.unicodeScalars.first else {
            throw DataError("\(f.path): expected one character, found \(f.value.brief())")
        }
        return u.value
    }

    /// The component's "type".
    func type() throws -> String { try required("type").string() }

    /// "KEY.type: "X" is not supported (supported: A, B)".
    func unsupportedType(_ type: String, supported: [String]) -> DataError {
        DataError("\(sub("type")): \(JSONValue.string(type).serialized()) is not supported (supported: \(supported.joined(separator: ", ")))")
    }

    /// A `pattern` member: {"String": s} (a literal) or {"Regex": r}.
    func pattern() throws -> ScalarRegex {
        let f = try required("pattern")
        if let s = f.optional("String") { return ScalarRegex(literal: try s.string()) }
        if let r = f.optional("Regex") {
            let text = try r.string()
            do { return try ScalarRegex(text) } catch {
                throw DataError("\(r.path): \(JSONValue.string(text).brief()): \(error.description)")
            }
        }
        throw DataError("\(f.path): expected {\"String\": …} or {\"Regex\": …}")
    }
}

extension Array where Element == UInt32 {
    init(scalarsOf s: String) { self = s.unicodeScalars.map(\.value) }
}

extension String {
    init(scalarValues: some Sequence<UInt32>) {
        var v = String.UnicodeScalarView()
        for x in scalarValues { if let u = Unicode.Scalar(x) { v.append(u) } }
        self = String(v)
    }
}
