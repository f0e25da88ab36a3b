import Foundation

/// Bounds on one render, so a hostile template cannot run forever or fill
/// memory: total output (and the size of any string it builds), the length of
/// any list or tuple it builds, loop iterations plus items handled by
/// filters, macro call depth, and `range()` length (Jinja's sandbox allows at
/// most 100 000). Expression and block nesting have fixed caps.
public struct JinjaLimits: Sendable {
    public var maxOutputBytes: Int
    public var maxItems: Int
    public var maxSteps: Int
    public var maxCallDepth: Int
    public var maxRange: Int

    public init(maxOutputBytes: Int = 16 << 20, maxItems: Int = 1 << 20, maxSteps: Int = 1_000_000, maxCallDepth: Int = 32,
                maxRange: Int = 100_000) {
        self.maxOutputBytes = maxOutputBytes
        self.maxItems = maxItems
        self.maxSteps = maxSteps
        self.maxCallDepth = maxCallDepth
        self.maxRange = maxRange
    }
}

/// An error while rendering, at the line and column of the expression or tag
/// that failed.
struct JinjaError: Error {
    let message: String
    let line: Int
    let column: Int
}

/// Runs a parsed template. Variables live in a stack of scopes: the context
/// (what the caller passed), the template's own top-level `set`s, then one
/// fresh scope per for-loop iteration and macro call, so a `set` inside a
/// loop is gone after the iteration, as in Jinja (`namespace()` is the way
/// out, as there). Break and continue travel back up as `Flow` values.
struct JinjaInterpreter {
    enum Flow { case normal, breakLoop, continueLoop }

    struct Macro {
        let parameters: [(String, JinjaExpr?)]
        let body: [JinjaNode]
    }

    let limits: JinjaLimits
    var scopes: [[String: JinjaValue]]
    var namespaces: [JinjaDict] = []
    var macros: [Macro] = []
    var output = ""
    var bytesWritten = 0
    var steps = 0
    var callDepth = 0
    var evalDepth = 0

    /// The instant `strftime_now` formats; without one it is undefined.
    let clock: JinjaClock?

    init(context: [String: JinjaValue], limits: JinjaLimits, clock: JinjaClock? = nil) {
        self.limits = limits
        self.clock = clock
        scopes = [context, [:]]
    }

    static let globals: Set<String> = ["range", "namespace", "raise_exception", "dict"]

    // MARK: - Bookkeeping

    var tooManySteps: JinjaFailure {
        JinjaFailure("template took more than \(limits.maxSteps) steps (loop iterations, filter items, compared values)")
    }

    mutating func step() throws {
        steps += 1
        guard steps <= limits.maxSteps else { throw tooManySteps }
    }

    /// Python `==`, paying one step per value visited.
    mutating func equal(_ a: JinjaValue, _ b: JinjaValue) throws -> Bool {
        var budget = limits.maxSteps - steps
        defer { steps = limits.maxSteps - budget }
        do { return try a.pythonEquals(b, budget: &budget) } catch { throw tooManySteps }
    }

    /// Python ordering (nil: not comparable), paying one step per value visited.
    mutating func order(_ a: JinjaValue, _ b: JinjaValue) throws -> Int? {
        var budget = limits.maxSteps - steps
        defer { steps = limits.maxSteps - budget }
        do { return try a.pythonCompare(b, budget: &budget) } catch { throw tooManySteps }
    }

    mutating func write(_ s: String) throws {
        bytesWritten += s.utf8.count
        guard bytesWritten <= limits.maxOutputBytes else {
            throw JinjaFailure("template output exceeds \(limits.maxOutputBytes) bytes")
        }
        output += s
    }

    /// Refuses a string longer than the output limit before it is built.
    func checkBytes(_ n: Int, _ what: String) throws {
        guard n <= limits.maxOutputBytes else { throw JinjaFailure("\(what) would exceed \(limits.maxOutputBytes) bytes") }
    }

    /// Refuses a list or tuple longer than the item limit before it is built.
    func checkItems(_ n: Int, _ what: String) throws {
        guard n <= limits.maxItems else { throw JinjaFailure("\(what) would exceed \(limits.maxItems) items") }
    }

    /// Refuses a value whose printed form would pass the output limit (walks
    /// at most that far, so a list nested in itself 40 times is refused
    /// without being printed).
    func checkPrintable(_ v: JinjaValue) throws {
        var budget = limits.maxOutputBytes
        func walk(_ v: JinjaValue) -> Bool {
            switch v {
            case let .string(s): budget -= s.utf8.count + 4
            case let .list(items), let .tuple(items):
                budget -= 2
                for x in items where budget >= 0 { if !walk(x) { return false } }
            case let .dict(d):
                budget -= 2
                for (k, x) in d.pairs where budget >= 0 {
                    budget -= k.utf8.count + 4
                    if !walk(x) { return false }
                }
            default: budget -= 24
            }
            return budget >= 0
        }
        guard walk(v) else { throw JinjaFailure("value is too large to print (over \(limits.maxOutputBytes) bytes)") }
    }

    func lookup(_ name: String) -> JinjaValue {
        for scope in scopes.reversed() {
            if let v = scope[name] { return v }
        }
        if JinjaInterpreter.globals.contains(name) || (name == "strftime_now" && clock != nil) { return .function(.global(name)) }
        return .undefined("'\(name)' is undefined")
    }

    /// A scalar's repr for an error message; a container is named by its type
    /// (its repr could be as large as the output limit).
    func shortRepr(_ v: JinjaValue) -> String {
        switch v {
        case .list, .tuple, .dict, .namespace: return "of type \(v.typeName)"
        case let .string(s) where s.unicodeScalars.count > 60:
            return JinjaValue.pythonStringRepr(String(String.UnicodeScalarView(s.unicodeScalars.prefix(60)))) + "…"
        default: return v.pythonRepr(namespaces: namespaces)
        }
    }

    /// Python's `str(v)`, refusing containers too large to print.
    func str(_ v: JinjaValue) throws -> String {
        switch v {
        case .list, .tuple, .dict: try checkPrintable(v)
        default: break
        }
        return v.pythonString(namespaces: namespaces)
    }

    // MARK: - Statements

    mutating func run(_ nodes: [JinjaNode]) throws -> Flow {
        for node in nodes {
            let flow = try run(node)
            if flow != .normal { return flow }
        }
        return .normal
    }

    mutating func run(_ node: JinjaNode) throws -> Flow {
        do {
            return try execute(node)
        } catch let f as JinjaFailure {
            throw JinjaError(message: f.message, line: node.line, column: node.column)
        }
    }

    private mutating func execute(_ node: JinjaNode) throws -> Flow {
        switch node.kind {
        case let .text(s):
            try write(s)
        case let .output(e):
            try write(try str(try eval(e)))
        case let .conditional(branches, otherwise):
            for (test, body) in branches where try eval(test).isTruthy {
                return try run(body)
            }
            return try run(otherwise)
        case let .forLoop(targets, iterableExpr, filter, body, otherwise):
            return try forLoop(targets: targets, iterableExpr: iterableExpr, filter: filter, body: body, otherwise: otherwise)
        case let .set(target, e):
            try assign(target, try eval(e))
        case let .setBlock(target, body):
            let captured = try capture(body)
            try assign(target, .string(captured))
        case let .macro(name, parameters, body):
            macros.append(Macro(parameters: parameters, body: body))
            scopes[scopes.count - 1][name] = .function(.macro(macros.count - 1))
        case .breakLoop:
            return .breakLoop
        case .continueLoop:
            return .continueLoop
        case let .generation(body):
            return try run(body)
        }
        return .normal
    }

    /// Renders `body` into a string of its own (block set, macro call).
    mutating func capture(_ body: [JinjaNode]) throws -> String {
        let saved = output
        output = ""
        defer { output = saved }
        _ = try run(body)
        return output
    }

    private mutating func assign(_ target: JinjaSetTarget, _ value: JinjaValue) throws {
        switch target {
        case let .name(n):
            scopes[scopes.count - 1][n] = value
        case let .attribute(base, attr):
            guard case let .namespace(i) = lookup(base), i < namespaces.count else {
                throw JinjaFailure("cannot assign attribute '\(attr)' on '\(base)': it is not a namespace")
            }
            guard !attr.hasPrefix("_") else {
                throw JinjaFailure("Chat templates cannot store underscore-prefixed attributes on a namespace, but got '\(attr)'. Please rename the attribute.")
            }
            namespaces[i][attr] = value
        case let .names(names):
            let items = try iterate(value)
            guard items.count == names.count else {
                throw JinjaFailure("cannot unpack \(items.count) values into \(names.count) names")
            }
            for (n, v) in zip(names, items) { scopes[scopes.count - 1][n] = v }
        }
    }

    private mutating func forLoop(targets: [String], iterableExpr: JinjaExpr, filter: JinjaExpr?,
                                  body: [JinjaNode], otherwise: [JinjaNode]) throws -> Flow {
        var items = try iterate(try eval(iterableExpr))
        func bind(_ item: JinjaValue, into scope: inout [String: JinjaValue]) throws {
            if targets.count == 1 {
                scope[targets[0]] = item
                return
            }
            let parts = try iterate(item)
            guard parts.count == targets.count else {
                throw JinjaFailure("cannot unpack \(parts.count) values into \(targets.count) loop variables")
            }
            for (n, v) in zip(targets, parts) { scope[n] = v }
        }
        if let filter {
            var kept: [JinjaValue] = []
            for item in items {
                try step()
                var scope: [String: JinjaValue] = [:]
                try bind(item, into: &scope)
                scopes.append(scope)
                defer { scopes.removeLast() }
                if try eval(filter).isTruthy { kept.append(item) }
            }
            items = kept
        }
        if items.isEmpty { return try run(otherwise) }
        let n = items.count
        for (k, item) in items.enumerated() {
            try step()
            var scope: [String: JinjaValue] = [:]
            try bind(item, into: &scope)
            scope["loop"] = .dict(JinjaDict([
                ("index", .int(k + 1)), ("index0", .int(k)),
                ("revindex", .int(n - k)), ("revindex0", .int(n - k - 1)),
                ("first", .bool(k == 0)), ("last", .bool(k == n - 1)), ("length", .int(n)),
                ("previtem", k > 0 ? items[k - 1] : .undefined("there is no previous item")),
                ("nextitem", k + 1 < n ? items[k + 1] : .undefined("there is no next item")),
                ("depth", .int(1)), ("depth0", .int(0)),
                ("cycle", .function(.method(.int(k), "cycle"))),   // loop.cycle(a, b, …): the k-th of its arguments, cyclically
            ]))
            scopes.append(scope)
            let flow = try run(body)
            scopes.removeLast()
            if flow == .breakLoop { break }
        }
        return .normal
    }

    /// What a for loop (and `list`) walks: list items, dict keys, string
    /// characters; Undefined is empty.
    func iterate(_ v: JinjaValue) throws -> [JinjaValue] {
        switch v {
        case let .list(items), let .tuple(items): return items
        case let .dict(d): return d.keys.map { .string($0) }
        case let .string(s): return s.unicodeScalars.map { .string(String($0)) }
        case .undefined: return []
        default: throw JinjaFailure("'\(v.typeName)' object is not iterable")
        }
    }

    // MARK: - Expressions

    /// Expressions deeper than this are refused while evaluating: the parser
    /// builds `a + b + c + …` and `x | f | g | …` as left-deep trees of any
    /// length, and each level is a stack frame here.
    static let maxExpressionDepth = 200

    mutating func eval(_ e: JinjaExpr) throws -> JinjaValue {
        evalDepth += 1
        defer { evalDepth -= 1 }
        do {
            guard evalDepth <= JinjaInterpreter.maxExpressionDepth else {
                throw JinjaFailure("expression nested too deeply (more than \(JinjaInterpreter.maxExpressionDepth) levels)")
            }
            return try evaluate(e)
        } catch let f as JinjaFailure {
            throw JinjaError(message: f.message, line: e.line, column: e.column)
        }
    }

    private mutating func evaluate(_ e: JinjaExpr) throws -> JinjaValue {
        switch e.kind {
        case let .literal(v):
            return v
        case let .name(n):
            return lookup(n)
        case let .list(items):
            return .list(try items.map { try eval($0) })
        case let .tuple(items):
            return .tuple(try items.map { try eval($0) })
        case let .dict(pairs):
            var d = JinjaDict()
            for (k, v) in pairs {
                guard case let .string(key) = try eval(k) else { throw JinjaFailure("dict keys must be strings here") }
                d[key] = try eval(v)
            }
            return .dict(d)
        case let .attribute(base, name):
            return try attribute(try eval(base), name)
        case let .item(base, index):
            return try item(try eval(base), try eval(index))
        case let .slice(base, start, stop, stride):
            let b = try eval(base)
            func bound(_ x: JinjaExpr?) throws -> Int? {
                guard let x else { return nil }
                let v = try eval(x)
                if case .none = v { return nil }
                guard let i = v.integer else { throw JinjaFailure("slice indices must be integers or None") }
                return i
            }
            return try slice(b, try bound(start), try bound(stop), try bound(stride))
        case let .negate(x):
            let v = try eval(x)
            switch v {
            case let .int(i):
                guard i != Int.min else { throw JinjaFailure("integer overflow") }
                return .int(-i)
            case let .bool(b): return .int(b ? -1 : 0)
            case let .float(d): return .float(-d)
            case let .undefined(msg): throw JinjaFailure(msg)
            default: throw JinjaFailure("bad operand type for unary -: '\(v.typeName)'")
            }
        case let .plus(x):
            let v = try eval(x)
            switch v {
            case .int, .float: return v
            case let .bool(b): return .int(b ? 1 : 0)
            case let .undefined(msg): throw JinjaFailure(msg)
            default: throw JinjaFailure("bad operand type for unary +: '\(v.typeName)'")
            }
        case let .not(x):
            return .bool(!(try eval(x).isTruthy))
        case let .and(a, b):
            let l = try eval(a)
            return l.isTruthy ? try eval(b) : l
        case let .or(a, b):
            let l = try eval(a)
            return l.isTruthy ? l : try eval(b)
        case let .binary(op, a, b):
            return try binary(op, try eval(a), try eval(b))
        case let .compare(first, ops):
            var left = try eval(first)
            for (op, rightExpr) in ops {
                let right = try eval(rightExpr)
                guard try compare(op, left, right) else { return .bool(false) }
                left = right
            }
            return .bool(true)
        case let .conditional(then, test, otherwise):
            if try eval(test).isTruthy { return try eval(then) }
            if let otherwise { return try eval(otherwise) }
            return .undefined("the inline if-expression on line \(e.line) evaluated to false and no else section was defined")
        case let .call(callee, argExprs, kwargExprs):
            let f = try eval(callee)
            let args = try argExprs.map { try eval($0) }
            let kwargs = try kwargExprs.map { ($0.0, try eval($0.1)) }
            return try call(f, args, kwargs)
        case let .filter(base, name, argExprs, kwargExprs):
            let v = try eval(base)
            let args = try argExprs.map { try eval($0) }
            let kwargs = try kwargExprs.map { ($0.0, try eval($0.1)) }
            return try applyFilter(name, v, args, kwargs)
        case let .test(base, name, argExprs, negated):
            let v = try eval(base)
            let args = try argExprs.map { try eval($0) }
            let result = try applyTest(name, v, args)
            return .bool(negated ? !result : result)
        }
    }

    // MARK: - Lookups

    static let dictMethods: Set<String> = ["items", "keys", "values", "get"]
    static let listMethods: Set<String> = ["index", "count"]
    static let stringMethods: Set<String> = [
        "strip", "lstrip", "rstrip", "split", "startswith", "endswith", "replace", "upper", "lower", "title",
        "capitalize", "find", "index", "count", "join", "isdigit", "isalpha", "isalnum", "isspace", "isupper", "islower",
    ]
    /// Methods the sandbox refuses (they would change a value in place).
    static let mutatingMethods: Set<String> = [
        "append", "extend", "insert", "pop", "remove", "clear", "sort", "reverse", "update", "popitem", "setdefault",
    ]

    /// `a.name`: a method if the type has one by that name, else the key
    /// (dicts), else Undefined. Only Undefined itself refuses a lookup.
    func attribute(_ base: JinjaValue, _ name: String) throws -> JinjaValue {
        if case let .undefined(msg) = base { throw JinjaFailure(msg) }
        if name.hasPrefix("_") { return .undefined("access to attribute '\(name)' of '\(base.typeName)' object is unsafe.") }
        switch base {
        case let .dict(d):
            if JinjaInterpreter.dictMethods.contains(name) { return .function(.method(base, name)) }
            if JinjaInterpreter.mutatingMethods.contains(name) { return unsafe(name, base) }
            return d[name] ?? .undefined("'dict object' has no attribute '\(name)'")
        case let .namespace(i):
            guard i < namespaces.count else { throw JinjaFailure("namespace \(i) does not belong to this render") }
            return namespaces[i][name] ?? .undefined("'Namespace object' has no attribute '\(name)'")
        case .string:
            if JinjaInterpreter.stringMethods.contains(name) { return .function(.method(base, name)) }
        case .list:
            if JinjaInterpreter.listMethods.contains(name) { return .function(.method(base, name)) }
            if JinjaInterpreter.mutatingMethods.contains(name) { return unsafe(name, base) }
        case .tuple:
            if JinjaInterpreter.listMethods.contains(name) { return .function(.method(base, name)) }
        default:
            break
        }
        return .undefined("'\(JinjaInterpreter.objectType(base))' has no attribute '\(name)'")
    }

    /// Jinja's `object_type_repr`, as its Undefined messages name things:
    /// "None", "list object", "dict object", …
    static func objectType(_ v: JinjaValue) -> String {
        if case .none = v { return "None" }
        return "\(v.typeName) object"
    }

    private func unsafe(_ name: String, _ base: JinjaValue) -> JinjaValue {
        .undefined("access to attribute '\(name)' of '\(base.typeName)' object is unsafe.")
    }

    /// `a[key]`: the item if there is one, else (for a string key) the
    /// attribute, else Undefined.
    func item(_ base: JinjaValue, _ key: JinjaValue) throws -> JinjaValue {
        if case let .undefined(msg) = base { throw JinjaFailure(msg) }
        switch (base, key) {
        case let (.dict(d), .string(k)):
            if let v = d[k] { return v }
        case let (.list(items), _), let (.tuple(items), _):
            if let i = key.integer {
                let j = i < 0 ? i + items.count : i
                if j >= 0 && j < items.count { return items[j] }
                return .undefined("\(JinjaInterpreter.objectType(base)) has no element \(i)")
            }
        case let (.string(s), _):
            if let i = key.integer {
                let scalars = Array(s.unicodeScalars)
                let j = i < 0 ? i + scalars.count : i
                if j >= 0 && j < scalars.count { return .string(String(scalars[j])) }
                return .undefined("str object has no element \(i)")
            }
        default:
            break
        }
        if case let .string(name) = key { return try attribute(base, name) }
        return .undefined("\(JinjaInterpreter.objectType(base)) has no element \(shortRepr(key))")
    }

    /// Python slicing of a list or string (by code point), any step.
    func slice(_ base: JinjaValue, _ start: Int?, _ stop: Int?, _ stride: Int?) throws -> JinjaValue {
        if case let .undefined(msg) = base { throw JinjaFailure(msg) }
        let step = stride ?? 1
        guard step != 0 else { throw JinjaFailure("slice step cannot be zero") }
        func indices(_ n: Int) -> [Int] {
            func clamp(_ v: Int?, _ dflt: Int) -> Int {
                guard var v else { return dflt }
                if v < 0 { v += n }
                if step > 0 { return Swift.min(Swift.max(v, 0), n) }
                return Swift.min(Swift.max(v, -1), n - 1)
            }
            let lo = clamp(start, step > 0 ? 0 : n - 1)
            let hi = clamp(stop, step > 0 ? n : -1)
            return Array(Swift.stride(from: lo, to: hi, by: step))
        }
        switch base {
        case let .list(items):
            return .list(indices(items.count).map { items[$0] })
        case let .tuple(items):
            return .tuple(indices(items.count).map { items[$0] })
        case let .string(s):
            let scalars = Array(s.unicodeScalars)
            var out = String.UnicodeScalarView()
            for i in indices(scalars.count) { out.append(scalars[i]) }
            return .string(String(out))
        default:
            return .undefined("'\(base.typeName) object' cannot be sliced")
        }
    }

    // MARK: - Operators

    func binary(_ op: String, _ a: JinjaValue, _ b: JinjaValue) throws -> JinjaValue {
        if op == "~" {
            let s = try str(a) + str(b)
            try checkBytes(s.utf8.count, "string")
            return .string(s)
        }
        if op == "%", case let .string(format) = a {   // printf-style formatting
            return .string(try percentFormat(format, b))
        }
        if case let .undefined(msg) = a { throw JinjaFailure(msg) }
        if case let .undefined(msg) = b { throw JinjaFailure(msg) }
        func badRepeat() -> JinjaFailure {   // Python asks the left operand first
            let leftIsSequence: Bool
            switch a {
            case .string, .list, .tuple: leftIsSequence = true
            default: leftIsSequence = false
            }
            return JinjaFailure("can't multiply sequence by non-int of type '\(leftIsSequence ? b.typeName : a.typeName)'")
        }
        func unsupported() -> JinjaFailure {
            JinjaFailure("unsupported operand type(s) for \(op): '\(a.typeName)' and '\(b.typeName)'")
        }
        switch (op, a, b) {
        case let ("+", .string(x), .string(y)):
            try checkBytes(x.utf8.count + y.utf8.count, "string")
            return .string(x + y)
        case let ("+", .string, other):
            throw JinjaFailure("can only concatenate str (not \"\(other.typeName)\") to str")
        case let ("+", .list(x), .list(y)):
            try checkItems(x.count + y.count, "list")
            return .list(x + y)
        case let ("+", .tuple(x), .tuple(y)):
            try checkItems(x.count + y.count, "tuple")
            return .tuple(x + y)
        case let ("+", .list, other), let ("+", .tuple, other):   // after list + list and tuple + tuple
            throw JinjaFailure("can only concatenate \(a.typeName) (not \"\(other.typeName)\") to \(a.typeName)")
        case let ("*", .string(s), n), let ("*", n, .string(s)):
            guard let k = n.integer else { throw badRepeat() }
            try checkBytes(Swift.max(k, 0).multipliedReportingOverflow(by: s.utf8.count).overflow ? Int.max : Swift.max(k, 0) * s.utf8.count, "string")
            return .string(String(repeating: s, count: Swift.max(k, 0)))
        case let ("*", .list(items), n), let ("*", n, .list(items)):
            guard let k = n.integer else { throw badRepeat() }
            try checkItems(Swift.max(k, 0).multipliedReportingOverflow(by: items.count).overflow ? Int.max : Swift.max(k, 0) * items.count, "list")
            var out: [JinjaValue] = []
            for _ in 0..<Swift.max(k, 0) { out += items }
            return .list(out)
        case let ("*", .tuple(items), n), let ("*", n, .tuple(items)):
            guard let k = n.integer else { throw badRepeat() }
            try checkItems(Swift.max(k, 0).multipliedReportingOverflow(by: items.count).overflow ? Int.max : Swift.max(k, 0) * items.count, "tuple")
            var out: [JinjaValue] = []
            for _ in 0..<Swift.max(k, 0) { out += items }
            return .tuple(out)
        default:
            break
        }
        if let x = a.integer, let y = b.integer {
            func checkedInt(_ r: (partialValue: Int, overflow: Bool)) throws -> Int {
                guard !r.overflow else { throw JinjaFailure("integer overflow in \(op)") }
                return r.partialValue
            }
            func checked(_ r: (partialValue: Int, overflow: Bool)) throws -> JinjaValue { .int(try checkedInt(r)) }
            switch op {
            case "+": return try checked(x.addingReportingOverflow(y))
            case "-": return try checked(x.subtractingReportingOverflow(y))
            case "*": return try checked(x.multipliedReportingOverflow(by: y))
            case "/":
                guard y != 0 else { throw JinjaFailure("division by zero") }
                return .float(Double(x) / Double(y))
            case "//", "%":
                guard y != 0 else { throw JinjaFailure(op == "//" ? "integer division or modulo by zero" : "integer modulo by zero") }
                guard !(x == Int.min && y == -1) else { throw JinjaFailure("integer overflow in \(op)") }
                var q = x / y, r = x % y
                if r != 0 && ((r < 0) != (y < 0)) { q -= 1; r += y }   // floor, as Python
                return .int(op == "//" ? q : r)
            case "**":
                if y < 0 { return .float(Foundation.pow(Double(x), Double(y))) }
                var result = 1, base = x, e = y
                while e > 0 {
                    if e & 1 == 1 { result = try checkedInt(result.multipliedReportingOverflow(by: base)) }
                    e >>= 1
                    if e > 0 { base = try checkedInt(base.multipliedReportingOverflow(by: base)) }
                }
                return .int(result)
            default: throw unsupported()
            }
        }
        if let x = a.numeric, let y = b.numeric {
            switch op {
            case "+": return .float(x + y)
            case "-": return .float(x - y)
            case "*": return .float(x * y)
            case "/":
                guard y != 0 else { throw JinjaFailure("float division by zero") }
                return .float(x / y)
            case "//", "%":
                guard y != 0 else { throw JinjaFailure(op == "//" ? "float floor division by zero" : "float modulo") }
                let q = (x / y).rounded(.down)
                return .float(op == "//" ? q : x - q * y)
            case "**": return .float(Foundation.pow(x, y))
            default: throw unsupported()
            }
        }
        throw unsupported()
    }

    mutating func compare(_ op: String, _ a: JinjaValue, _ b: JinjaValue) throws -> Bool {
        switch op {
        case "==": return try equal(a, b)
        case "!=": return !(try equal(a, b))
        case "in": return try contains(b, a)
        case "notin": return !(try contains(b, a))
        default:
            if case let .undefined(msg) = a { throw JinjaFailure(msg) }
            if case let .undefined(msg) = b { throw JinjaFailure(msg) }
            guard let c = try order(a, b) else {
                throw JinjaFailure("'\(op)' not supported between instances of '\(a.typeName)' and '\(b.typeName)'")
            }
            switch op {
            case "<": return c < 0
            case "<=": return c <= 0
            case ">": return c > 0
            default: return c >= 0
            }
        }
    }

    /// Python `needle in container`.
    mutating func contains(_ container: JinjaValue, _ needle: JinjaValue) throws -> Bool {
        switch container {
        case let .string(s):
            guard case let .string(n) = needle else {
                throw JinjaFailure("'in <string>' requires string as left operand, not \(needle.typeName)")
            }
            return n.isEmpty || s.unicodeScalars.firstRange(of: n.unicodeScalars) != nil
        case let .list(items), let .tuple(items):
            for x in items where try equal(x, needle) { return true }
            return false
        case let .dict(d):
            switch needle {
            case let .string(k): return d[k] != nil
            case .list, .dict: throw JinjaFailure("unhashable type: '\(needle.typeName)'")
            default: return false
            }
        case .undefined: return false
        default: throw JinjaFailure("argument of type '\(container.typeName)' is not iterable")
        }
    }

    // MARK: - Calls

    mutating func call(_ f: JinjaValue, _ args: [JinjaValue], _ kwargs: [(String, JinjaValue)]) throws -> JinjaValue {
        switch f {
        case let .undefined(msg): throw JinjaFailure(msg)
        case let .function(.global(name)): return try callGlobal(name, args, kwargs)
        case let .function(.method(receiver, name)): return try callMethod(receiver, name, args, kwargs)
        case let .function(.macro(index)): return try callMacro(index, args, kwargs)
        default: throw JinjaFailure("'\(f.typeName)' object is not callable")
        }
    }

    private mutating func callMacro(_ index: Int, _ args: [JinjaValue], _ kwargs: [(String, JinjaValue)]) throws -> JinjaValue {
        guard index >= 0 && index < macros.count else { throw JinjaFailure("macro \(index) does not belong to this render") }
        let macro = macros[index]
        callDepth += 1
        defer { callDepth -= 1 }
        guard callDepth <= limits.maxCallDepth else {
            throw JinjaFailure("macro calls nested more than \(limits.maxCallDepth) deep")
        }
        try step()
        guard args.count <= macro.parameters.count else { throw JinjaFailure("macro takes \(macro.parameters.count) arguments, got \(args.count)") }
        // A macro sees the context and the template's top-level names, not
        // the caller's loop variables.
        let saved = scopes
        scopes = Array(scopes.prefix(2))
        defer { scopes = saved }
        var frame: [String: JinjaValue] = [:]
        for (k, (name, dflt)) in macro.parameters.enumerated() {
            if k < args.count {
                frame[name] = args[k]
            } else if let kw = kwargs.last(where: { $0.0 == name }) {
                frame[name] = kw.1
            } else if let dflt {
                scopes.append(frame)
                frame[name] = try eval(dflt)
                scopes.removeLast()
            } else {
                frame[name] = .undefined("parameter '\(name)' was not provided")
            }
        }
        for (name, _) in kwargs where !macro.parameters.contains(where: { $0.0 == name }) {
            throw JinjaFailure("macro has no parameter '\(name)'")
        }
        scopes.append(frame)
        return .string(try capture(macro.body))
    }
}
