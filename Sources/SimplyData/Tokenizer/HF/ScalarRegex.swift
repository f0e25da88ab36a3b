/// A regular expression over Unicode scalars that gives Oniguruma's matches
/// (Ruby syntax, as `tokenizers` compiles `Split` and `Replace` patterns) for
/// the subset published tokenizer.json files use:
///
/// - literals and escapes (`\r \n \t \f \v \e \a \xHH \x{H…} \uHHHH`, escaped punctuation), `.` (any but `\n`);
/// - classes `[…]`, `[^…]` with ranges, `\p{L}`, `\p{Lu}`, `\p{^N}`, `\P{N}`, `\s \S \d \D \w \W`;
/// - groups `(…)`, `(?:…)`, `(?i:…)`, `(?-i:…)`, `(?i)`, `(?<name>…)`, atomic `(?>…)`,
///   lookahead `(?=…)`, `(?!…)`;
/// - quantifiers `? * + {n} {n,} {n,m} {,m}`, lazy (`??` …) and possessive (`?+ *+ ++`);
/// - anchors `^ $` (line), `\A \z \Z`.
///
/// Anything else (lookbehind, backreferences, `\b`, POSIX brackets, nested
/// classes) is refused when the pattern is compiled, naming the construct.
///
/// Matching is backtracking in priority order (alternatives left to right,
/// greedy loops longest first), as in Oniguruma, so the leftmost match is
/// the one Oniguruma reports, not the longest. `\p{…}` are general
/// categories; `\s` is White_Space; `(?i)` compares simple case folds.
/// Case folding is one scalar to one scalar: Oniguruma also folds "ß" to
/// "ss" and "ﬆ" to "st", which this does not (the published patterns'
/// `(?i:'s|'t|'re|'ve|'m|'ll|'d)` is not affected).
///
/// Work is bounded: patterns may nest groups `maxDepth` deep, hold
/// `maxClasses` classes and expand to `maxProgram` instructions; the
/// searches over one text share `stepBudget(length)` steps, and once they
/// are spent no further match is reported (the rest of the text is one
/// unmatched piece). No published pattern comes near it: they take a few
/// steps per scalar.
public struct ScalarRegex: Sendable {
    public struct SyntaxError: Error, CustomStringConvertible, Sendable {
        public let description: String
    }

    indirect enum Node {
        case empty
        case literal(UInt32, fold: Bool)
        case set(Int)
        case any
        case concat([Node])
        case alternate([Node])
        case loop(Node, min: Int, max: Int?, greedy: Bool)
        case atomic(Node)
        case look(Node, negated: Bool)
        case lineStart, lineEnd, textStart, textEnd, textEndNewline
    }

    enum Inst {
        case literal(UInt32)
        case literalFold(UInt32)
        case set(Int)
        case any
        /// Greedy repetition of one scalar matcher (`.literal`, `.set`, `.any`
        /// at `matcher`): takes as many as it can, gives back one at a time.
        case run(matcher: Int, min: Int, max: Int)
        case split(Int, Int)
        case jump(Int)
        case look(start: Int, negated: Bool, next: Int)
        case atomic(start: Int, next: Int)
        case lineStart, lineEnd, textStart, textEnd, textEndNewline
        case match
    }

    let program: [Inst]
    let classes: [ScalarClass]
    /// The BMP bitmaps of all classes, class i at words i * 1024 ..< (i + 1) * 1024.
    let bits: [UInt64]
    public let pattern: String

    /// Programs larger than this (counted repetitions expand) are refused.
    static let maxProgram = 50_000
    /// Deeper group nesting is refused (parsing and matching recurse on it).
    static let maxDepth = 64
    /// More character classes are refused (each holds an 8 KB bitmap).
    static let maxClasses = 64
    /// Steps the searches over a text of `length` scalars may take together.
    static func stepBudget(_ length: Int) -> Int { 1_000_000 + 256 * length }

    /// Compiles `pattern`; a construct outside the subset is a `SyntaxError`.
    public init(_ pattern: String) throws(SyntaxError) {
        self.pattern = pattern
        var parser = Parser(Array(pattern.unicodeScalars))
        let node = try parser.parseAll()
        var compiler = Compiler()
        try compiler.emitProgram(node)
        program = compiler.code
        classes = parser.classes
        bits = parser.classes.flatMap(\.bmp)
    }

    /// A regex matching `literal` exactly (tokenizers' `String` patterns).
    public init(literal: String) {
        pattern = literal
        var code: [Inst] = literal.unicodeScalars.map { .literal($0.value) }
        code.append(.match)
        program = code
        classes = []
        bits = []
    }

    // MARK: Searching

    /// Calls `body` with each match of `text`, left to right, as Oniguruma's
    /// `find_iter` in Rust's `onig` crate: a search restarts where the last
    /// match ended; an empty match right at the end of the previous match
    /// is skipped (the search moves one scalar on).
    func forEachMatch(_ text: UnsafeBufferPointer<UInt32>, _ body: (Range<Int>) -> Void) {
        var from = 0
        var lastMatchEnd = -1
        var budget = Self.stepBudget(text.count)
        while from <= text.count {
            guard let m = firstMatch(text, from: from, budget: &budget) else { return }
            if m.isEmpty && m.lowerBound == lastMatchEnd {
                from += 1
                continue
            }
            body(m)
            lastMatchEnd = m.upperBound
            from = m.upperBound
        }
    }

    /// The matches of `text` as `(range, isMatch)` pieces covering it, as
    /// tokenizers' `find_matches` (an empty text is one empty non-match).
    func pieces(_ text: UnsafeBufferPointer<UInt32>) -> [(Range<Int>, Bool)] {
        if text.isEmpty { return [(0..<0, false)] }
        var out: [(Range<Int>, Bool)] = []
        var prev = 0
        forEachMatch(text) { m in
            if prev != m.lowerBound { out.append((prev..<m.lowerBound, false)) }
            out.append((m, true))
            prev = m.upperBound
        }
        if prev != text.count { out.append((prev..<text.count, false)) }
        return out
    }

    /// `text` cut at the matches, both matches and the text between kept
    /// (tokenizers' `Split` with behavior `Isolated`).
    public func isolatedPieces(_ text: String) -> [String] {
        let s = [UInt32](scalarsOf: text)
        return s.withUnsafeBufferPointer { buf in
            pieces(buf).compactMap { r, _ in r.isEmpty ? nil : String(scalarValues: buf[r]) }
        }
    }

    /// The leftmost match starting at or after `from`, spending at most `budget` steps.
    func firstMatch(_ text: UnsafeBufferPointer<UInt32>, from: Int, budget: inout Int) -> Range<Int>? {
        var stack: [Int] = []
        return program.withUnsafeBufferPointer { prog in
            bits.withUnsafeBufferPointer { bits in
                var start = from
                while start <= text.count {
                    if let end = run(0, start, text, prog, bits, &stack, &budget) { return start..<end }
                    if budget <= 0 { return nil }
                    start += 1
                }
                return nil
            }
        }
    }

    @inline(__always)
    private func inClass(_ i: Int, _ v: UInt32, _ bits: UnsafeBufferPointer<UInt64>) -> Bool {
        if v < 0x10000 { return bits[i &* 1024 &+ Int(v >> 6)] & (1 << UInt64(v & 63)) != 0 }
        return classes[i].contains(v)
    }

    @inline(__always)
    private func matchOne(_ inst: Inst, _ v: UInt32, _ bits: UnsafeBufferPointer<UInt64>) -> Bool {
        switch inst {
        case let .literal(c): return v == c
        case let .literalFold(c): return UnicodeClasses.fold(v) == c
        case let .set(i): return inClass(i, v, bits)
        case .any: return v != 0x0A
        default: return false
        }
    }

    /// Runs the program from `pc0` at `sp0`; the end of the first match in
    /// priority order, or nil. `stack` holds backtrack entries as triples
    /// (pc, position, low): pc >= 0 resumes there; pc < 0 is a `.run` at
    /// -pc-1 that may give back one more scalar while position > low.
    private func run(_ pc0: Int, _ sp0: Int, _ s: UnsafeBufferPointer<UInt32>, _ program: UnsafeBufferPointer<Inst>,
                     _ bits: UnsafeBufferPointer<UInt64>, _ stack: inout [Int], _ budget: inout Int) -> Int? {
        let base = stack.count
        defer { stack.removeLast(stack.count - base) }
        var pc = pc0, sp = sp0
        let n = s.count
        while true {
            budget -= 1
            if budget <= 0 { return nil }
            var ok = true
            switch program[pc] {
            case let .literal(c):
                if sp < n && s[sp] == c { sp += 1; pc += 1 } else { ok = false }
            case let .literalFold(c):
                if sp < n && UnicodeClasses.fold(s[sp]) == c { sp += 1; pc += 1 } else { ok = false }
            case let .set(i):
                if sp < n && inClass(i, s[sp], bits) { sp += 1; pc += 1 } else { ok = false }
            case .any:
                if sp < n && s[sp] != 0x0A { sp += 1; pc += 1 } else { ok = false }
            case let .run(m, lo, hi):
                let matcher = program[m]
                var k = 0
                while k < hi && sp + k < n && matchOne(matcher, s[sp + k], bits) { k += 1 }
                budget -= k
                if k < lo { ok = false; break }
                if k > lo { stack.append(-pc - 1); stack.append(sp + k - 1); stack.append(sp + lo) }
                sp += k; pc += 1
            case let .split(a, b):
                stack.append(b); stack.append(sp); stack.append(0)
                pc = a
            case let .jump(a):
                pc = a
            case let .look(start, negated, next):
                let found = run(start, sp, s, program, bits, &stack, &budget) != nil
                if budget <= 0 { return nil }
                if found != negated { pc = next } else { ok = false }
            case let .atomic(start, next):
                if let end = run(start, sp, s, program, bits, &stack, &budget) { sp = end; pc = next } else {
                    if budget <= 0 { return nil }
                    ok = false
                }
            case .lineStart:
                if sp == 0 || s[sp - 1] == 0x0A { pc += 1 } else { ok = false }
            case .lineEnd:
                if sp == n || s[sp] == 0x0A { pc += 1 } else { ok = false }
            case .textStart:
                if sp == 0 { pc += 1 } else { ok = false }
            case .textEnd:
                if sp == n { pc += 1 } else { ok = false }
            case .textEndNewline:
                if sp == n || (sp == n - 1 && s[sp] == 0x0A) { pc += 1 } else { ok = false }
            case .match:
                return sp
            }
            if ok { continue }
            // Backtrack.
            guard stack.count > base else { return nil }
            let low = stack.removeLast(), pos = stack.removeLast(), at = stack.removeLast()
            if at >= 0 {
                pc = at; sp = pos
            } else {
                if pos > low { stack.append(at); stack.append(pos - 1); stack.append(low) }
                pc = -at - 1 + 1; sp = pos
            }
        }
    }

    // MARK: Parsing

    struct Parser {
        let p: [Unicode.Scalar]
        var i = 0
        var fold = false
        var depth = 0
        var classes: [ScalarClass] = []

        mutating func addClass(_ c: ScalarClass) throws(SyntaxError) -> Int {
            guard classes.count < ScalarRegex.maxClasses else {
                throw fail("more than \(ScalarRegex.maxClasses) character classes are not supported")
            }
            classes.append(c)
            return classes.count - 1
        }

        init(_ p: [Unicode.Scalar]) { self.p = p }

        func fail(_ m: String) -> SyntaxError { SyntaxError(description: m) }

        var atEnd: Bool { i >= p.count }
        func peek(_ k: Int = 0) -> Unicode.Scalar? { i + k < p.count ? p[i + k] : nil }

        mutating func parseAll() throws(SyntaxError) -> Node {
            let n = try parseAlternation()
            if !atEnd { throw fail("unbalanced \")\" at character \(i)") }
            return n
        }

        mutating func parseAlternation() throws(SyntaxError) -> Node {
            let saved = fold
            defer { fold = saved }
            var alts = [try parseConcat()]
            while peek() == "|" {
                i += 1
                alts.append(try parseConcat())
            }
            return alts.count == 1 ? alts[0] : .alternate(alts)
        }

        mutating func parseConcat() throws(SyntaxError) -> Node {
            var items: [Node] = []
            while let c = peek(), c != "|", c != ")" {
                let atom = try parseAtom()
                items.append(try parseQuantifiers(atom))
            }
            return items.count == 1 ? items[0] : (items.isEmpty ? .empty : .concat(items))
        }

        mutating func parseQuantifiers(_ atom: Node) throws(SyntaxError) -> Node {
            var node = atom
            while let c = peek() {
                var lo = 0, hi: Int? = nil
                switch c {
                case "?": lo = 0; hi = 1; i += 1
                case "*": lo = 0; hi = nil; i += 1
                case "+": lo = 1; hi = nil; i += 1
                case "{":
                    guard let (a, b, len) = counted() else { return node }  // a literal "{"
                    lo = a; hi = b; i += len
                default: return node
                }
                if case .empty = node { throw fail("a quantifier at character \(i - 1) has nothing to repeat") }
                if case .lineStart = node { throw fail("a quantifier at character \(i - 1) follows an anchor") }
                if hi == nil || (hi ?? 0) > 1, Compiler.canBeEmpty(node) {
                    throw fail("a repeated expression that can match nothing (before character \(i)) is not supported")
                }
                if let h = hi, h < lo { throw fail("quantifier {\(lo),\(h)}: the maximum is below the minimum") }
                if lo > 1000 || (hi ?? 0) > 1000 { throw fail("quantifier bounds above 1000 are not supported") }
                if peek() == "?" {  // lazy
                    i += 1
                    node = .loop(node, min: lo, max: hi, greedy: false)
                } else if peek() == "+" && c != "{" {  // possessive (not after {…} in Ruby syntax)
                    i += 1
                    node = .atomic(.loop(node, min: lo, max: hi, greedy: true))
                } else {
                    node = .loop(node, min: lo, max: hi, greedy: true)
                }
            }
            return node
        }

        /// `{n}`, `{n,}`, `{n,m}`, `{,m}` at `i`: (min, max, length), or nil when not a quantifier.
        func counted() -> (Int, Int?, Int)? {
            var k = i + 1
            func number() -> Int? {
                var v = 0, digits = 0
                while k < p.count, p[k].value >= 0x30, p[k].value <= 0x39 {
                    v = min(v * 10 + Int(p[k].value - 0x30), 1_000_000); digits += 1; k += 1
                }
                return digits > 0 ? v : nil
            }
            let a = number()
            if k < p.count && p[k] == "}" {
                guard let a else { return nil }
                return (a, a, k + 1 - i)
            }
            guard k < p.count && p[k] == "," else { return nil }
            k += 1
            let b = number()
            guard k < p.count && p[k] == "}", a != nil || b != nil else { return nil }
            return (a ?? 0, b, k + 1 - i)
        }

        mutating func parseAtom() throws(SyntaxError) -> Node {
            guard let c = peek() else { throw fail("unexpected end of pattern") }
            switch c {
            case "(": return try parseGroup()
            case "[": return .set(try parseClass())
            case ".": i += 1; return .any
            case "^": i += 1; return .lineStart
            case "$": i += 1; return .lineEnd
            case "\\": return try parseEscape()
            case "*", "+", "?": throw fail("quantifier \"\(c)\" at character \(i) has nothing to repeat")
            default:
                i += 1
                return literal(c.value)
            }
        }

        func literal(_ v: UInt32) -> Node {
            // Case-insensitive: compare folds, except for ASCII non-letters
            // (nothing else folds to them).
            let asciiLetter = (0x41...0x5A).contains(v) || (0x61...0x7A).contains(v)
            if fold && (asciiLetter || v >= 0x80) { return .literal(UnicodeClasses.fold(v), fold: true) }
            return .literal(v, fold: false)
        }

        mutating func parseGroup() throws(SyntaxError) -> Node {
            let open = i
            i += 1  // "("
            depth += 1
            defer { depth -= 1 }
            guard depth <= ScalarRegex.maxDepth else { throw fail("groups nested more than \(ScalarRegex.maxDepth) deep are not supported") }
            var kind = "group"
            var setFold: Bool? = nil
            if peek() == "?" {
                i += 1
                switch peek() {
                case ":": i += 1
                case "=": i += 1; kind = "ahead"
                case "!": i += 1; kind = "notahead"
                case ">": i += 1; kind = "atomic"
                case "<":
                    if peek(1) == "=" || peek(1) == "!" { throw fail("lookbehind at character \(open) is not supported") }
                    // (?<name>…): a named group, matched as a plain group.
                    while let c = peek(), c != ">" { i += 1 }
                    guard peek() == ">" else { throw fail("unterminated group name at character \(open)") }
                    i += 1
                case "i", "-":
                    var on = true
                    var value: Bool? = nil
                    while let c = peek(), c == "i" || c == "-" {
                        if c == "-" { on = false } else { value = on }
                        i += 1
                    }
                    guard let v = value else { throw fail("group flags at character \(open) are not supported (only i)") }
                    if peek() == ")" {  // (?i): for the rest of the enclosing group
                        i += 1
                        fold = v
                        return .empty
                    }
                    guard peek() == ":" else { throw fail("group flags at character \(open) are not supported (only i)") }
                    i += 1
                    setFold = v
                default:
                    throw fail("group \"(?\(peek().map { String($0) } ?? "")\" at character \(open) is not supported")
                }
            }
            let saved = fold
            if let f = setFold { fold = f }
            let inner = try parseAlternation()
            fold = saved
            guard peek() == ")" else { throw fail("unterminated group at character \(open)") }
            i += 1
            switch kind {
            case "ahead": return .look(inner, negated: false)
            case "notahead": return .look(inner, negated: true)
            case "atomic": return .atomic(inner)
            default: return inner
            }
        }

        mutating func hexValue(digits: Int?, at: Int) throws(SyntaxError) -> UInt32 {
            var v: UInt32 = 0
            var count = 0
            if digits == nil {  // {H…}
                guard peek() == "{" else { throw fail("escape at character \(at): expected {") }
                i += 1
                while let c = peek(), c != "}" {
                    guard let d = Self.hexDigit(c), count < 8 else { throw fail("escape at character \(at): bad hex digit") }
                    v = v * 16 + d; count += 1; i += 1
                }
                guard peek() == "}", count > 0 else { throw fail("escape at character \(at): unterminated") }
                i += 1
            } else {
                while count < (digits ?? 0), let c = peek(), let d = Self.hexDigit(c) {
                    v = v * 16 + d; count += 1; i += 1
                }
                guard count > 0 else { throw fail("escape at character \(at): expected hex digits") }
            }
            guard Unicode.Scalar(v) != nil else { throw fail("escape at character \(at): U+\(String(v, radix: 16)) is not a scalar") }
            return v
        }

        static func hexDigit(_ c: Unicode.Scalar) -> UInt32? {
            switch c.value {
            case 0x30...0x39: return c.value - 0x30
            case 0x41...0x46: return c.value - 0x41 + 10
            case 0x61...0x66: return c.value - 0x61 + 10
            default: return nil
            }
        }

        /// One escape inside or outside a class: a scalar or a class item.
        enum Escape { case scalar(UInt32), item(ScalarClass.Item) }

        mutating func escape() throws(SyntaxError) -> Escape {
            let at = i
            i += 1  // "\"
            guard let c = peek() else { throw fail("pattern ends with \"\\\"") }
            i += 1
            switch c {
            case "n": return .scalar(0x0A)
            case "r": return .scalar(0x0D)
            case "t": return .scalar(0x09)
            case "f": return .scalar(0x0C)
            case "v": return .scalar(0x0B)
            case "a": return .scalar(0x07)
            case "e": return .scalar(0x1B)
            case "x":
                if peek() == "{" { return .scalar(try hexValue(digits: nil, at: at)) }
                return .scalar(try hexValue(digits: 2, at: at))
            case "u": return .scalar(try hexValue(digits: 4, at: at))
            case "s": return .item(.space(negated: false))
            case "S": return .item(.space(negated: true))
            case "d": return .item(.categories(UnicodeClasses.decimal, negated: false))
            case "D": return .item(.categories(UnicodeClasses.decimal, negated: true))
            case "w": return .item(.categories(UnicodeClasses.word, negated: false))
            case "W": return .item(.categories(UnicodeClasses.word, negated: true))
            case "p", "P":
                guard peek() == "{" else { throw fail("\\\(c) at character \(at) needs {…}") }
                i += 1
                var negated = c == "P"
                if peek() == "^" { negated.toggle(); i += 1 }
                var name = ""
                while let d = peek(), d != "}" { name.unicodeScalars.append(d); i += 1 }
                guard peek() == "}" else { throw fail("\\\(c){ at character \(at) is unterminated") }
                i += 1
                guard let bits = UnicodeClasses.named[name] else {
                    throw fail("\\\(c){\(name)} is not supported (general categories only, e.g. L, Lu, N, Nd)")
                }
                return .item(.categories(bits, negated: negated))
            default:
                if c.isASCII && (c.properties.isAlphabetic || ("0"..."9").contains(c)) {
                    throw fail("escape \\\(c) at character \(at) is not supported")
                }
                return .scalar(c.value)
            }
        }

        mutating func parseEscape() throws(SyntaxError) -> Node {
            if peek(1) == "A" { i += 2; return .textStart }
            if peek(1) == "z" { i += 2; return .textEnd }
            if peek(1) == "Z" { i += 2; return .textEndNewline }
            switch try escape() {
            case let .scalar(v): return literal(v)
            case let .item(item):
                return .set(try addClass(ScalarClass(items: [item], negated: false, fold: false)))
            }
        }

        mutating func parseClass() throws(SyntaxError) -> Int {
            let open = i
            i += 1  // "["
            var negated = false
            if peek() == "^" { negated = true; i += 1 }
            var items: [ScalarClass.Item] = []
            var first = true
            while true {
                guard let c = peek() else { throw fail("unterminated class at character \(open)") }
                if c == "]" && !first { i += 1; break }
                first = false
                if c == "[" { throw fail("nested class or POSIX bracket at character \(i) is not supported") }
                if c == "&" && peek(1) == "&" { throw fail("class intersection && at character \(i) is not supported") }
                let lowValue: UInt32
                if c == "\\" {
                    switch try escape() {
                    case let .item(item): items.append(item); continue
                    case let .scalar(v): lowValue = v
                    }
                } else {
                    i += 1
                    lowValue = c.value
                }
                if peek() == "-", let next = peek(1), next != "]" {
                    i += 1
                    var high: UInt32
                    if next == "\\" {
                        guard case let .scalar(v) = try escape() else { throw fail("class range at character \(i) ends in a class") }
                        high = v
                    } else {
                        i += 1
                        high = next.value
                    }
                    guard high >= lowValue else { throw fail("class range at character \(i) is reversed") }
                    items.append(.range(lowValue, high))
                } else {
                    items.append(.range(lowValue, lowValue))
                }
            }
            return try addClass(ScalarClass(items: items, negated: negated, fold: fold))
        }
    }

    // MARK: Compiling

    struct Compiler {
        var code: [Inst] = []

        static func canBeEmpty(_ n: Node) -> Bool {
            switch n {
            case .empty, .look, .lineStart, .lineEnd, .textStart, .textEnd, .textEndNewline: return true
            case .literal, .set, .any: return false
            case let .concat(items): return items.allSatisfy(canBeEmpty)
            case let .alternate(alts): return alts.contains(where: canBeEmpty)
            case let .loop(inner, min, _, _): return min == 0 || canBeEmpty(inner)
            case let .atomic(inner): return canBeEmpty(inner)
            }
        }

        mutating func append(_ inst: Inst) throws(SyntaxError) {
            guard code.count < ScalarRegex.maxProgram else {
                throw SyntaxError(description: "pattern too large once repetitions are expanded (over \(ScalarRegex.maxProgram) steps)")
            }
            code.append(inst)
        }

        mutating func emitProgram(_ n: Node) throws(SyntaxError) {
            try emit(n)
            try append(.match)
        }

        /// A single-scalar matcher, for `.run`.
        static func single(_ n: Node) -> Inst? {
            switch n {
            case let .literal(c, fold): return fold ? .literalFold(c) : .literal(c)
            case let .set(i): return .set(i)
            case .any: return .any
            default: return nil
            }
        }

        mutating func emit(_ n: Node) throws(SyntaxError) {
            switch n {
            case .empty: break
            case let .literal(c, fold): try append(fold ? .literalFold(c) : .literal(c))
            case let .set(i): try append(.set(i))
            case .any: try append(.any)
            case .lineStart: try append(.lineStart)
            case .lineEnd: try append(.lineEnd)
            case .textStart: try append(.textStart)
            case .textEnd: try append(.textEnd)
            case .textEndNewline: try append(.textEndNewline)
            case let .concat(items): for x in items { try emit(x) }
            case let .alternate(alts):
                var jumps: [Int] = []
                for (k, a) in alts.enumerated() {
                    if k < alts.count - 1 {
                        let split = code.count
                        try append(.split(split + 1, -1))
                        try emit(a)
                        jumps.append(code.count)
                        try append(.jump(-1))
                        code[split] = .split(split + 1, code.count)
                    } else {
                        try emit(a)
                    }
                }
                for j in jumps { code[j] = .jump(code.count) }
            case let .look(inner, negated):
                let at = code.count
                try append(.jump(-1))  // placeholder for .look
                try emit(inner)
                try append(.match)
                code[at] = .look(start: at + 1, negated: negated, next: code.count)
            case let .atomic(inner):
                let at = code.count
                try append(.jump(-1))
                try emit(inner)
                try append(.match)
                code[at] = .atomic(start: at + 1, next: code.count)
            case let .loop(inner, lo, hi, greedy):
                if greedy, let one = Self.single(inner) {
                    // The matcher sits after the run and is jumped over.
                    let at = code.count
                    try append(.jump(-1))
                    try append(.jump(at + 3))
                    try append(one)
                    code[at] = .run(matcher: at + 2, min: lo, max: hi ?? Int.max)
                    return
                }
                for _ in 0..<lo { try emit(inner) }
                if let hi {
                    // (inner (inner …)?)? for the hi - lo optional copies.
                    var splits: [Int] = []
                    for _ in lo..<hi {
                        splits.append(code.count)
                        try append(.split(-1, -1))
                        try emit(inner)
                    }
                    for s in splits { code[s] = greedy ? .split(s + 1, code.count) : .split(code.count, s + 1) }
                } else {
                    let top = code.count
                    try append(.split(-1, -1))
                    try emit(inner)
                    try append(.jump(top))
                    code[top] = greedy ? .split(top + 1, code.count) : .split(code.count, top + 1)
                }
            }
        }
    }
}

/// A character class of `ScalarRegex`: its items, negation and case folding.
/// Membership of BMP scalars is a bitmap built at compile time.
struct ScalarClass: Sendable {
    enum Item: Sendable {
        case range(UInt32, UInt32)
        case categories(UInt32, negated: Bool)
        case space(negated: Bool)

        func contains(_ v: UInt32) -> Bool {
            switch self {
            case let .range(a, b): return v >= a && v <= b
            case let .categories(bits, negated): return UnicodeClasses.inCategories(v, bits) != negated
            case let .space(negated): return UnicodeClasses.isSpace(v) != negated
            }
        }
    }

    let items: [Item]
    let negated: Bool
    let fold: Bool
    let bmp: [UInt64]

    init(items: [Item], negated: Bool, fold: Bool) {
        self.items = items
        self.negated = negated
        self.fold = fold
        // The items' union over the BMP, per category first (a table of 30),
        // then ranges; case variants and negation after.
        var categoryHit = [Bool](repeating: false, count: UnicodeClasses.all.count)
        var space = false, notSpace = false
        for item in items {
            switch item {
            case let .categories(b, negated):
                for c in 0..<categoryHit.count where (b & (1 << UInt32(c)) != 0) != negated { categoryHit[c] = true }
            case let .space(negated): if negated { notSpace = true } else { space = true }
            case .range: break
            }
        }
        var bits = [UInt64](repeating: 0, count: 0x10000 / 64)
        for v in 0..<UInt32(0x10000) {
            let isSpace = (space || notSpace) && UnicodeClasses.isSpace(v)
            if categoryHit[Int(UnicodeClasses.category(v))] || (space && isSpace) || (notSpace && !isSpace) {
                bits[Int(v >> 6)] |= 1 << UInt64(v & 63)
            }
        }
        for case let .range(a, b) in items where a < 0x10000 {
            for v in a...min(b, 0xFFFF) { bits[Int(v >> 6)] |= 1 << UInt64(v & 63) }
        }
        if fold {
            for v in 0..<UInt32(0x10000) where bits[Int(v >> 6)] & (1 << UInt64(v & 63)) == 0 && Self.evaluate(items, false, true, v) {
                bits[Int(v >> 6)] |= 1 << UInt64(v & 63)
            }
        }
        if negated { for i in bits.indices { bits[i] = ~bits[i] } }
        bmp = bits
    }

    private static func evaluate(_ items: [Item], _ negated: Bool, _ fold: Bool, _ v: UInt32) -> Bool {
        var hit = items.contains { $0.contains(v) }
        if !hit && fold {
            // Case-insensitive: the scalar or any case variant of it.
            var variants: [UInt32] = [UnicodeClasses.fold(v)]
            if let u = Unicode.Scalar(v) {
                for m in [u.properties.uppercaseMapping, u.properties.lowercaseMapping] where m.unicodeScalars.count == 1 {
                    if let s = m.unicodeScalars.first { variants.append(s.value) }
                }
            }
            hit = variants.contains { w in items.contains { $0.contains(w) } }
        }
        return hit != negated
    }

    @inline(__always)
    func contains(_ v: UInt32) -> Bool {
        if v < 0x10000 { return bmp[Int(v >> 6)] & (1 << UInt64(v & 63)) != 0 }
        return Self.evaluate(items, negated, fold, v)
    }
}
