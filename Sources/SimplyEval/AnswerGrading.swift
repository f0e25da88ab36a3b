import Foundation

/// How an answer is graded against the expected one: exact match (after
/// trimming white space) and numeric match (the last number). Used by
/// `simply eval generate`, pass@k, the verifiable rewards and on-policy pairs.
public enum AnswerGrading {
    /// Exact-match check used by evals and verifiable rewards: the answer after
    /// trimming white space, compared with the expected one.
    public static func isExactMatch(_ completion: String, expected: String) -> Bool {
        completion.trimmingCharacters(in: .whitespacesAndNewlines) == expected
    }

    /// Numeric-answer check (the `numeric_match` reward, and eval generate's
    /// second column): the last number in the completion equals the expected
    /// answer's last number ("The sum is 85." matches "85"). An expected answer
    /// with no number falls back to exact match.
    public static func isNumericMatch(_ completion: String, expected: String) -> Bool {
        guard let want = numbers(in: expected).last else { return isExactMatch(completion, expected: expected) }
        return numbers(in: completion).last == want
    }

    /// The numbers in `text`, in order: an optional sign, digits (commas
    /// between digits allowed), an optional fraction.
    public static func numbers(in text: String) -> [Decimal] {
        let chars = Array(text.unicodeScalars)
        func isDigit(_ i: Int) -> Bool { i >= 0 && i < chars.count && chars[i].isASCII && chars[i].properties.numericType == .decimal }
        var out: [Decimal] = []
        var i = 0
        while i < chars.count {
            guard isDigit(i) else { i += 1; continue }
            var s = ""
            if i > 0 && (chars[i - 1] == "-" || chars[i - 1] == "+") && !(i > 1 && isDigit(i - 2)) {
                if chars[i - 1] == "-" { s = "-" }
            }
            while i < chars.count {
                if isDigit(i) { s.unicodeScalars.append(chars[i]) }
                else if !(chars[i] == "," && isDigit(i - 1) && isDigit(i + 1)) { break }
                i += 1
            }
            if i + 1 < chars.count && chars[i] == "." && isDigit(i + 1) {
                s += "."
                i += 1
                while isDigit(i) { s.unicodeScalars.append(chars[i]); i += 1 }
            }
            if let d = Decimal(string: s, locale: Locale(identifier: "en_US_POSIX")) { out.append(d) }
        }
        return out
    }
}
