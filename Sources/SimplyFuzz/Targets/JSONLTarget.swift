import Foundation
import SimplyCore
import SimplyData

/// The JSONL record parsers of `simply data prepare`, one record per line:
/// the file as `auto` (the first record decides), as each post-training
/// format, and as pretraining text; parsed records are rendered with the
/// chat template.
enum JSONLTarget {
    static let target = FuzzTarget(name: "jsonl", summary: "DataPrepare.parseInput for every format, records rendered with the chat template",
                                   run: run, seeds: seeds)

    static let url = URL(fileURLWithPath: "/fuzz/input.jsonl")
    static let template = ChatTemplate(tokenizer: ByteTokenizer())

    @Sendable static func run(_ bytes: [UInt8]) {
        let formats: [InputFormat] = [.auto, .jsonl] + RecordFormat.allCases.compactMap { InputFormat(rawValue: $0.rawValue) }
        for format in formats {
            for skip in [false, true] {
                guard let file = try? DataPrepare.parseInput(bytes, url: url, format: format, skipInvalid: skip) else { continue }
                if case let .records(records) = file.content {
                    for r in records.prefix(32) {
                        // The byte tokenizer's ChatML template renders any record.
                        guard let e = try? PreparedExample(r, template: template) else {
                            invariant(false, "PreparedExample refused a parsed record with ChatML")
                            continue
                        }
                        invariant(e.sequences.allSatisfy { $0.tokens.count == $0.mask.count }, "tokens and mask differ in length")
                    }
                }
            }
        }
        _ = try? DataPrepare.parseInput(bytes, url: URL(fileURLWithPath: "/fuzz/input.txt"), format: .text)
    }

    @Sendable static func seeds() -> [[UInt8]] {
        let lines = [
            #"{"text": "Once upon a time\nthere was a parser."}"#,
            #"{"instruction": "Add 2 and 3.", "input": "", "output": "5"}"#,
            #"{"instruction": "Translate", "input": "bonjour", "output": "hello"}"#,
            #"{"conversations": [{"from": "system", "value": "Be brief."}, {"from": "human", "value": "Hi"}, {"from": "gpt", "value": "Hello!"}]}"#,
            #"{"messages": [{"role": "user", "content": "2+2?"}, {"role": "assistant", "content": "4"}, {"role": "user", "content": "and 3+3?"}, {"role": "assistant", "content": "6"}]}"#,
            #"{"prompt": "The sky is", "completion": " blue."}"#,
            #"{"prompt": [{"role": "user", "content": "Name a color."}], "completion": [{"role": "assistant", "content": "Red."}]}"#,
            #"{"prompt": "Q: 1+1=", "chosen": " 2", "rejected": " 3"}"#,
            #"{"chosen": "The answer is 4.", "rejected": "The answer is 5."}"#,
            #"{"chosen": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}], "rejected": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "go away"}]}"#,
            #"{"prompt": "What is 6*7?", "answer": "42"}"#,
            #"{"prompt": [{"role": "system", "content": "Math."}, {"role": "user", "content": "9-3?"}]}"#,
        ]
        var out = lines.map { Array(($0 + "\n").utf8) }
        // Whole files: one format per file, with a byte-order mark, blank lines and CRLF.
        out.append(Array(("\u{FEFF}" + lines[1] + "\r\n\n" + lines[2] + "\n").utf8))
        out.append(Array((lines[7] + "\n" + lines[8] + "\n   \n" + lines[9]).utf8))
        out.append(Array((lines[0] + "\n" + lines[0] + "\n").utf8))
        return out
    }
}
