import Foundation
import SimplyCore

/// A value inside a Jinja template, with Python's meaning: chat templates are
/// written for Jinja2 running in Python (transformers' `apply_chat_template`),
/// so `1 == 1.0`, `[] ` is false, `{{ none }}` prints `None`, and a list
/// prints as Python's repr `[1, 'a']`.
///
/// `undefined` is Jinja's Undefined: a missing variable, key or attribute. It
/// prints as nothing, is false, iterates as empty and has length 0; looking
/// something up on it, calling it or doing arithmetic with it is an error
/// (the text says what was missing).
///
/// Strings are indexed, sliced and counted by Unicode scalar (Python code
/// points), not by Swift Character.
public indirect enum JinjaValue: Sendable {
    case undefined(String)
    case none
    case bool(Bool)
    case int(Int)
    case float(Double)
    case string(String)
    case list([JinjaValue])
    /// A Python tuple: `(a, b)` in a template, the pairs of `items()`. Like a
    /// list, except that it prints as `(a, b)` and never equals a list.
    case tuple([JinjaValue])
    case dict(JinjaDict)
    /// A `namespace()` object: its attributes live in the renderer's table at
    /// this index, so `{% set ns.x = … %}` inside a loop is seen after it.
    case namespace(Int)
    /// A global function (`range`, `namespace`, `raise_exception`, `dict`)
    /// or a method bound to its receiver (`'a b'.split`, `d.items`).
    case function(JinjaFunction)
}

/// A callable value. Methods carry their receiver.
public enum JinjaFunction: Sendable {
    case global(String)
    case method(JinjaValue, String)
    /// A `{% macro %}`, by its index in the renderer's table.
    case macro(Int)

    var name: String {
        switch self {
        case let .global(n): return n
        case let .method(_, n): return n
        case .macro: return "macro"
        }
    }
}

/// A dict with string keys in insertion order (Python dicts keep it; tojson
/// and `items()` show it).
public struct JinjaDict: Sendable {
    public private(set) var keys: [String] = []
    private var values: [String: JinjaValue] = [:]

    public init() {}

    public init(_ pairs: [(String, JinjaValue)]) {
        for (k, v) in pairs { self[k] = v }
    }

    public var count: Int { keys.count }

    public subscript(key: String) -> JinjaValue? {
        get { values[key] }
        set {
            if let v = newValue {
                if values.updateValue(v, forKey: key) == nil { keys.append(key) }
            } else if values.removeValue(forKey: key) != nil {
                keys.removeAll { $0 == key }
            }
        }
    }

    public var pairs: [(String, JinjaValue)] { keys.map { ($0, values[$0] ?? .none) } }
}

extension JinjaValue {
    /// A JSON value as Python's `json.loads` gives it: integers without a
    /// fraction or exponent are ints, other numbers floats, objects keep
    /// their key order (a repeated key keeps its first place and last value).
    public init(json: JSONValue) throws {
        switch json {
        case .null: self = .none
        case let .bool(b): self = .bool(b)
        case let .number(text):
            if !text.contains(where: { $0 == "." || $0 == "e" || $0 == "E" }) {
                guard let i = Int(text) else { throw DataError("JSON integer \(text) does not fit in 64 bits") }
                self = .int(i)
            } else {
                guard let d = Double(text) else { throw DataError("bad JSON number \(text)") }
                self = .float(d)
            }
        case let .string(s): self = .string(s)
        case let .array(items): self = .list(try items.map { try JinjaValue(json: $0) })
        case let .object(pairs):
            var d = JinjaDict()
            for (k, v) in pairs { d[k] = try JinjaValue(json: v) }
            self = .dict(d)
        }
    }

    /// Python's truth value.
    public var isTruthy: Bool {
        switch self {
        case .undefined, .none: return false
        case let .bool(b): return b
        case let .int(i): return i != 0
        case let .float(d): return d != 0
        case let .string(s): return !s.isEmpty
        case let .list(l), let .tuple(l): return !l.isEmpty
        case let .dict(d): return d.count > 0
        case .namespace, .function: return true
        }
    }

    var isUndefined: Bool { if case .undefined = self { return true }; return false }

    /// The Python type name, as error messages and Jinja's undefined hints spell it.
    var typeName: String {
        switch self {
        case .undefined: return "Undefined"
        case .none: return "NoneType"
        case .bool: return "bool"
        case .int: return "int"
        case .float: return "float"
        case .string: return "str"
        case .list: return "list"
        case .tuple: return "tuple"
        case .dict: return "dict"
        case .namespace: return "Namespace"
        case .function: return "function"
        }
    }

    /// A number as a Double (bools count as 0 and 1, as in Python), or nil.
    var numeric: Double? {
        switch self {
        case let .bool(b): return b ? 1 : 0
        case let .int(i): return Double(i)
        case let .float(d): return d
        default: return nil
        }
    }

    /// An integer (bools count as 0 and 1), or nil.
    var integer: Int? {
        switch self {
        case let .bool(b): return b ? 1 : 0
        case let .int(i): return i
        default: return nil
        }
    }
}

// MARK: - Python equality and ordering

extension JinjaValue {
    /// Python `==`: numbers compare by value across int/float/bool, lists
    /// and tuples element-wise (a list never equals a tuple), dicts as
    /// mappings (order does not matter), Undefined equals only Undefined.
    public func pythonEquals(_ other: JinjaValue) -> Bool {
        var budget = Int.max
        return (try? pythonEquals(other, budget: &budget)) ?? false
    }

    /// `==` visiting at most `budget` values: a list nested in itself is
    /// small in memory but exponential to walk, so a render pays for each
    /// value it compares.
    func pythonEquals(_ other: JinjaValue, budget: inout Int) throws -> Bool {
        budget -= 1
        guard budget >= 0 else { throw JinjaFailure.outOfSteps }
        switch (self, other) {
        case (.undefined, .undefined), (.none, .none): return true
        case let (.string(a), .string(b)): return a.unicodeScalars.elementsEqual(b.unicodeScalars)
        case let (.list(a), .list(b)), let (.tuple(a), .tuple(b)):
            guard a.count == b.count else { return false }
            for (x, y) in zip(a, b) where !(try x.pythonEquals(y, budget: &budget)) { return false }
            return true
        case let (.dict(a), .dict(b)):
            guard a.count == b.count else { return false }
            for (k, v) in a.pairs {
                guard let w = b[k], try v.pythonEquals(w, budget: &budget) else { return false }
            }
            return true
        case let (.namespace(a), .namespace(b)): return a == b
        default:
            if let x = integer, let y = other.integer { return x == y }
            if let x = numeric, let y = other.numeric { return x == y }
            return false
        }
    }

    /// Python `<` and friends: numbers, strings (by code point), lists and
    /// tuples (lexicographic); anything else is a TypeError, returned as nil.
    /// Visits at most `budget` values, as pythonEquals.
    func pythonCompare(_ other: JinjaValue, budget: inout Int) throws -> Int? {
        budget -= 1
        guard budget >= 0 else { throw JinjaFailure.outOfSteps }
        switch (self, other) {
        case let (.string(a), .string(b)):
            let x = Array(a.unicodeScalars), y = Array(b.unicodeScalars)
            if x.elementsEqual(y) { return 0 }
            return x.lexicographicallyPrecedes(y) { $0.value < $1.value } ? -1 : 1
        case let (.list(a), .list(b)), let (.tuple(a), .tuple(b)):
            for (x, y) in zip(a, b) where !(try x.pythonEquals(y, budget: &budget)) {
                return try x.pythonCompare(y, budget: &budget)
            }
            return a.count == b.count ? 0 : (a.count < b.count ? -1 : 1)
        default:
            if let x = integer, let y = other.integer { return x == y ? 0 : (x < y ? -1 : 1) }
            if let x = numeric, let y = other.numeric {
                if x.isNaN || y.isNaN { return nil }
                return x == y ? 0 : (x < y ? -1 : 1)
            }
            return nil
        }
    }
}

// MARK: - Printing as Python does

extension JinjaValue {
    /// Python's `str()`: what `{{ value }}` prints. Undefined prints as "".
    public func pythonString(namespaces: [JinjaDict] = []) -> String {
        switch self {
        case .undefined: return ""
        case let .string(s): return s
        default: return pythonRepr(namespaces: namespaces)
        }
    }

    /// Python's `repr()`, used inside lists and dicts (where Undefined shows
    /// as `Undefined`).
    public func pythonRepr(namespaces: [JinjaDict] = []) -> String {
        switch self {
        case .undefined: return "Undefined"
        case .none: return "None"
        case let .bool(b): return b ? "True" : "False"
        case let .int(i): return String(i)
        case let .float(d): return JinjaValue.pythonFloat(d)
        case let .string(s): return JinjaValue.pythonStringRepr(s)
        case let .list(items): return "[" + items.map { $0.pythonRepr(namespaces: namespaces) }.joined(separator: ", ") + "]"
        case let .tuple(items):
            return "(" + items.map { $0.pythonRepr(namespaces: namespaces) }.joined(separator: ", ") + (items.count == 1 ? ",)" : ")")
        case let .dict(d):
            return "{" + d.pairs.map { JinjaValue.pythonStringRepr($0.0) + ": " + $0.1.pythonRepr(namespaces: namespaces) }
                .joined(separator: ", ") + "}"
        case let .namespace(i):
            let attrs = i < namespaces.count ? namespaces[i].pairs : []
            return "<Namespace " + JinjaValue.dict(JinjaDict(attrs)).pythonRepr(namespaces: namespaces) + ">"
        case let .function(f): return "<built-in method \(f.name)>"
        }
    }

    /// Python's `repr(float)`: the shortest digits that round-trip, written
    /// positionally when the decimal exponent is in [-4, 16), else as `1e+16`.
    static func pythonFloat(_ d: Double) -> String {
        if d.isNaN { return "nan" }
        if d.isInfinite { return d < 0 ? "-inf" : "inf" }
        if d == 0 { return d.sign == .minus ? "-0.0" : "0.0" }
        // Swift's description also gives the shortest round-trip digits; take
        // them apart and lay them out by Python's rule.
        var text = "\(Swift.abs(d))"
        var exp10 = 0
        if let e = text.firstIndex(where: { $0 == "e" || $0 == "E" }) {
            exp10 = Int(text[text.index(after: e)...]) ?? 0
            text = String(text[..<e])
        }
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        let intPart = String(parts[0]), fracPart = parts.count > 1 ? String(parts[1]) : ""
        var digits = intPart + fracPart
        var point = intPart.count + exp10        // decimal point position within digits
        while digits.hasPrefix("0") && digits.count > 1 { digits.removeFirst(); point -= 1 }
        while digits.hasSuffix("0") && digits.count > 1 { digits.removeLast() }
        let sci = point - 1                      // exponent in d.ddd × 10^sci
        let sign = d < 0 ? "-" : ""
        if sci < -4 || sci >= 16 {
            let mant = digits.count > 1 ? String(digits.prefix(1)) + "." + digits.dropFirst() : digits
            let e = Swift.abs(sci) < 10 ? "0\(Swift.abs(sci))" : "\(Swift.abs(sci))"
            return sign + mant + "e" + (sci < 0 ? "-" : "+") + e
        }
        if point <= 0 { return sign + "0." + String(repeating: "0", count: -point) + digits }
        if point >= digits.count { return sign + digits + String(repeating: "0", count: point - digits.count) + ".0" }
        return sign + String(digits.prefix(point)) + "." + String(digits.dropFirst(point))
    }

    /// Python's `repr(str)`: single quotes unless the text has a single quote
    /// and no double quote; backslash escapes for quotes, backslashes, \n \r
    /// \t and unprintable code points; printable non-ASCII kept as is.
    static func pythonStringRepr(_ s: String) -> String {
        let useDouble = s.unicodeScalars.contains("'") && !s.unicodeScalars.contains("\"")
        let quote: Unicode.Scalar = useDouble ? "\"" : "'"
        var out = String.UnicodeScalarView()
        out.append(quote)
        for u in s.unicodeScalars {
            switch u {
            case "\\": out.append(contentsOf: "\\\\".unicodeScalars)
            case "\n": out.append(contentsOf: "\\n".unicodeScalars)
            case "\r": out.append(contentsOf: "\\r".unicodeScalars)
            case "\t": out.append(contentsOf: "\\t".unicodeScalars)
            case quote: out.append("\\"); out.append(u)
            default:
                if isPythonPrintable(u) {
                    out.append(u)
                } else {
                    let hex = String(u.value, radix: 16)
                    let (prefix, width) = u.value < 0x100 ? ("\\x", 2) : (u.value < 0x10000 ? ("\\u", 4) : ("\\U", 8))
                    out.append(contentsOf: (prefix + String(repeating: "0", count: width - hex.count) + hex).unicodeScalars)
                }
            }
        }
        out.append(quote)
        return String(out)
    }

    /// Python's `str.isprintable` for one code point: not a control, format,
    /// surrogate, private-use or unassigned character, nor a separator other
    /// than the ASCII space.
    static func isPythonPrintable(_ u: Unicode.Scalar) -> Bool {
        if u == " " { return true }
        switch u.properties.generalCategory {
        case .control, .format, .surrogate, .privateUse, .unassigned,
             .lineSeparator, .paragraphSeparator, .spaceSeparator:
            return false
        default:
            return true
        }
    }

    /// Python's `str.isspace` for one code point (what `strip()` and
    /// `split()` with no argument remove).
    static func isPythonSpace(_ u: Unicode.Scalar) -> Bool {
        u.properties.isWhitespace || (0x1C...0x1F).contains(u.value)
    }
}

// MARK: - JSON as transformers' tojson writes it

extension JinjaValue {
    /// `json.dumps(value, ensure_ascii=…, indent=…, separators=…, sort_keys=…)`
    /// as transformers' `tojson` filter calls it (ensure_ascii off by default,
    /// no HTML escaping).
    func pythonJSON(ensureASCII: Bool, indent: String?, itemSeparator: String?, keySeparator: String?,
                    sortKeys: Bool, namespaces: [JinjaDict], depth: Int = 0) throws -> String {
        let itemSep = itemSeparator ?? (indent == nil ? ", " : ",")
        let keySep = keySeparator ?? ": "
        func nested(_ v: JinjaValue) throws -> String {
            guard depth < 200 else { throw JinjaFailure("tojson: value nested too deeply") }
            return try v.pythonJSON(ensureASCII: ensureASCII, indent: indent, itemSeparator: itemSeparator,
                                    keySeparator: keySeparator, sortKeys: sortKeys, namespaces: namespaces, depth: depth + 1)
        }
        func layout(_ open: String, _ close: String, _ items: [String]) -> String {
            if items.isEmpty { return open + close }
            guard let indent else { return open + items.joined(separator: itemSep) + close }
            let inner = "\n" + String(repeating: indent, count: depth + 1)
            let outer = "\n" + String(repeating: indent, count: depth)
            return open + inner + items.joined(separator: itemSep + inner) + outer + close
        }
        switch self {
        case .none: return "null"
        case let .bool(b): return b ? "true" : "false"
        case let .int(i): return String(i)
        case let .float(d):
            if d.isNaN { return "NaN" }
            if d.isInfinite { return d < 0 ? "-Infinity" : "Infinity" }
            return JinjaValue.pythonFloat(d)
        case let .string(s): return JinjaValue.jsonString(s, ensureASCII: ensureASCII)
        case let .list(items), let .tuple(items): return layout("[", "]", try items.map(nested))
        case let .dict(d):
            var pairs = d.pairs
            if sortKeys {
                pairs.sort { Array($0.0.unicodeScalars).lexicographicallyPrecedes(Array($1.0.unicodeScalars)) { $0.value < $1.value } }
            }
            return layout("{", "}", try pairs.map { JinjaValue.jsonString($0.0, ensureASCII: ensureASCII) + keySep + (try nested($0.1)) })
        case .undefined, .namespace, .function:
            throw JinjaFailure("Object of type \(typeName) is not JSON serializable")
        }
    }

    static func jsonString(_ s: String, ensureASCII: Bool) -> String {
        var out = "\""
        for u in s.unicodeScalars {
            switch u {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case "\u{08}": out += "\\b"
            case "\u{0C}": out += "\\f"
            default:
                if u.value < 0x20 || (ensureASCII && u.value > 0x7E) {
                    func hex4(_ v: UInt32) -> String {
                        let h = String(v, radix: 16)
                        return "\\u" + String(repeating: "0", count: 4 - h.count) + h
                    }
                    if u.value >= 0x10000 {
                        let v = u.value - 0x10000
                        out += hex4(0xD800 + (v >> 10)) + hex4(0xDC00 + (v & 0x3FF))
                    } else {
                        out += hex4(u.value)
                    }
                } else {
                    out.unicodeScalars.append(u)
                }
            }
        }
        return out + "\""
    }
}

/// An error inside the interpreter before it knows where in the template it
/// is; the renderer adds the line and column of the expression or tag.
struct JinjaFailure: Error {
    let message: String
    init(_ message: String) { self.message = message }

    /// A comparison ran out of its step budget; the renderer rewords it.
    static let outOfSteps = JinjaFailure("out of steps")
}
