/// Builds the syntax tree from the lexer's tokens, with Jinja2's grammar and
/// operator precedence (loosest first):
///
///     a if b else c
///     or, and, not
///     == != < <= > >= in, not in   (chained as in Python)
///     + -
///     ~
///     * / // %
///     **
///     unary - +
///     primary, then .attr [item] (call), then | filter, is test, (call)
///
/// so `a + b | trim` trims only `b`, as in Jinja. Statements: if/elif/else,
/// for (with `if` filter and `else`), set (incl. `ns.attr` and block set),
/// macro, break, continue, and transformers' generation block. Nesting of
/// expressions and blocks is capped so a hostile template cannot exhaust the
/// stack.
struct JinjaParser {
    typealias Token = JinjaLexer.Token

    static let maxNesting = 64

    private let tokens: [Token]
    private var p = 0
    private var depth = 0
    private var loopDepth = 0

    static func parse(_ source: String) throws -> [JinjaNode] {
        var parser = JinjaParser(tokens: try JinjaLexer.tokenize(source))
        let (body, stop) = try parser.statements(until: [])
        if let stop {
            throw JinjaSyntaxError(message: "unexpected '\(stop.name)'", line: stop.line, column: stop.column)
        }
        return body
    }

    private init(tokens: [Token]) { self.tokens = tokens }

    private var current: Token { tokens[min(p, tokens.count - 1)] }

    private func error(_ message: String, _ token: Token? = nil) -> JinjaSyntaxError {
        let t = token ?? current
        return JinjaSyntaxError(message: message, line: t.line, column: t.column)
    }

    private static func describe(_ kind: JinjaLexer.Kind) -> String {
        switch kind {
        case .text: return "template text"
        case .variableBegin: return "'{{'"
        case .variableEnd: return "'}}'"
        case .blockBegin: return "'{%'"
        case .blockEnd: return "'%}'"
        case let .name(n): return "'\(n)'"
        case let .string(s): return "string '\(s.prefix(20))'"
        case let .integer(i): return "number \(i)"
        case let .float(d): return "number \(d)"
        case let .op(o): return "'\(o)'"
        case .end: return "end of template"
        }
    }

    private mutating func next() -> Token {
        let t = current
        if p < tokens.count { p += 1 }
        return t
    }

    private func isOp(_ op: String) -> Bool { current.kind == .op(op) }
    private func isName(_ name: String) -> Bool { current.kind == .name(name) }

    private mutating func skipOp(_ op: String) -> Bool {
        if isOp(op) { p += 1; return true }
        return false
    }

    private mutating func skipName(_ name: String) -> Bool {
        if isName(name) { p += 1; return true }
        return false
    }

    private mutating func expectOp(_ op: String) throws {
        guard skipOp(op) else { throw error("expected '\(op)', found \(JinjaParser.describe(current.kind))") }
    }

    private mutating func expectName() throws -> String {
        guard case let .name(n) = current.kind else {
            throw error("expected a name, found \(JinjaParser.describe(current.kind))")
        }
        p += 1
        return n
    }

    private mutating func expectBlockEnd() throws {
        guard current.kind == .blockEnd else {
            throw error("expected '%}', found \(JinjaParser.describe(current.kind))")
        }
        p += 1
    }

    private mutating func enter() throws {
        depth += 1
        guard depth <= JinjaParser.maxNesting else { throw error("template nested too deeply (more than \(JinjaParser.maxNesting) levels)") }
    }

    // MARK: - Statements

    /// A statement keyword that ended a body: its name and where it was.
    struct Stop {
        let name: String
        let line: Int
        let column: Int
    }

    /// Nodes up to a `{% name %}` whose name is in `until` (its `{%` and name
    /// consumed, the rest of the tag not), or to the end of the template.
    private mutating func statements(until: Set<String>) throws -> ([JinjaNode], Stop?) {
        var nodes: [JinjaNode] = []
        while true {
            let t = current
            switch t.kind {
            case .end:
                return (nodes, nil)
            case let .text(s):
                p += 1
                nodes.append(JinjaNode(kind: .text(s), line: t.line, column: t.column))
            case .variableBegin:
                p += 1
                let e = try expression()
                guard current.kind == .variableEnd else {
                    throw error("expected '}}', found \(JinjaParser.describe(current.kind))")
                }
                p += 1
                nodes.append(JinjaNode(kind: .output(e), line: t.line, column: t.column))
            case .blockBegin:
                p += 1
                let keywordToken = current
                let keyword = try expectName()
                if until.contains(keyword) {
                    return (nodes, Stop(name: keyword, line: keywordToken.line, column: keywordToken.column))
                }
                nodes.append(try statement(keyword, at: t))
            default:
                throw error("unexpected \(JinjaParser.describe(t.kind))")
            }
        }
    }

    /// A body that must end with one of `until`; unterminated blocks name the
    /// tag that opened them.
    private mutating func body(until: Set<String>, opener: String, at tag: Token) throws -> ([JinjaNode], Stop) {
        let (nodes, stop) = try statements(until: until)
        guard let stop else {
            throw error("'\(opener)' block is never closed (expected \(until.sorted().map { "'\($0)'" }.joined(separator: " or ")))", tag)
        }
        return (nodes, stop)
    }

    private mutating func statement(_ keyword: String, at tag: Token) throws -> JinjaNode {
        try enter()
        defer { depth -= 1 }
        func node(_ kind: JinjaNode.Kind) -> JinjaNode { JinjaNode(kind: kind, line: tag.line, column: tag.column) }
        switch keyword {
        case "if":
            var branches: [(JinjaExpr, [JinjaNode])] = []
            var test = try expression()
            try expectBlockEnd()
            while true {
                let (nodes, stop) = try body(until: ["elif", "else", "endif"], opener: "if", at: tag)
                branches.append((test, nodes))
                switch stop.name {
                case "elif":
                    test = try expression()
                    try expectBlockEnd()
                case "else":
                    try expectBlockEnd()
                    let (otherwise, _) = try body(until: ["endif"], opener: "if", at: tag)
                    try expectBlockEnd()
                    return node(.conditional(branches, otherwise: otherwise))
                default:
                    try expectBlockEnd()
                    return node(.conditional(branches, otherwise: []))
                }
            }
        case "for":
            var targets = [try expectName()]
            while skipOp(",") { targets.append(try expectName()) }
            guard skipName("in") else { throw error("expected 'in' in for loop") }
            let iterable = try conditionalFree()
            var filter: JinjaExpr? = nil
            if skipName("if") { filter = try expression() }
            if isName("recursive") { throw error("recursive for loops are not supported") }
            try expectBlockEnd()
            loopDepth += 1
            let (loopBody, stop) = try body(until: ["else", "endfor"], opener: "for", at: tag)
            loopDepth -= 1
            var otherwise: [JinjaNode] = []
            try expectBlockEnd()
            if stop.name == "else" {
                (otherwise, _) = try body(until: ["endfor"], opener: "for", at: tag)
                try expectBlockEnd()
            }
            return node(.forLoop(targets: targets, iterable: iterable, filter: filter, body: loopBody, otherwise: otherwise))
        case "set":
            let first = try expectName()
            var target = JinjaSetTarget.name(first)
            if skipOp(".") {
                target = .attribute(first, try expectName())
            } else if isOp(",") {
                var names = [first]
                while skipOp(",") { names.append(try expectName()) }
                target = .names(names)
            }
            if skipOp("=") {
                let value = try expression()
                try expectBlockEnd()
                return node(.set(target, value))
            }
            try expectBlockEnd()
            let (nodes, _) = try body(until: ["endset"], opener: "set", at: tag)
            try expectBlockEnd()
            return node(.setBlock(target, nodes))
        case "macro":
            let savedLoopDepth = loopDepth
            loopDepth = 0
            defer { loopDepth = savedLoopDepth }
            let name = try expectName()
            try expectOp("(")
            var parameters: [(String, JinjaExpr?)] = []
            while !isOp(")") {
                if !parameters.isEmpty { try expectOp(",") }
                if isOp(")") { break }
                let pname = try expectName()
                parameters.append((pname, skipOp("=") ? try expression() : nil))
            }
            try expectOp(")")
            try expectBlockEnd()
            let (nodes, _) = try body(until: ["endmacro"], opener: "macro", at: tag)
            try expectBlockEnd()
            return node(.macro(name: name, parameters: parameters, body: nodes))
        case "break", "continue":
            guard loopDepth > 0 else { throw error("'\(keyword)' outside a for loop", tokens[p - 1]) }
            try expectBlockEnd()
            return node(keyword == "break" ? .breakLoop : .continueLoop)
        case "generation":
            try expectBlockEnd()
            let (nodes, _) = try body(until: ["endgeneration"], opener: "generation", at: tag)
            try expectBlockEnd()
            return node(.generation(nodes))
        case "elif", "else", "endif", "endfor", "endset", "endmacro", "endgeneration":
            throw error("unexpected '\(keyword)'", tokens[p - 1])
        default:
            throw error("unknown or unsupported tag '\(keyword)'", tokens[p - 1])
        }
    }

    // MARK: - Expressions

    mutating func expression() throws -> JinjaExpr {
        try enter()
        defer { depth -= 1 }
        let start = current
        let value = try orExpr()
        if skipName("if") {
            let test = try orExpr()
            let otherwise = skipName("else") ? try expression() : nil
            return JinjaExpr(kind: .conditional(then: value, test: test, otherwise: otherwise), line: start.line, column: start.column)
        }
        return value
    }

    /// An expression without a top-level `x if y` (a for loop's iterable,
    /// where `if` starts the loop filter).
    private mutating func conditionalFree() throws -> JinjaExpr {
        try enter()
        defer { depth -= 1 }
        return try orExpr()
    }

    private func make(_ kind: JinjaExpr.Kind, _ t: Token) -> JinjaExpr { JinjaExpr(kind: kind, line: t.line, column: t.column) }

    private mutating func orExpr() throws -> JinjaExpr {
        let t = current
        var left = try andExpr()
        while skipName("or") { left = make(.or(left, try andExpr()), t) }
        return left
    }

    private mutating func andExpr() throws -> JinjaExpr {
        let t = current
        var left = try notExpr()
        while skipName("and") { left = make(.and(left, try notExpr()), t) }
        return left
    }

    private mutating func notExpr() throws -> JinjaExpr {
        let t = current
        if skipName("not") {
            try enter()
            defer { depth -= 1 }
            return make(.not(try notExpr()), t)
        }
        return try compare()
    }

    private mutating func compare() throws -> JinjaExpr {
        let t = current
        let left = try math1()
        var ops: [(String, JinjaExpr)] = []
        while true {
            if case let .op(o) = current.kind, ["==", "!=", "<", "<=", ">", ">="].contains(o) {
                p += 1
                ops.append((o, try math1()))
            } else if skipName("in") {
                ops.append(("in", try math1()))
            } else if isName("not"), p + 1 < tokens.count, tokens[p + 1].kind == .name("in") {
                p += 2
                ops.append(("notin", try math1()))
            } else {
                break
            }
        }
        return ops.isEmpty ? left : make(.compare(left, ops), t)
    }

    private mutating func math1() throws -> JinjaExpr {
        let t = current
        var left = try concat()
        while case let .op(o) = current.kind, o == "+" || o == "-" {
            p += 1
            left = make(.binary(o, left, try concat()), t)
        }
        return left
    }

    private mutating func concat() throws -> JinjaExpr {
        let t = current
        var left = try math2()
        while skipOp("~") { left = make(.binary("~", left, try math2()), t) }
        return left
    }

    private mutating func math2() throws -> JinjaExpr {
        let t = current
        var left = try pow()
        while case let .op(o) = current.kind, ["*", "/", "//", "%"].contains(o) {
            p += 1
            left = make(.binary(o, left, try pow()), t)
        }
        return left
    }

    private mutating func pow() throws -> JinjaExpr {
        let t = current
        var left = try unary(withFilter: true)
        while skipOp("**") { left = make(.binary("**", left, try unary(withFilter: true)), t) }
        return left
    }

    private mutating func unary(withFilter: Bool) throws -> JinjaExpr {
        try enter()
        defer { depth -= 1 }
        let t = current
        var node: JinjaExpr
        if skipOp("-") {
            node = make(.negate(try unary(withFilter: false)), t)
        } else if skipOp("+") {
            node = make(.plus(try unary(withFilter: false)), t)
        } else {
            node = try primary()
        }
        node = try postfix(node)
        if withFilter { node = try filterChain(node) }
        return node
    }

    private mutating func primary() throws -> JinjaExpr {
        let t = next()
        switch t.kind {
        case let .name(n):
            switch n {
            case "true", "True": return make(.literal(.bool(true)), t)
            case "false", "False": return make(.literal(.bool(false)), t)
            case "none", "None": return make(.literal(.none), t)
            default: return make(.name(n), t)
            }
        case let .string(s):
            var text = s
            while case let .string(more) = current.kind {   // adjacent literals concatenate
                text += more
                p += 1
            }
            return make(.literal(.string(text)), t)
        case let .integer(i): return make(.literal(.int(i)), t)
        case let .float(d): return make(.literal(.float(d)), t)
        case .op("("):
            if skipOp(")") { return make(.tuple([]), t) }
            let first = try expression()
            if skipOp(")") { return first }
            var items = [first]
            while skipOp(",") {
                if isOp(")") { break }
                items.append(try expression())
            }
            try expectOp(")")
            return make(.tuple(items), t)
        case .op("["):
            var items: [JinjaExpr] = []
            while !isOp("]") {
                if !items.isEmpty { try expectOp(",") }
                if isOp("]") { break }
                items.append(try expression())
            }
            try expectOp("]")
            return make(.list(items), t)
        case .op("{"):
            var pairs: [(JinjaExpr, JinjaExpr)] = []
            while !isOp("}") {
                if !pairs.isEmpty { try expectOp(",") }
                if isOp("}") { break }
                let key = try expression()
                try expectOp(":")
                pairs.append((key, try expression()))
            }
            try expectOp("}")
            return make(.dict(pairs), t)
        default:
            throw error("unexpected \(JinjaParser.describe(t.kind))", t)
        }
    }

    /// `.name`, `[index]` and `(args)` after a primary; the whole chain is
    /// placed at its start, so an error names the expression, not the dot.
    private mutating func postfix(_ start: JinjaExpr) throws -> JinjaExpr {
        var node = start
        let t = Token(kind: current.kind, line: start.line, column: start.column)
        while true {
            if skipOp(".") {
                switch next().kind {
                case let .name(n): node = make(.attribute(node, n), t)
                case let .integer(i): node = make(.item(node, make(.literal(.int(i)), t)), t)
                default: throw error("expected an attribute name after '.'", t)
                }
            } else if skipOp("[") {
                node = try subscriptExpr(node, at: t)
            } else if isOp("(") {
                node = try call(node)
            } else {
                return node
            }
        }
    }

    private mutating func subscriptExpr(_ target: JinjaExpr, at t: Token) throws -> JinjaExpr {
        var parts: [JinjaExpr?] = []
        var piece: JinjaExpr? = nil
        var colons = 0
        while !isOp("]") {
            if skipOp(":") {
                parts.append(piece)
                piece = nil
                colons += 1
                guard colons <= 2 else { throw error("too many ':' in subscript") }
            } else {
                guard piece == nil else { throw error("expected ']' or ':' in subscript") }
                piece = try expression()
            }
        }
        try expectOp("]")
        parts.append(piece)
        if colons == 0 {
            guard let index = parts[0] else { throw error("empty subscript", t) }
            return make(.item(target, index), t)
        }
        while parts.count < 3 { parts.append(nil) }
        return make(.slice(target, parts[0], parts[1], parts[2]), t)
    }

    /// `(args, name=kwargs)` after a callee.
    private mutating func arguments() throws -> ([JinjaExpr], [(String, JinjaExpr)]) {
        try expectOp("(")
        var args: [JinjaExpr] = []
        var kwargs: [(String, JinjaExpr)] = []
        while !isOp(")") {
            if !(args.isEmpty && kwargs.isEmpty) { try expectOp(",") }
            if isOp(")") { break }
            if case let .name(n) = current.kind, p + 1 < tokens.count, tokens[p + 1].kind == .op("=") {
                p += 2
                kwargs.append((n, try expression()))
            } else {
                guard kwargs.isEmpty else { throw error("positional argument after keyword argument") }
                args.append(try expression())
            }
        }
        try expectOp(")")
        return (args, kwargs)
    }

    private mutating func call(_ callee: JinjaExpr) throws -> JinjaExpr {
        let (args, kwargs) = try arguments()
        return JinjaExpr(kind: .call(callee, args, kwargs), line: callee.line, column: callee.column)
    }

    private mutating func filterChain(_ start: JinjaExpr) throws -> JinjaExpr {
        var node = start
        while true {
            let t = current
            if skipOp("|") {
                var name = try expectName()
                while skipOp(".") { name += "." + (try expectName()) }
                var args: [JinjaExpr] = [], kwargs: [(String, JinjaExpr)] = []
                if isOp("(") { (args, kwargs) = try arguments() }
                node = make(.filter(node, name, args, kwargs), t)
            } else if skipName("is") {
                let negated = skipName("not")
                var name = try expectName()
                while skipOp(".") { name += "." + (try expectName()) }
                var args: [JinjaExpr] = []
                if isOp("(") {
                    let (a, kw) = try arguments()
                    guard kw.isEmpty else { throw error("tests take no keyword arguments", t) }
                    args = a
                } else if startsBareTestArgument() {
                    args = [try postfix(try primary())]
                }
                node = make(.test(node, name, args, negated: negated), t)
            } else if isOp("(") {
                node = try call(node)
            } else {
                return node
            }
        }
    }

    /// Jinja lets one argument follow a test without parentheses
    /// (`x is divisibleby 3`, `x is sameas none`), unless it is a keyword.
    private func startsBareTestArgument() -> Bool {
        switch current.kind {
        case let .name(n): return !["else", "or", "and", "is", "if", "in", "not"].contains(n)
        case .string, .integer, .float: return true
        case .op("("), .op("["), .op("{"): return true
        default: return false
        }
    }
}
