import Testing
import SimplyEval

/// `OnPolicyPairs.pair`: which of a prompt's samples become the DPO pair.
@Suite struct OnPolicyPairsTests {
    @Test func firstRightOverFirstWrongBySampleIndex() {
        #expect(OnPolicyPairs.pair(samples: ["86", " 85\n", "84", "85"], expected: "85", fallbackToAnswer: false)
                == .pair(chosen: "85", rejected: "86", chosenIsAnswer: false))
        #expect(OnPolicyPairs.pair(samples: ["85", "85.", "86"], expected: "85", fallbackToAnswer: true)
                == .pair(chosen: "85", rejected: "85.", chosenIsAnswer: false))
    }

    @Test func allRightGivesNoPair() {
        #expect(OnPolicyPairs.pair(samples: ["85", " 85"], expected: "85", fallbackToAnswer: true) == .allRight)
    }

    @Test func allWrongIsSkippedOrPairedWithTheAnswer() {
        #expect(OnPolicyPairs.pair(samples: ["86", "84"], expected: "85", fallbackToAnswer: false) == .allWrong)
        #expect(OnPolicyPairs.pair(samples: ["86", "84"], expected: "85", fallbackToAnswer: true)
                == .pair(chosen: "85", rejected: "86", chosenIsAnswer: true))
    }
}
