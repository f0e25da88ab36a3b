import Foundation

/// Jinja's filters and tests, the globals transformers adds (`range`,
/// `namespace`, `raise_exception`, `dict`; `strftime_now` only with a fixed
/// JinjaClock, never the wall clock), and the Python methods chat templates call
/// on strings, dicts and lists. Each behaves as its Python original does on
/// the values a chat template sees.
extension JinjaInterpreter {
    // MARK: - Arguments

    /// Positional and keyword arguments matched against a Python signature.
    struct Arguments {
        let function: String
        let values: [String: JinjaValue]

        init(_ function: String, _ names: [String], _ args: [JinjaValue], _ kwargs: [(String, JinjaValue)]) throws {
            self.function = function
            guard args.count <= names.count else {
                throw JinjaFailure("\(function)() takes at most \(names.count) arguments (\(args.count) given)")
            }
            var v: [String: JinjaValue] = [:]
            for (n, a) in zip(names, args) { v[n] = a }
            for (n, a) in kwargs {
                guard names.contains(n) else { throw JinjaFailure("\(function)() got an unexpected keyword argument '\(n)'") }
                guard v[n] == nil else { throw JinjaFailure("\(function)() got multiple values for argument '\(n)'") }
                v[n] = a
            }
            values = v
        }

        /// The argument, or nil when absent or None.
        subscript(_ name: String) -> JinjaValue? {
            if let v = values[name] {
                if case .none = v { return nil }
                return v
            }
            return nil
        }

        func string(_ name: String) throws -> String? {
            guard let v = self[name] else { return nil }
            guard case let .string(s) = v else { throw JinjaFailure("\(function)(): '\(name)' must be str, not \(v.typeName)") }
            return s
        }

        func int(_ name: String) throws -> Int? {
            guard let v = self[name] else { return nil }
            guard let i = v.integer else { throw JinjaFailure("\(function)(): '\(name)' must be an integer, not \(v.typeName)") }
            return i
        }

        func bool(_ name: String) -> Bool { self[name]?.isTruthy ?? false }
    }

    private func string(_ v: JinjaValue, _ what: String) throws -> String {
        if case let .undefined(msg) = v { throw JinjaFailure(msg) }
        guard case let .string(s) = v else { throw JinjaFailure("\(what) needs a string, not \(v.typeName)") }
        return s
    }

    // MARK: - Filters

    /// `value | name(args)`: string and scalar filters here, the rest below.
    mutating func applyFilter(_ name: String, _ v: JinjaValue, _ args: [JinjaValue], _ kwargs: [(String, JinjaValue)]) throws -> JinjaValue {
        func arguments(_ names: [String]) throws -> Arguments { try Arguments(name, names, args, kwargs) }
        switch name {
        case "trim":
            let a = try arguments(["chars"])
            return .string(JinjaInterpreter.strip(try str(v), chars: try a.string("chars"), leading: true, trailing: true))
        case "length", "count":
            _ = try arguments([])
            return .int(try length(v))
        case "upper":
            return .string(try str(v).uppercased())
        case "lower":
            return .string(try str(v).lowercased())
        case "capitalize":
            return .string(JinjaInterpreter.capitalize(try str(v)))
        case "title":
            return .string(JinjaInterpreter.jinjaTitle(try str(v)))
        case "string":
            try checkPrintable(v)
            return .string(try str(v))
        case "safe":
            return v
        case "tojson":
            let a = try arguments(["ensure_ascii", "indent", "separators", "sort_keys"])
            var indent: String? = nil
            if let i = a["indent"] {
                if case let .string(s) = i { indent = s } else if let n = i.integer {
                    try checkBytes(n, "tojson indent")
                    indent = String(repeating: " ", count: Swift.max(n, 0))
                } else { throw JinjaFailure("tojson(): indent must be an integer or a string") }
            }
            // Every line repeats the indent once per level (tojson stops at 200 levels).
            try checkBytes((indent?.utf8.count ?? 0).multipliedReportingOverflow(by: 200).partialValue, "tojson indent × depth")
            var itemSep: String? = nil, keySep: String? = nil
            if let seps = a["separators"] {
                let parts = try iterate(seps)
                guard parts.count == 2, case let .string(x) = parts[0], case let .string(y) = parts[1] else {
                    throw JinjaFailure("tojson(): separators must be a pair of strings")
                }
                (itemSep, keySep) = (x, y)
            }
            try checkPrintable(v)
            let text = try v.pythonJSON(ensureASCII: a.bool("ensure_ascii"), indent: indent, itemSeparator: itemSep,
                                        keySeparator: keySep, sortKeys: a.bool("sort_keys"), namespaces: namespaces)
            try checkBytes(text.utf8.count, "tojson output")
            return .string(text)
        case "first":
            _ = try arguments([])
            return try iterate(v).first ?? .undefined("No first item, sequence was empty.")
        case "last":
            _ = try arguments([])
            switch v {   // Python's reversed(): sequences and dicts only
            case .string, .list, .tuple, .dict, .undefined: break
            default: throw JinjaFailure("'\(v.typeName)' object is not reversible")
            }
            return try iterate(v).last ?? .undefined("No last item, sequence was empty.")
        case "join":
            let a = try arguments(["d", "attribute"])
            var items = try iterate(v)
            if let attr = a["attribute"] { items = try items.map { try attributePath($0, attr) } }
            try checkPrintable(.list(items))
            return .string(try items.map { try str($0) }.joined(separator: try a.string("d") ?? ""))
        case "default", "d":
            let a = try arguments(["default_value", "boolean"])
            let fallback = a.values["default_value"] ?? .string("")
            if v.isUndefined || (a.bool("boolean") && !v.isTruthy) { return fallback }
            return v
        case "list":
            _ = try arguments([])
            return .list(try iterate(v))
        case "int":
            if case let .undefined(msg) = v { throw JinjaFailure(msg) }
            let a = try arguments(["default", "base"])
            return JinjaInterpreter.toInt(v, base: try a.int("base") ?? 10) ?? a.values["default"] ?? .int(0)
        case "float":
            if case let .undefined(msg) = v { throw JinjaFailure(msg) }
            let a = try arguments(["default"])
            return JinjaInterpreter.toFloat(v) ?? a.values["default"] ?? .float(0)
        case "abs":
            switch v {
            case let .int(i):
                guard i != Int.min else { throw JinjaFailure("integer overflow") }
                return .int(Swift.abs(i))
            case let .bool(b): return .int(b ? 1 : 0)
            case let .float(d): return .float(Swift.abs(d))
            default: throw JinjaFailure("bad operand type for abs(): '\(v.typeName)'")
            }
        case "replace":
            let a = try arguments(["old", "new", "count"])
            guard let old = try a.string("old"), let new = try a.string("new") else { throw JinjaFailure("replace() needs old and new strings") }
            return .string(try replace(try str(v), old, new, count: try a.int("count") ?? -1))
        case "items":
            _ = try arguments([])
            if case .undefined = v { return .list([]) }
            guard case let .dict(d) = v else { throw JinjaFailure("Can only get item pairs from a mapping.") }
            return .list(d.pairs.map { .tuple([.string($0.0), $0.1]) })
        case "indent":
            let a = try arguments(["width", "first", "blank"])
            var pad = "    "
            if let w = a["width"] {
                if case let .string(p) = w { pad = p } else if let n = w.integer {
                    try checkBytes(n, "indent width")
                    pad = String(repeating: " ", count: Swift.max(n, 0))
                } else { throw JinjaFailure("indent(): width must be an integer or a string") }
            }
            // Jinja appends "\n" to the value itself: only strings get through.
            let text: String
            switch v {
            case let .string(x): text = x
            case let .undefined(msg): throw JinjaFailure(msg)
            case .list: throw JinjaFailure("'list' object has no attribute 'splitlines'")
            default: throw JinjaFailure("unsupported operand type(s) for +=: '\(v.typeName)' and 'str'")
            }
            let lines = JinjaInterpreter.splitLines(text + "\n")
            let (padTotal, overflow) = pad.utf8.count.multipliedReportingOverflow(by: lines.count + 1)
            try checkBytes(overflow ? Int.max : padTotal, "indented string")
            var out: String
            if a.bool("blank") {
                out = lines.joined(separator: "\n" + pad)
            } else {
                out = lines.first ?? ""
                if lines.count > 1 { out += "\n" + lines.dropFirst().map { $0.isEmpty ? $0 : pad + $0 }.joined(separator: "\n") }
            }
            if a.bool("first") { out = pad + out }
            try checkBytes(out.utf8.count, "string")
            return .string(out)
        case "round":
            let a = try arguments(["precision", "method"])
            let precision = try a.int("precision") ?? 0
            let method = try a.string("method") ?? "common"
            guard ["common", "ceil", "floor"].contains(method) else { throw JinjaFailure("method must be common, ceil or floor") }
            switch v {
            case .int, .bool:
                return method == "common" ? .int(v.integer ?? 0) : .float(Double(v.integer ?? 0))
            case let .float(d):
                guard d.isFinite, (0...300).contains(precision) else {
                    if !d.isFinite { return .float(d) }
                    throw JinjaFailure("round(): precision \(precision) is not supported")
                }
                if method == "common" {
                    // printf rounds the exact binary value half-to-even, as Python's round does.
                    return .float(Double(String(format: "%.\(precision)f", d)) ?? d)
                }
                let scale = Foundation.pow(10.0, Double(precision))
                return .float((d * scale).rounded(method == "ceil" ? .up : .down) / scale)
            case let .undefined(msg): throw JinjaFailure(msg)
            default: throw JinjaFailure("type \(v.typeName) doesn't define __round__ method")
            }
        case "format":
            if !kwargs.isEmpty {
                guard args.isEmpty else { throw JinjaFailure("can't handle positional and keyword arguments at the same time") }
                return .string(try percentFormat(try str(v), .dict(JinjaDict(kwargs))))
            }
            return .string(try percentFormat(try str(v), .tuple(args)))
        case "attr":
            let a = try arguments(["name"])
            guard let attrName = try a.string("name") else { throw JinjaFailure("attr() needs a name") }
            if case .dict = v, !JinjaInterpreter.dictMethods.contains(attrName) {   // attributes only, never keys
                return .undefined("'dict object' has no attribute '\(attrName)'")
            }
            return try attribute(v, attrName)
        case "wordcount":
            _ = try arguments([])
            // Jinja counts matches of \w+.
            var count = 0, inWord = false
            for u in try str(v).unicodeScalars {
                let w = u == "_" || u.properties.isAlphabetic || u.properties.numericType != nil
                if w && !inWord { count += 1 }
                inWord = w
            }
            return .int(count)
        case "dictsort":
            let a = try arguments(["case_sensitive", "by", "reverse"])
            guard case let .dict(d) = v else { throw JinjaFailure("You can only sort by either \"key\" or \"value\"") }
            let byValue = (try a.string("by") ?? "key") == "value"
            guard ["key", "value"].contains(try a.string("by") ?? "key") else { throw JinjaFailure("You can only sort by either \"key\" or \"value\"") }
            let keyed = d.pairs.map { pair -> (JinjaValue, JinjaValue) in
                var key: JinjaValue = byValue ? pair.1 : .string(pair.0)
                if !a.bool("case_sensitive"), case let .string(s) = key { key = .string(s.lowercased()) }
                return (key, .tuple([.string(pair.0), pair.1]))
            }
            return .list(try sortedByKey(keyed, reverse: a.bool("reverse")))
        case "selectattr", "rejectattr", "select", "reject", "map":
            // Jinja walks the value only if it is true: `false | map(...)` is empty.
            guard v.isTruthy else { return .list([]) }
            return try selectOrMap(name, v, args, kwargs)
        default:
            return try orderingFilter(name, v, args, kwargs)
        }
    }

    /// selectattr, rejectattr, select, reject, map (on a true value).
    private mutating func selectOrMap(_ name: String, _ v: JinjaValue, _ args: [JinjaValue], _ kwargs: [(String, JinjaValue)]) throws -> JinjaValue {
        switch name {
        case "selectattr", "rejectattr":
            guard let attr = args.first, case .string = attr else { throw JinjaFailure("\(name)() needs an attribute name") }
            var out: [JinjaValue] = []
            for item in try iterate(v) {
                try step()
                let value = try attributePath(item, attr)
                let ok = try select(value, Array(args.dropFirst()), kwargs, filterName: name)
                if ok == (name == "selectattr") { out.append(item) }
            }
            return .list(out)
        case "select", "reject":
            var out: [JinjaValue] = []
            for item in try iterate(v) {
                try step()
                if try select(item, args, kwargs, filterName: name) == (name == "select") { out.append(item) }
            }
            return .list(out)
        case "map":
            var out: [JinjaValue] = []
            if let attr = kwargs.first(where: { $0.0 == "attribute" })?.1 {
                let dflt = kwargs.first(where: { $0.0 == "default" })?.1
                for item in try iterate(v) {
                    try step()
                    let x = try attributePath(item, attr)
                    out.append(x.isUndefined ? (dflt ?? x) : x)
                }
                return .list(out)
            }
            guard let f = args.first, case let .string(filterName) = f else { throw JinjaFailure("map() needs a filter name or attribute=") }
            for item in try iterate(v) {
                try step()
                out.append(try applyFilter(filterName, item, Array(args.dropFirst()), kwargs))
            }
            return .list(out)
        default:
            throw JinjaFailure("no filter named '\(name)'")
        }
    }

    /// reverse, unique, sort, sum, min, max.
    private mutating func orderingFilter(_ name: String, _ v: JinjaValue, _ args: [JinjaValue], _ kwargs: [(String, JinjaValue)]) throws -> JinjaValue {
        func arguments(_ names: [String]) throws -> Arguments { try Arguments(name, names, args, kwargs) }
        switch name {
        case "reverse":
            _ = try arguments([])
            if case let .string(s) = v { return .string(String(String.UnicodeScalarView(s.unicodeScalars.reversed()))) }
            switch v {
            case .list, .tuple, .dict, .undefined: return .list(try iterate(v).reversed())
            default: throw JinjaFailure("argument must be iterable")
            }
        case "unique":
            let a = try arguments(["case_sensitive", "attribute"])
            var seen: [JinjaValue] = []
            var out: [JinjaValue] = []
            for item in try iterate(v) {
                try step()
                var key = a["attribute"] != nil ? try attributePath(item, a.values["attribute"] ?? .none) : item
                if !a.bool("case_sensitive"), case let .string(s) = key { key = .string(s.lowercased()) }
                switch key {
                case .list, .dict: throw JinjaFailure("unhashable type: '\(key.typeName)'")
                default: break
                }
                var isNew = true
                for x in seen where try equal(x, key) { isNew = false; break }
                if isNew {
                    seen.append(key)
                    out.append(item)
                }
            }
            return .list(out)
        case "sort":
            let a = try arguments(["reverse", "case_sensitive", "attribute"])
            let items = try iterate(v)
            try checkItems(items.count, "list")
            var keyed: [(JinjaValue, JinjaValue)] = []
            for item in items {
                var key = a["attribute"] != nil ? try attributePath(item, a.values["attribute"] ?? .none) : item
                if !a.bool("case_sensitive"), case let .string(s) = key { key = .string(s.lowercased()) }
                keyed.append((key, item))
            }
            return .list(try sortedByKey(keyed, reverse: a.bool("reverse")))
        case "sum":
            let a = try arguments(["attribute", "start"])
            var total = a.values["start"] ?? .int(0)
            for item in try iterate(v) {
                try step()
                total = try binary("+", total, a["attribute"] != nil ? try attributePath(item, a.values["attribute"] ?? .none) : item)
            }
            return total
        case "min", "max":
            let a = try arguments(["case_sensitive", "attribute"])
            func key(_ item: JinjaValue) throws -> JinjaValue {
                let k = a["attribute"] != nil ? try attributePath(item, a.values["attribute"] ?? .none) : item
                if !a.bool("case_sensitive"), case let .string(s) = k { return .string(s.lowercased()) }
                return k
            }
            let items = try iterate(v)
            guard var best = items.first else { return .undefined("No aggregated item, sequence was empty.") }
            var bestKey = try key(best)
            for item in items.dropFirst() {
                let k = try key(item)
                guard let c = try order(k, bestKey) else {
                    throw JinjaFailure("'<' not supported between instances of '\(k.typeName)' and '\(bestKey.typeName)'")
                }
                if (name == "min" && c < 0) || (name == "max" && c > 0) { (best, bestKey) = (item, k) }
            }
            return best
        default:
            throw JinjaFailure("no filter named '\(name)'")
        }
    }

    /// `len()`; Undefined has length 0.
    func length(_ v: JinjaValue) throws -> Int {
        switch v {
        case let .string(s): return s.unicodeScalars.count
        case let .list(l), let .tuple(l): return l.count
        case let .dict(d): return d.count
        case .undefined: return 0
        default: throw JinjaFailure("object of type '\(v.typeName)' has no len()")
        }
    }

    /// Jinja's attribute getter for filters: "a.b.0" walks items.
    func attributePath(_ v: JinjaValue, _ path: JinjaValue) throws -> JinjaValue {
        if case let .int(i) = path { return try item(v, .int(i)) }
        guard case let .string(p) = path else { throw JinjaFailure("attribute must be a string or an integer") }
        var cur = v
        for part in p.split(separator: ".", omittingEmptySubsequences: false) {
            cur = try item(cur, Int(part).map { .int($0) } ?? .string(String(part)))
        }
        return cur
    }

    /// selectattr/rejectattr/select/reject: the value's truth, or a test on it.
    private mutating func select(_ value: JinjaValue, _ args: [JinjaValue], _ kwargs: [(String, JinjaValue)], filterName: String) throws -> Bool {
        guard let t = args.first else { return value.isTruthy }
        guard case let .string(testName) = t else { throw JinjaFailure("\(filterName)(): the test name must be a string") }
        return try applyTest(testName, value, Array(args.dropFirst()))
    }

    /// The values of (key, value) pairs in Python's stable sort order of the
    /// keys; incomparable keys are an error, as in Python.
    private mutating func sortedByKey(_ keyed: [(JinjaValue, JinjaValue)], reverse: Bool) throws -> [JinjaValue] {
        var failure: JinjaFailure? = nil
        let sorted = JinjaInterpreter.stableSort(keyed) { x, y in
            guard failure == nil else { return false }
            do {
                guard let c = try order(x.0, y.0) else {
                    failure = JinjaFailure("'<' not supported between instances of '\(x.0.typeName)' and '\(y.0.typeName)'")
                    return false
                }
                return reverse ? c > 0 : c < 0
            } catch {
                failure = tooManySteps
                return false
            }
        }
        if let failure { throw failure }
        return sorted.map(\.1)
    }

    static func stableSort<T>(_ items: [T], by less: (T, T) -> Bool) -> [T] {
        guard items.count > 1 else { return items }
        let mid = items.count / 2
        let a = stableSort(Array(items[..<mid]), by: less), b = stableSort(Array(items[mid...]), by: less)
        var out: [T] = []
        out.reserveCapacity(items.count)
        var i = 0, j = 0
        while i < a.count && j < b.count {
            if less(b[j], a[i]) { out.append(b[j]); j += 1 } else { out.append(a[i]); i += 1 }
        }
        out += a[i...]
        out += b[j...]
        return out
    }

    // MARK: - Tests

    mutating func applyTest(_ name: String, _ v: JinjaValue, _ args: [JinjaValue]) throws -> Bool {
        func arg() throws -> JinjaValue {
            guard let a = args.first else { throw JinjaFailure("test '\(name)' needs an argument") }
            return a
        }
        switch name {
        case "defined": return !v.isUndefined
        case "undefined": return v.isUndefined
        case "none": if case .none = v { return true }; return false
        case "boolean": if case .bool = v { return true }; return false
        case "true": if case .bool(true) = v { return true }; return false
        case "false": if case .bool(false) = v { return true }; return false
        case "integer": if case .int = v { return true }; return false
        case "float": if case .float = v { return true }; return false
        case "number": return v.numeric != nil
        case "string": if case .string = v { return true }; return false
        case "mapping": if case .dict = v { return true }; return false
        case "iterable":
            switch v {
            case .string, .list, .tuple, .dict, .undefined: return true
            default: return false
            }
        case "sequence":
            switch v {
            case .string, .list, .tuple, .dict, .undefined: return true
            default: return false
            }
        case "callable": if case .function = v { return true }; return false
        case "equalto", "eq", "==": return try equal(v, try arg())
        case "ne", "!=": return !(try equal(v, try arg()))
        case "lt", "<", "lessthan": return try compare("<", v, try arg())
        case "le", "<=": return try compare("<=", v, try arg())
        case "gt", ">", "greaterthan": return try compare(">", v, try arg())
        case "ge", ">=": return try compare(">=", v, try arg())
        case "in": return try contains(try arg(), v)
        case "sameas":
            let other = try arg()
            switch (v, other) {
            case (.none, .none): return true
            case let (.bool(a), .bool(b)): return a == b
            default: return false
            }
        case "odd", "even", "divisibleby":
            // Python's `value % 2 == 1`, `value % 2 == 0`, `value % num == 0` (floats too).
            let divisor: JinjaValue = name == "divisibleby" ? try arg() : .int(2)
            let r = try binary("%", v, divisor)
            return try equal(r, .int(name == "odd" ? 1 : 0))
        case "lower": return JinjaInterpreter.pythonCase(try str(v)) == .lower   // str(value).islower()
        case "upper": return JinjaInterpreter.pythonCase(try str(v)) == .upper
        default:
            throw JinjaFailure("no test named '\(name)'")
        }
    }

    // MARK: - Globals

    mutating func callGlobal(_ name: String, _ args: [JinjaValue], _ kwargs: [(String, JinjaValue)]) throws -> JinjaValue {
        switch name {
        case "raise_exception":
            let a = try Arguments(name, ["message"], args, kwargs)
            throw JinjaFailure(try str(a.values["message"] ?? .string("")))
        case "strftime_now":
            let a = try Arguments(name, ["format"], args, kwargs)
            guard let clock, clock.isValid else { throw JinjaFailure("'strftime_now' is undefined") }
            return .string(clock.strftime(try a.string("format") ?? ""))
        case "range":
            guard kwargs.isEmpty, (1...3).contains(args.count) else { throw JinjaFailure("range() takes 1 to 3 integer arguments") }
            let ints = try args.map { a -> Int in
                guard let i = a.integer else { throw JinjaFailure("range() arguments must be integers, not \(a.typeName)") }
                return i
            }
            let (start, stop, by) = ints.count == 1 ? (0, ints[0], 1) : (ints[0], ints[1], ints.count == 3 ? ints[2] : 1)
            guard by != 0 else { throw JinjaFailure("range() arg 3 must not be zero") }
            let count = by > 0 ? (stop > start ? (stop - start + by - 1) / by : 0) : (start > stop ? (start - stop - by - 1) / -by : 0)
            guard count <= limits.maxRange else {
                throw JinjaFailure("Range too big. The sandbox blocks ranges larger than MAX_RANGE (\(limits.maxRange)).")
            }
            return .list((0..<count).map { .int(start + $0 * by) })
        case "namespace", "dict":
            var d = JinjaDict()
            for a in args {
                switch a {
                case let .dict(src): for (k, x) in src.pairs { d[k] = x }
                case .list, .tuple:
                    for pair in try iterate(a) {
                        let kv = try iterate(pair)
                        guard kv.count == 2, case let .string(k) = kv[0] else { throw JinjaFailure("\(name)() needs key/value pairs with string keys") }
                        d[k] = kv[1]
                    }
                default: throw JinjaFailure("\(name)() takes a mapping or keyword arguments, not \(a.typeName)")
                }
            }
            for (k, x) in kwargs { d[k] = x }
            if name == "dict" { return .dict(d) }
            if let bad = d.keys.first(where: { $0.hasPrefix("_") }) {
                throw JinjaFailure("Chat templates cannot store underscore-prefixed attributes on a namespace, but got '\(bad)'. Please rename the attribute.")
            }
            namespaces.append(d)
            return .namespace(namespaces.count - 1)
        default:
            throw JinjaFailure("'\(name)' is undefined")
        }
    }

    // MARK: - Methods

    mutating func callMethod(_ receiver: JinjaValue, _ name: String, _ args: [JinjaValue], _ kwargs: [(String, JinjaValue)]) throws -> JinjaValue {
        func arguments(_ names: [String]) throws -> Arguments { try Arguments(name, names, args, kwargs) }
        switch receiver {
        case let .dict(d):
            switch name {
            case "items":
                _ = try arguments([])
                return .list(d.pairs.map { .tuple([.string($0.0), $0.1]) })
            case "keys":
                _ = try arguments([])
                return .list(d.keys.map { .string($0) })
            case "values":
                _ = try arguments([])
                return .list(d.pairs.map { $0.1 })
            case "get":
                let a = try arguments(["key", "default"])
                guard let key = a.values["key"] else { throw JinjaFailure("get() needs a key") }
                if case let .string(k) = key, let v = d[k] { return v }
                return a.values["default"] ?? .none
            default: break
            }
        case let .list(items), let .tuple(items):
            switch name {
            case "index":
                let a = try arguments(["value"])
                let x = a.values["value"] ?? .none
                for (i, item) in items.enumerated() where try equal(item, x) { return .int(i) }
                throw JinjaFailure("\(shortRepr(x)) is not in list")
            case "count":
                let a = try arguments(["value"])
                let x = a.values["value"] ?? .none
                var n = 0
                for item in items where try equal(item, x) { n += 1 }
                return .int(n)
            default: break
            }
        case let .string(s):
            return try stringMethod(s, name, args, kwargs)
        case let .int(index) where name == "cycle":   // loop.cycle
            guard kwargs.isEmpty, !args.isEmpty else { throw JinjaFailure("loop.cycle() needs at least one argument") }
            return args[index % args.count]
        default:
            break
        }
        throw JinjaFailure("'\(receiver.typeName)' object has no method '\(name)'")
    }

    private func stringMethod(_ s: String, _ name: String, _ args: [JinjaValue], _ kwargs: [(String, JinjaValue)]) throws -> JinjaValue {
        func arguments(_ names: [String]) throws -> Arguments { try Arguments(name, names, args, kwargs) }
        switch name {
        case "strip", "lstrip", "rstrip":
            let a = try arguments(["chars"])
            return .string(JinjaInterpreter.strip(s, chars: try a.string("chars"), leading: name != "rstrip", trailing: name != "lstrip"))
        case "split":
            let a = try arguments(["sep", "maxsplit"])
            return .list(try JinjaInterpreter.split(s, sep: try a.string("sep"), maxsplit: try a.int("maxsplit") ?? -1).map { .string($0) })
        case "startswith", "endswith":
            let a = try arguments(["prefix", "start", "end"])
            guard a.values["start"] == nil && a.values["end"] == nil else { throw JinjaFailure("\(name)() with start/end is not supported") }
            let candidates: [JinjaValue]
            switch a.values["prefix"] {
            case let .string(p)?: candidates = [.string(p)]
            case let .list(l)?, let .tuple(l)?: candidates = l
            default: throw JinjaFailure("\(name)() needs a string or a tuple of strings")
            }
            let hay = Array(s.unicodeScalars)
            for c in candidates {
                guard case let .string(p) = c else { throw JinjaFailure("\(name)() needs strings") }
                let needle = Array(p.unicodeScalars)
                if needle.count <= hay.count,
                   name == "startswith" ? hay.prefix(needle.count).elementsEqual(needle) : hay.suffix(needle.count).elementsEqual(needle) {
                    return .bool(true)
                }
            }
            return .bool(false)
        case "replace":
            let a = try arguments(["old", "new", "count"])
            guard let old = try a.string("old"), let new = try a.string("new") else { throw JinjaFailure("replace() needs old and new strings") }
            return .string(try replace(s, old, new, count: try a.int("count") ?? -1))
        case "upper": _ = try arguments([]); return .string(s.uppercased())
        case "lower": _ = try arguments([]); return .string(s.lowercased())
        case "title": _ = try arguments([]); return .string(JinjaInterpreter.pythonTitle(s))
        case "capitalize": _ = try arguments([]); return .string(JinjaInterpreter.capitalize(s))
        case "find", "index", "count":
            let a = try arguments(["sub"])
            guard let sub = try a.string("sub") else { throw JinjaFailure("\(name)() needs a string") }
            let hay = Array(s.unicodeScalars), needle = Array(sub.unicodeScalars)
            var positions: [Int] = []
            var i = 0
            while i + needle.count <= hay.count {
                if hay[i..<i + needle.count].elementsEqual(needle) {
                    positions.append(i)
                    if name != "count" { break }
                    i += Swift.max(needle.count, 1)
                } else {
                    i += 1
                }
            }
            if name == "count" { return .int(positions.count) }
            guard let first = positions.first else {
                if name == "index" { throw JinjaFailure("substring not found") }
                return .int(-1)
            }
            return .int(first)
        case "join":
            let a = try arguments(["iterable"])
            let items = try iterate(a.values["iterable"] ?? .list([]))
            let parts = try items.map { try string($0, "join()") }
            let total = parts.reduce(0) { $0 + $1.utf8.count } + Swift.max(parts.count - 1, 0) * s.utf8.count
            try checkBytes(total, "string")
            return .string(parts.joined(separator: s))
        case "isdigit", "isalpha", "isalnum", "isspace", "isupper", "islower":
            _ = try arguments([])
            let u = Array(s.unicodeScalars)
            switch name {
            case "isdigit": return .bool(!u.isEmpty && u.allSatisfy { $0.properties.numericType == .digit || $0.properties.numericType == .decimal })
            case "isalpha": return .bool(!u.isEmpty && u.allSatisfy { $0.properties.isAlphabetic })
            case "isalnum": return .bool(!u.isEmpty && u.allSatisfy { $0.properties.isAlphabetic || $0.properties.numericType != nil })
            case "isspace": return .bool(!u.isEmpty && u.allSatisfy(JinjaValue.isPythonSpace))
            case "isupper": return .bool(JinjaInterpreter.pythonCase(s) == .upper)
            default: return .bool(JinjaInterpreter.pythonCase(s) == .lower)
            }
        default:
            throw JinjaFailure("'str' object has no method '\(name)'")
        }
    }

    // MARK: - printf-style formatting

    /// Python's `format % arg`: `%[(key)][flags][width][.precision]type` with
    /// types s r a d i u f F e E g G x X o c and `%%`. A tuple gives the
    /// arguments in order, a dict the `%(key)s` values, anything else is the
    /// one argument; leftover arguments are an error unless the argument is
    /// a mapping or a sequence other than a string (Python's rule).
    func percentFormat(_ format: String, _ arg: JinjaValue) throws -> String {
        let args: [JinjaValue]
        if case let .tuple(items) = arg { args = items } else { args = [arg] }
        let lenient: Bool   // Python's mapping check: unused arguments are fine
        switch arg {
        case .dict, .list, .undefined: lenient = true
        default: lenient = false
        }
        var next = 0
        var out = ""
        let f = Array(format.unicodeScalars)
        var i = 0
        func take() throws -> JinjaValue {
            guard next < args.count else { throw JinjaFailure("not enough arguments for format string") }
            next += 1
            return args[next - 1]
        }
        while i < f.count {
            let c = f[i]
            i += 1
            guard c == "%" else { out.unicodeScalars.append(c); continue }
            guard i < f.count else { throw JinjaFailure("incomplete format") }
            var value: JinjaValue? = nil
            if f[i] == "(" {
                guard case let .dict(d) = arg else { throw JinjaFailure("format requires a mapping") }
                var j = i + 1, depth = 1
                var key = String.UnicodeScalarView()
                while j < f.count {
                    if f[j] == "(" { depth += 1 }
                    if f[j] == ")" { depth -= 1; if depth == 0 { break } }
                    key.append(f[j])
                    j += 1
                }
                guard j < f.count else { throw JinjaFailure("incomplete format key") }
                guard let v = d[String(key)] else { throw JinjaFailure("KeyError: \(JinjaValue.pythonStringRepr(String(key)))") }
                value = v
                i = j + 1
            }
            var flags = Set<Unicode.Scalar>()
            while i < f.count, "-+ #0".unicodeScalars.contains(f[i]) { flags.insert(f[i]); i += 1 }
            var width = 0
            while i < f.count, let d = Int(String(f[i])), f[i].isASCII { width = width * 10 + d; i += 1; try checkBytes(width, "format width") }
            var precision: Int? = nil
            if i < f.count, f[i] == "." {
                i += 1
                var p = 0
                while i < f.count, let d = Int(String(f[i])), f[i].isASCII { p = p * 10 + d; i += 1; try checkBytes(p, "format precision") }
                precision = p
            }
            while i < f.count, "hlL".unicodeScalars.contains(f[i]) { i += 1 }
            guard i < f.count else { throw JinjaFailure("incomplete format") }
            let type = f[i]
            i += 1
            if type == "%" { out += "%"; continue }
            let v = try value ?? take()
            var text: String
            var numeric = false
            switch type {
            case "s", "r", "a":
                text = try str(v)   // checks the size for %r too
                if type != "s" { text = v.pythonRepr(namespaces: namespaces) }
                if let precision { text = String(String.UnicodeScalarView(text.unicodeScalars.prefix(precision))) }
            case "d", "i", "u", "x", "X", "o":
                let n: Int
                switch v {
                case let .int(x): n = x
                case let .bool(b): n = b ? 1 : 0
                case let .float(d) where "diu".unicodeScalars.contains(type):
                    guard d.isFinite, Swift.abs(d) < 9.2e18 else { throw JinjaFailure("cannot convert float \(JinjaValue.pythonFloat(d)) to integer") }
                    n = Int(d)
                default:
                    throw JinjaFailure("%\(type) format: \("xXo".unicodeScalars.contains(type) ? "an integer" : "a real number") is required, not \(v.typeName)")
                }
                let digits = String(Swift.abs(n), radix: type == "o" ? 8 : ("xX".unicodeScalars.contains(type) ? 16 : 10), uppercase: type == "X")
                var body = digits
                if let precision, body.count < precision { body = String(repeating: "0", count: precision - body.count) + body }
                if flags.contains("#") && type != "d" && type != "i" && type != "u" { body = (type == "o" ? "0o" : (type == "x" ? "0x" : "0X")) + body }
                text = (n < 0 ? "-" : (flags.contains("+") ? "+" : (flags.contains(" ") ? " " : ""))) + body
                numeric = true
            case "f", "F", "e", "E", "g", "G":
                guard let d = v.numeric else { throw JinjaFailure("must be real number, not \(v.typeName)") }
                if d.isNaN || d.isInfinite {
                    text = d.isNaN ? "nan" : (d < 0 ? "-inf" : "inf")
                    if type.properties.isUppercase { text = text.uppercased() }
                    if d >= 0 || d.isNaN { text = (flags.contains("+") ? "+" : (flags.contains(" ") ? " " : "")) + text }
                } else {
                    var spec = "%"
                    if flags.contains("+") { spec += "+" } else if flags.contains(" ") { spec += " " }
                    if flags.contains("#") { spec += "#" }
                    spec += ".\(precision ?? 6)" + String(Character(type))
                    text = String(format: spec, d)
                    numeric = true
                }
            case "c":
                switch v.integer.map(JinjaValue.int) ?? v {
                case let .int(x):
                    guard x >= 0, let u = Unicode.Scalar(UInt32(truncatingIfNeeded: x)), x <= 0x10FFFF else { throw JinjaFailure("%c arg not in range(0x110000)") }
                    text = String(Character(u))
                case let .string(s) where s.unicodeScalars.count == 1: text = s
                default: throw JinjaFailure("%c requires int or char")
                }
            default:
                throw JinjaFailure("unsupported format character '\(Character(type))' (0x\(String(type.value, radix: 16))) at index \(i - 1)")
            }
            let length = text.unicodeScalars.count
            if width > length {
                let padCount = width - length
                if flags.contains("-") {
                    text += String(repeating: " ", count: padCount)
                } else if flags.contains("0") && numeric {
                    // Zeros go after the sign (and 0x prefix).
                    var prefixLength = 0
                    let scalars = Array(text.unicodeScalars)
                    if let first = scalars.first, "+- ".unicodeScalars.contains(first) { prefixLength = 1 }
                    if scalars.count >= prefixLength + 2, scalars[prefixLength] == "0", "xXo".unicodeScalars.contains(scalars[prefixLength + 1]) { prefixLength += 2 }
                    text = String(String.UnicodeScalarView(scalars[..<prefixLength])) + String(repeating: "0", count: padCount)
                        + String(String.UnicodeScalarView(scalars[prefixLength...]))
                } else {
                    text = String(repeating: " ", count: padCount) + text
                }
            }
            out += text
            try checkBytes(out.utf8.count, "string")
        }
        if next < args.count && !lenient {
            throw JinjaFailure("not all arguments converted during string formatting")
        }
        return out
    }

    // MARK: - String helpers (Python semantics, by code point)

    static func strip(_ s: String, chars: String?, leading: Bool, trailing: Bool) -> String {
        let set = chars.map { Set($0.unicodeScalars) }
        func strippable(_ u: Unicode.Scalar) -> Bool { set.map { $0.contains(u) } ?? JinjaValue.isPythonSpace(u) }
        let u = Array(s.unicodeScalars)
        var lo = 0, hi = u.count
        if leading { while lo < hi && strippable(u[lo]) { lo += 1 } }
        if trailing { while hi > lo && strippable(u[hi - 1]) { hi -= 1 } }
        return String(String.UnicodeScalarView(u[lo..<hi]))
    }

    /// `str.split(sep, maxsplit)`; with no separator, runs of whitespace split
    /// and empty pieces are dropped (the unsplit rest keeps its trailing space).
    static func split(_ s: String, sep: String?, maxsplit: Int) throws -> [String] {
        let u = Array(s.unicodeScalars)
        var out: [String] = []
        func piece(_ a: Int, _ b: Int) -> String { String(String.UnicodeScalarView(u[a..<b])) }
        guard let sep else {
            var i = 0
            while i < u.count {
                while i < u.count && JinjaValue.isPythonSpace(u[i]) { i += 1 }
                if i == u.count { break }
                if maxsplit >= 0 && out.count == maxsplit {   // the rest, trailing space and all
                    out.append(piece(i, u.count))
                    break
                }
                let start = i
                while i < u.count && !JinjaValue.isPythonSpace(u[i]) { i += 1 }
                out.append(piece(start, i))
            }
            return out
        }
        let n = Array(sep.unicodeScalars)
        guard !n.isEmpty else { throw JinjaFailure("empty separator") }
        var start = 0, i = 0
        while i + n.count <= u.count {
            if (maxsplit < 0 || out.count < maxsplit) && u[i..<i + n.count].elementsEqual(n) {
                out.append(piece(start, i))
                i += n.count
                start = i
            } else {
                i += 1
            }
        }
        out.append(piece(start, u.count))
        return out
    }

    /// Python's `str.splitlines()`: splits at \n, \r, \r\n, \v, \f, \x1c-\x1e,
    /// \x85, U+2028 and U+2029, dropping the breaks (no empty last piece).
    static func splitLines(_ s: String) -> [String] {
        var out: [String] = []
        var piece = String.UnicodeScalarView()
        var previousCR = false
        for u in s.unicodeScalars {
            if u == "\n" && previousCR { previousCR = false; continue }
            previousCR = u == "\r"
            switch u.value {
            case 0x0A, 0x0B, 0x0C, 0x0D, 0x1C, 0x1D, 0x1E, 0x85, 0x2028, 0x2029:
                out.append(String(piece))
                piece = String.UnicodeScalarView()
            default:
                piece.append(u)
            }
        }
        if !piece.isEmpty { out.append(String(piece)) }
        return out
    }

    func replace(_ s: String, _ old: String, _ new: String, count: Int) throws -> String {
        let u = Array(s.unicodeScalars), o = Array(old.unicodeScalars), n = Array(new.unicodeScalars)
        var out = String.UnicodeScalarView()
        var done = 0
        func allowed() -> Bool { count < 0 || done < count }
        if o.isEmpty {
            // Python inserts `new` before every code point and at the end.
            for x in u {
                if allowed() { out.append(contentsOf: n); done += 1 }
                out.append(x)
            }
            if allowed() { out.append(contentsOf: n) }
        } else {
            var i = 0
            while i < u.count {
                if allowed(), i + o.count <= u.count, u[i..<i + o.count].elementsEqual(o) {
                    out.append(contentsOf: n)
                    done += 1
                    i += o.count
                } else {
                    out.append(u[i])
                    i += 1
                }
                if out.count > limits.maxOutputBytes { try checkBytes(out.count, "string") }
            }
        }
        return String(out)
    }

    enum LetterCase { case none, lower, upper, mixed }

    /// Python's `islower()`/`isupper()`: the string has cased letters and all
    /// of them are lower (upper) case; title-case letters count as neither.
    static func pythonCase(_ s: String) -> LetterCase {
        var lower = false, upper = false, title = false
        for u in s.unicodeScalars {
            switch u.properties.generalCategory {
            case .lowercaseLetter: lower = true
            case .uppercaseLetter: upper = true
            case .titlecaseLetter: title = true
            default: break
            }
        }
        if title || (lower && upper) { return .mixed }
        return lower ? .lower : (upper ? .upper : .none)
    }

    private static func isCased(_ u: Unicode.Scalar) -> Bool {
        switch u.properties.generalCategory {
        case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter: return true
        default: return false
        }
    }

    /// Python's `str.title()`: a cased letter after a cased letter is lowered,
    /// any other cased letter is title-cased.
    static func pythonTitle(_ s: String) -> String {
        var out = ""
        var previousCased = false
        for u in s.unicodeScalars {
            if isCased(u) {
                out += previousCased ? u.properties.lowercaseMapping : u.properties.titlecaseMapping
                previousCased = true
            } else {
                out.unicodeScalars.append(u)
                previousCased = false
            }
        }
        return out
    }

    /// Jinja's `title` filter: split before runs of `-`, whitespace and
    /// opening brackets; each piece gets its first character upper-cased and
    /// the rest lower-cased.
    static func jinjaTitle(_ s: String) -> String {
        func isBreak(_ u: Unicode.Scalar) -> Bool { "-({[<".unicodeScalars.contains(u) || JinjaValue.isPythonSpace(u) }
        var out = ""
        var piece = String.UnicodeScalarView()
        var inBreak: Bool? = nil
        func flush() {
            guard let first = piece.first else { return }
            out += first.properties.uppercaseMapping + String(String.UnicodeScalarView(piece.dropFirst())).lowercased()
            piece = String.UnicodeScalarView()
        }
        for u in s.unicodeScalars {
            let b = isBreak(u)
            if b != inBreak { flush(); inBreak = b }
            piece.append(u)
        }
        flush()
        return out
    }

    /// Python's `str.capitalize()`: first character title-cased, the rest lowered.
    static func capitalize(_ s: String) -> String {
        guard let first = s.unicodeScalars.first else { return s }
        return first.properties.titlecaseMapping + String(String.UnicodeScalarView(s.unicodeScalars.dropFirst())).lowercased()
    }

    /// Jinja's `int` filter: ints and bools as is, floats truncated, strings
    /// parsed as Python's `int()` (then as a float); nil when it cannot.
    static func toInt(_ v: JinjaValue, base: Int) -> JinjaValue? {
        switch v {
        case let .int(i): return .int(i)
        case let .bool(b): return .int(b ? 1 : 0)
        case let .float(d):
            guard d.isFinite, Swift.abs(d) < 9.2e18 else { return nil }
            return .int(Int(d))
        case let .string(s):
            let t = strip(s, chars: nil, leading: true, trailing: true).replacingOccurrences(of: "_", with: "")
            if let i = Int(t, radix: base) { return .int(i) }
            if case let .float(d)? = toFloat(.string(s)), d.isFinite, Swift.abs(d) < 9.2e18 { return .int(Int(d)) }
            return nil
        default: return nil
        }
    }

    static func toFloat(_ v: JinjaValue) -> JinjaValue? {
        switch v {
        case let .float(d): return .float(d)
        case let .int(i): return .float(Double(i))
        case let .bool(b): return .float(b ? 1 : 0)
        case let .string(s):
            let t = strip(s, chars: nil, leading: true, trailing: true).lowercased()
            switch t {
            case "inf", "+inf", "infinity", "+infinity": return .float(.infinity)
            case "-inf", "-infinity": return .float(-.infinity)
            case "nan", "+nan", "-nan": return .float(.nan)
            default: return Double(t.replacingOccurrences(of: "_", with: "")).map { .float($0) }
            }
        default: return nil
        }
    }
}
