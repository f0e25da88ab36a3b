import SimplyCore

/// A built-in English-like corpus so `simply train` runs with no data. A small
/// probabilistic grammar writes narrative paragraphs (agreeing subjects and
/// verbs, a/an, adjectives, places, pronouns that follow the name's gender),
/// arithmetic facts ("12 plus 7 is 19.") and short dialogues whose answer
/// repeats parts of the question. Spelling, grammar and the arithmetic are
/// learnable, so a model's loss can fall far below the unigram entropy.
///
/// Every choice is a draw from Philox (`RandomStream(seed:, name: "corpus")`,
/// the n-th 32-bit word of the stream is word n % 4 of block n / 4), so the
/// text is a pure function of (seed, bytes). It is ASCII and exactly `bytes`
/// bytes long (the last sentence is cut).
public enum SyntheticCorpus {
    public static func generate(seed: UInt64, bytes: Int) -> String {
        guard bytes > 0 else { return "" }
        var g = Generator(stream: RandomStream(seed: seed, name: "corpus"), capacity: bytes)
        while g.out.count < bytes {
            if g.pick(10) < 3 { g.dialogue() } else { g.paragraph() }
        }
        g.out.removeLast(g.out.count - bytes)
        return String(decoding: g.out, as: UTF8.self)
    }

    // Word lists. Nouns: (singular, plural); verbs: (3rd singular, plural, past).
    static let animals: [(String, String)] = [
        ("dog", "dogs"), ("cat", "cats"), ("bird", "birds"), ("fox", "foxes"), ("horse", "horses"),
        ("child", "children"), ("teacher", "teachers"), ("farmer", "farmers"), ("robot", "robots"),
        ("mouse", "mice"), ("friend", "friends"), ("owl", "owls"),
    ]
    static let things: [(String, String)] = [
        ("ball", "balls"), ("apple", "apples"), ("book", "books"), ("box", "boxes"), ("tree", "trees"),
        ("car", "cars"), ("boat", "boats"), ("letter", "letters"), ("cake", "cakes"), ("hat", "hats"),
        ("key", "keys"), ("cup", "cups"), ("lamp", "lamps"), ("egg", "eggs"), ("orange", "oranges"),
    ]
    static let verbs: [(String, String, String)] = [
        ("sees", "see", "saw"), ("finds", "find", "found"), ("likes", "like", "liked"),
        ("chases", "chase", "chased"), ("carries", "carry", "carried"), ("wants", "want", "wanted"),
        ("paints", "paint", "painted"), ("holds", "hold", "held"), ("watches", "watch", "watched"),
        ("opens", "open", "opened"), ("throws", "throw", "threw"), ("makes", "make", "made"),
    ]
    static let adjectives = ["big", "small", "red", "blue", "green", "old", "young", "happy", "quiet",
                             "bright", "tall", "tiny", "heavy", "soft", "orange", "empty"]
    static let places = ["the garden", "the kitchen", "the park", "the house", "the forest", "the school",
                         "the market", "the library", "the river", "the city"]
    static let prepositions = ["in", "near", "behind", "under"]
    static let names: [(String, Bool)] = [  // (name, is "she")
        ("Anna", true), ("Ben", false), ("Clara", true), ("David", false), ("Emma", true), ("Felix", false),
        ("Grace", true), ("Henry", false), ("Ivy", true), ("Jack", false), ("Lena", true), ("Omar", false),
    ]
    static let counts = ["two", "three", "four", "five", "some", "many"]

    struct Generator {
        let stream: RandomStream
        var out: [UInt8] = []
        var draws: UInt64 = 0
        var block: Philox.Counter = (0, 0, 0, 0)

        init(stream: RandomStream, capacity: Int) {
            self.stream = stream
            out.reserveCapacity(capacity + 256)
        }

        /// Uniform in 0..<n from the next 32-bit word (multiply-shift; the
        /// bias is below 2^-24 for these small n and fixed by the seed).
        mutating func pick(_ n: Int) -> Int {
            let lane = draws & 3
            if lane == 0 { block = stream.words(draws >> 2) }
            draws += 1
            let w: UInt32
            switch lane { case 0: w = block.0; case 1: w = block.1; case 2: w = block.2; default: w = block.3 }
            return Int((UInt64(w) * UInt64(n)) >> 32)
        }

        mutating func choose<T>(_ xs: [T]) -> T { xs[pick(xs.count)] }
        mutating func chance(_ percent: Int) -> Bool { pick(100) < percent }

        mutating func put(_ s: String) { out.append(contentsOf: s.utf8) }

        /// Writes `s` with its first letter upper-cased (sentence start).
        mutating func putCapitalized(_ s: String) {
            let start = out.count
            put(s)
            if start < out.count, out[start] >= 0x61, out[start] <= 0x7A { out[start] -= 0x20 }
        }

        static func article(before word: String) -> String {
            "aeiou".utf8.contains(word.utf8.first ?? 0) ? "an" : "a"
        }

        /// "the red ball", "an apple", "three small dogs"; returns (phrase, plural).
        mutating func nounPhrase(_ pool: [(String, String)], allowPlural: Bool = true) -> (String, Bool) {
            let noun = choose(pool)
            let plural = allowPlural && chance(30)
            let adj: String? = chance(45) ? choose(adjectives) : nil
            let head = plural ? noun.1 : noun.0
            let body = adj.map { "\($0) \(head)" } ?? head
            let det: String
            if plural {
                det = chance(50) ? "the" : choose(counts)
            } else {
                det = chance(50) ? "the" : Self.article(before: body)
            }
            return ("\(det) \(body)", plural)
        }

        // MARK: narrative

        mutating func paragraph() {
            let sentences = 3 + pick(4)
            for i in 0..<sentences {
                if i > 0 { put(" ") }
                switch pick(10) {
                case 0..<4: statement()
                case 4..<6: arithmetic()
                case 6..<8: nameFact()
                default: story()
                }
            }
            put("\n\n")
        }

        /// "The small dog chased a red ball in the park."
        mutating func statement() {
            let (subject, plural) = nounPhrase(SyntheticCorpus.animals)
            let verb = choose(SyntheticCorpus.verbs)
            let past = chance(50)
            putCapitalized(subject)
            put(" ")
            put(past ? verb.2 : (plural ? verb.1 : verb.0))
            put(" ")
            put(nounPhrase(chance(70) ? SyntheticCorpus.things : SyntheticCorpus.animals).0)
            if chance(40) { put(" "); put(choose(SyntheticCorpus.prepositions)); put(" "); put(choose(SyntheticCorpus.places)) }
            put(".")
        }

        /// "12 plus 7 is 19." and the like, always correct.
        mutating func arithmeticFact() -> (question: String, answer: Int) {
            switch pick(3) {
            case 0:
                let a = pick(50), b = pick(50)
                return ("\(a) plus \(b)", a + b)
            case 1:
                let a = pick(50), b = pick(a + 1)
                return ("\(a) minus \(b)", a - b)
            default:
                let a = pick(13), b = pick(13)
                return ("\(a) times \(b)", a * b)
            }
        }

        mutating func arithmetic() {
            let (q, a) = arithmeticFact()
            put("\(q) is \(a).")
        }

        mutating func nameFact() {
            let name = choose(SyntheticCorpus.names).0
            switch pick(3) {
            case 0:
                let n = 1 + pick(9), thing = choose(SyntheticCorpus.things)
                put("\(name) has \(n) \(n == 1 ? thing.0 : thing.1).")
            case 1: put("\(name) lives near \(choose(SyntheticCorpus.places)).")
            default: put("\(name) likes \(choose(SyntheticCorpus.things).1).")
            }
        }

        /// Two sentences tied by a pronoun: "Ivy found an old key. She gave it to Ben."
        mutating func story() {
            let (name, she) = choose(SyntheticCorpus.names)
            var other = choose(SyntheticCorpus.names).0
            if other == name { other = "the teacher" }
            let thing = choose(SyntheticCorpus.things).0
            let adj = choose(adjectives)
            put("\(name) found \(Self.article(before: adj)) \(adj) \(thing) in \(choose(SyntheticCorpus.places)). ")
            put(she ? "She" : "He")
            put(chance(50) ? " gave it to \(other)." : " kept the \(thing).")
        }

        // MARK: dialogue

        mutating func dialogue() {
            let a = choose(SyntheticCorpus.names).0
            var b = choose(SyntheticCorpus.names).0
            if b == a { b = "Robot" }
            for _ in 0..<(1 + pick(3)) {
                put("\(a): ")
                switch pick(4) {
                case 0:
                    let (q, n) = arithmeticFact()
                    put("What is \(q)?\n\(b): \(q) is \(n).\n")
                case 1:
                    let thing = choose(SyntheticCorpus.things).0
                    let place = choose(SyntheticCorpus.places)
                    put("Where is the \(thing)?\n\(b): The \(thing) is \(choose(SyntheticCorpus.prepositions)) \(place).\n")
                case 2:
                    let who = choose(SyntheticCorpus.names).0
                    let thing = choose(SyntheticCorpus.things).1
                    put("Does \(who) like \(thing)?\n\(b): ")
                    if chance(50) { put("Yes, \(who) likes \(thing).\n") } else {
                        put("No, \(who) likes \(choose(SyntheticCorpus.things).1).\n")
                    }
                default:
                    let thing = choose(SyntheticCorpus.things)
                    let n = 1 + pick(9)
                    put("How many \(thing.1) do you have?\n\(b): I have \(n) \(n == 1 ? thing.0 : thing.1).\n")
                }
            }
            put("\n")
        }
    }
}
