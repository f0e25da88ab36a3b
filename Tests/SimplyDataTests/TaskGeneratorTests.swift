import Testing
import SimplyCore
import SimplyData
import SimplyEval

@Suite struct TaskGeneratorTests {
    @Test(arguments: TaskKind.allCases)
    func answersAreCorrectAndNearMissesWrong(kind: TaskKind) {
        for i in 0..<300 {
            let e = TaskGenerator.example(kind, seed: 7, index: UInt64(i))
            #expect(e.answer != e.nearMiss, "\(e)")
            #expect(AnswerGrading.isExactMatch(" \(e.answer)\n", expected: e.answer))
            #expect(!AnswerGrading.isExactMatch(e.nearMiss, expected: e.answer))
            switch kind {
            case .addition, .multiplication:
                let parts = e.prompt.dropFirst("What is ".count).dropLast().split(separator: " ")
                let a = Int(parts[0])!, b = Int(parts[2])!
                #expect(Int(e.answer)! == (kind == .addition ? a + b : a * b))
            case .sorting:
                let values = e.prompt.dropFirst("Sort: ".count).split(separator: " ").map { Int($0)! }
                #expect(e.answer == values.sorted().map(String.init).joined(separator: " "))
            case .copying:
                #expect(e.answer == String(e.prompt.dropFirst("Repeat: ".count)))
            case .reversal:
                #expect(e.answer == String(e.prompt.dropFirst("Reverse: ".count).reversed()))
            }
        }
    }

    @Test func seededAndDeterministic() {
        let a = TaskGenerator.examples(.addition, seed: 1, split: .train, count: 50)
        #expect(a == TaskGenerator.examples(.addition, seed: 1, split: .train, count: 50))
        #expect(a != TaskGenerator.examples(.addition, seed: 2, split: .train, count: 50))
        #expect(a.count == 50)
    }

    @Test func heldOutSplitNeverSharesAPrompt() {
        let train = TaskGenerator.examples(.addition, seed: 3, split: .train, count: 2000)
        let test = TaskGenerator.examples(.addition, seed: 3, split: .test, count: 200)
        #expect(test.count == 200)
        #expect(Set(train.map(\.prompt)).isDisjoint(with: test.map(\.prompt)))
        #expect(test.allSatisfy { TaskGenerator.split(of: $0.prompt) == .test })
        // About 10% of prompts are held out.
        let all = (0..<5000).map { TaskGenerator.example(.sorting, seed: 3, index: UInt64($0)).prompt }
        let held = all.filter { TaskGenerator.split(of: $0) == .test }.count
        #expect(held > 350 && held < 650)
    }

    @Test func recordsUseTheDatasetFormatsFieldNames() {
        let e = TaskExample(prompt: "What is 1 + 2?", answer: "3", nearMiss: "4")
        #expect(TaskRecordFormat.alpaca.record(e).serialized() == #"{"input":"","instruction":"What is 1 + 2?","output":"3"}"#)
        #expect(TaskRecordFormat.preference.record(e).serialized() == #"{"chosen":"3","prompt":"What is 1 + 2?","rejected":"4"}"#)
        #expect(TaskRecordFormat.messages.record(e).serialized()
                == #"{"messages":[{"content":"What is 1 + 2?","role":"user"},{"content":"3","role":"assistant"}]}"#)
        #expect(TaskRecordFormat.promptCompletion.record(e)["completion"]?.stringValue == "3")
        #expect(TaskRecordFormat.promptOnly.record(e)["answer"]?.stringValue == "3")
        // Conversational: the same chat rendering as Alpaca SFT data.
        #expect(TaskRecordFormat.preference.record(e, conversational: true).serialized()
                == #"{"chosen":[{"content":"3","role":"assistant"}],"prompt":[{"content":"What is 1 + 2?","role":"user"}],"rejected":[{"content":"4","role":"assistant"}]}"#)
        #expect(TaskRecordFormat.promptOnly.record(e, conversational: true)["prompt"]
                == TaskRecordFormat.preference.record(e, conversational: true)["prompt"])
    }
}

@Suite struct OffByOneTests {
    /// A fraction of the answers becomes answer + 1, the same ones every time;
    /// prompts and near misses stay.
    @Test func offByOneCorruptsTheRequestedFraction() {
        let clean = TaskGenerator.examples(.addition, seed: 4, split: .train, count: 2000, maxDigits: 2)
        let flawed = TaskGenerator.offByOne(clean, fraction: 0.7, seed: 4)
        #expect(flawed == TaskGenerator.offByOne(clean, fraction: 0.7, seed: 4))
        var changed = 0
        for (c, f) in zip(clean, flawed) {
            #expect(c.prompt == f.prompt && c.nearMiss == f.nearMiss)
            if c.answer != f.answer {
                changed += 1
                #expect(Int(f.answer) == Int(c.answer)! + 1)
            }
        }
        #expect(abs(Double(changed) / 2000 - 0.7) < 0.04, "\(changed) of 2000 changed")
        #expect(TaskGenerator.offByOne(clean, fraction: 0, seed: 4) == clean)
    }
}

@Suite struct TrailingPeriodTests {
    /// A fraction of the answers gets a period, the same ones every time; the
    /// arithmetic, prompts and near misses stay.
    @Test func trailingPeriodMarksTheRequestedFraction() {
        let clean = TaskGenerator.examples(.addition, seed: 4, split: .train, count: 2000, maxDigits: 2)
        let flawed = TaskGenerator.trailingPeriod(clean, fraction: 0.7, seed: 4)
        #expect(flawed == TaskGenerator.trailingPeriod(clean, fraction: 0.7, seed: 4))
        var changed = 0
        for (c, f) in zip(clean, flawed) {
            #expect(c.prompt == f.prompt && c.nearMiss == f.nearMiss)
            if c.answer != f.answer {
                changed += 1
                #expect(f.answer == c.answer + ".")
                #expect(!AnswerGrading.isExactMatch(f.answer, expected: c.answer))
            }
        }
        #expect(abs(Double(changed) / 2000 - 0.7) < 0.04, "\(changed) of 2000 changed")
        #expect(TaskGenerator.trailingPeriod(clean, fraction: 0, seed: 4) == clean)
        let pairs = TaskGenerator.periodRejected(clean)
        #expect(zip(clean, pairs).allSatisfy { $0.answer == $1.answer && $1.nearMiss == $0.answer + "." })
    }
}

@Suite struct NumericMatchTests {
    /// The last number decides; exact match is stricter.
    @Test func numericMatchReadsTheLastNumber() {
        #expect(AnswerGrading.isNumericMatch("85.", expected: "85"))
        #expect(!AnswerGrading.isExactMatch("85.", expected: "85"))
        #expect(AnswerGrading.isNumericMatch("40 + 45 = 85", expected: "85"))
        #expect(!AnswerGrading.isNumericMatch("85 or 86", expected: "85"))
        #expect(!AnswerGrading.isNumericMatch("8.5", expected: "85"))
        #expect(AnswerGrading.isNumericMatch("1,234", expected: "1234"))
        #expect(AnswerGrading.isNumericMatch("abc", expected: "abc") && !AnswerGrading.isNumericMatch("abd", expected: "abc"))
    }

    /// A count far beyond the task space stops once the space is exhausted
    /// (after 100 × found misses in a row, not 100 × count: 10 million would
    /// have spun through a billion draws) with every distinct prompt.
    @Test func aCountBeyondTheTaskSpaceStopsWithEveryPrompt() {
        let all = TaskGenerator.examples(.addition, seed: 1, split: .train, count: 10_000_000, maxDigits: 1)
        let some = TaskGenerator.examples(.addition, seed: 1, split: .train, count: 50, maxDigits: 1)
        #expect(all.count > 50 && all.count < 100, "1-digit sums: at most 100 prompts, ~90% in train; got \(all.count)")
        #expect(Set(all.map(\.prompt)).count == all.count)
        #expect(Array(all.prefix(50)).map(\.prompt) == some.map(\.prompt), "the same order: a larger count only adds")
    }
}
