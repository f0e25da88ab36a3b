import Foundation
import SimplyCore

public struct ConfigError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// One settable key of a config struct `Root`: its dotted name, what it
/// accepts, one line of meaning, and how to read it as and set it from JSON.
/// The base sections (model, train, data, checkpoint) are keys of
/// `ExperimentConfig`; an algorithm's section is keys of its own settings type.
public struct ConfigKey<Root>: Sendable {
    public let name: String
    /// The values it accepts, for `simply config keys`.
    public let accepts: String
    /// One line of meaning, for `simply config keys`.
    public let meaning: String
    let get: @Sendable (Root) -> JSONValue
    let set: @Sendable (inout Root, JSONValue) throws -> Void

    public init(name: String, accepts: String, meaning: String, get: @escaping @Sendable (Root) -> JSONValue,
                set: @escaping @Sendable (inout Root, JSONValue) throws -> Void) {
        self.name = name; self.accepts = accepts; self.meaning = meaning; self.get = get; self.set = set
    }

    /// An integer key in min...max. Every integer key has an upper bound, so no
    /// size read from a config can overflow the arithmetic that uses it.
    public static func int(_ name: String, _ kp: WritableKeyPath<Root, Int> & Sendable, min: Int = 0, max: Int,
                           _ meaning: String = "") -> ConfigKey {
        ConfigKey(name: name, accepts: "integer \(min)...\(max)", meaning: meaning, get: { .int($0[keyPath: kp]) }, set: { c, v in
            guard let i = v.intValue else {
                if case let .number(text) = v, let d = Double(text), d == d.rounded(), d.magnitude < 1e300 {
                    throw ConfigError("\(name): must be an integer in \(min)...\(max), got \(text)")
                }
                throw ConfigError("\(name): expected an integer, got \(brief(v.serialized()))")
            }
            guard i >= min, i <= max else { throw ConfigError("\(name): must be in \(min)...\(max), got \(i)") }
            c[keyPath: kp] = i
        })
    }

    public static func double(_ name: String, _ kp: WritableKeyPath<Root, Double> & Sendable,
                              range: ClosedRange<Double> = -1e300...1e300, _ meaning: String = "") -> ConfigKey {
        let accepts = range == -1e300...1e300 ? "number" : "number \(range.lowerBound)...\(range.upperBound)"
        return ConfigKey(name: name, accepts: accepts, meaning: meaning, get: { .double($0[keyPath: kp]) }, set: { c, v in
            guard let d = v.doubleValue, d.isFinite else { throw ConfigError("\(name): expected a number, got \(brief(v.serialized()))") }
            guard range.contains(d) else { throw ConfigError("\(name): must be in \(range.lowerBound)...\(range.upperBound), got \(d)") }
            c[keyPath: kp] = d
        })
    }

    public static func float(_ name: String, _ kp: WritableKeyPath<Root, Float> & Sendable, _ meaning: String = "") -> ConfigKey {
        ConfigKey(name: name, accepts: "number ≥ 0", meaning: meaning, get: { .double(Double($0[keyPath: kp])) }, set: { c, v in
            guard let d = v.doubleValue, d.isFinite, d >= 0 else { throw ConfigError("\(name): expected a non-negative number, got \(brief(v.serialized()))") }
            c[keyPath: kp] = Float(d)
        })
    }

    public static func bool(_ name: String, _ kp: WritableKeyPath<Root, Bool> & Sendable, _ meaning: String = "") -> ConfigKey {
        ConfigKey(name: name, accepts: "true, false", meaning: meaning, get: { .bool($0[keyPath: kp]) }, set: { c, v in
            guard let b = v.boolValue else { throw ConfigError("\(name): expected true or false, got \(brief(v.serialized()))") }
            c[keyPath: kp] = b
        })
    }

    public static func string(_ name: String, _ kp: WritableKeyPath<Root, String> & Sendable, _ meaning: String = "") -> ConfigKey {
        ConfigKey(name: name, accepts: "text", meaning: meaning, get: { .string($0[keyPath: kp]) }, set: { c, v in
            guard let s = v.stringValue else { throw ConfigError("\(name): expected a string, got \(brief(v.serialized()))") }
            c[keyPath: kp] = s
        })
    }

    /// A string key that takes one of `choices`.
    public static func choice(_ name: String, _ kp: WritableKeyPath<Root, String> & Sendable, _ choices: [String],
                              _ meaning: String = "") -> ConfigKey {
        ConfigKey(name: name, accepts: choices.joined(separator: ", "), meaning: meaning, get: { .string($0[keyPath: kp]) }, set: { c, v in
            guard let s = v.stringValue, choices.contains(s) else {
                throw ConfigError("\(name): expected one of \(choices.joined(separator: ", ")), got \(brief(v.serialized()))")
            }
            c[keyPath: kp] = s
        })
    }
}

/// A key or value quoted in an error: at most 80 characters, so the error stays one short line.
func brief(_ text: String) -> String {
    let oneLine = text.replacingOccurrences(of: "\n", with: "\\n")
    return oneLine.count <= 80 ? oneLine : String(oneLine.prefix(77)) + "..."
}

func editDistance(_ a: String, _ b: String) -> Int {
    let a = Array(a.utf8), b = Array(b.utf8)
    if a.isEmpty { return b.count }
    var prev = Array(0...b.count)
    for i in 1...a.count {
        var cur = [i] + Array(repeating: 0, count: b.count)
        for j in 1...max(b.count, 1) where j <= b.count {
            cur[j] = Swift.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1))
        }
        prev = cur
    }
    return prev[b.count]
}
