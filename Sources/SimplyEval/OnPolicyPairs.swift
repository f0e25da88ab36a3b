import SimplyData

/// Preference pairs from a model's own samples, judged by the verifier
/// (`AnswerGrading.isExactMatch` against the prompt's answer): DPO on pairs the
/// policy itself produces (on-policy preference data; Tajwar et al. 2024,
/// "Preference Fine-Tuning of LLMs Should Leverage Suboptimal, On-Policy Data").
public enum OnPolicyPairs {
    public enum Outcome: Equatable, Sendable {
        /// chosen: a right sample (or the answer), rejected: a wrong sample.
        case pair(chosen: String, rejected: String, chosenIsAnswer: Bool)
        case allRight
        /// Every sample wrong, and no fallback to the answer.
        case allWrong
    }

    /// The pair of one prompt: the first right sample over the first wrong
    /// one, by sample index (so the file is a function of the samples). With
    /// every sample wrong, `fallbackToAnswer` pairs the reference answer over
    /// the first wrong sample. Texts are trimmed of surrounding white space.
    public static func pair(samples: [String], expected: String, fallbackToAnswer: Bool) -> Outcome {
        let texts = samples.map { $0.trimmingCharacters(in: .whitespacesAndNewlines) }
        guard let wrong = texts.first(where: { !AnswerGrading.isExactMatch($0, expected: expected) }) else { return .allRight }
        if let right = texts.first(where: { AnswerGrading.isExactMatch($0, expected: expected) }) {
            return .pair(chosen: right, rejected: wrong, chosenIsAnswer: false)
        }
        return fallbackToAnswer ? .pair(chosen: expected, rejected: wrong, chosenIsAnswer: true) : .allWrong
    }
}
