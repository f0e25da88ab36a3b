/// A named parser entry point for fuzzing: `run` feeds it bytes and must
/// return for every input (thrown errors are fine; a trap is a bug), `seeds`
/// are valid inputs built in code that the mutations start from.
public struct FuzzTarget: Sendable {
    public let name: String
    public let summary: String
    public let run: @Sendable ([UInt8]) -> Void
    public let seeds: @Sendable () -> [[UInt8]]

    public init(name: String, summary: String, run: @escaping @Sendable ([UInt8]) -> Void,
                seeds: @escaping @Sendable () -> [[UInt8]]) {
        self.name = name; self.summary = summary; self.run = run; self.seeds = seeds
    }
}

public enum FuzzTargets {
    public static let all: [FuzzTarget] = [
        JSONTarget.target, SafetensorsTarget.target, ManifestTarget.target,
        TokenizerTarget.target, HFTokenizerTarget.target, ConfigTarget.target, JSONLTarget.target, LoRAFuzzTarget.target,
    ]

    public static func named(_ name: String) -> FuzzTarget? { all.first { $0.name == name } }

    public static var names: [String] { all.map(\.name) }
}

/// A broken invariant (not a parse error): stops the process so the fuzzer
/// records the input.
func invariant(_ ok: Bool, _ message: @autoclosure () -> String, file: StaticString = #file, line: UInt = #line) {
    if !ok { fatalError("fuzz invariant: \(message())", file: file, line: line) }
}
