/// Splits a Jinja template into tokens, as Jinja2's lexer does with the
/// settings transformers uses (`trim_blocks=True, lstrip_blocks=True`, the
/// default `{{ }}`, `{% %}`, `{# #}` delimiters, `keep_trailing_newline=False`):
///
/// - newlines are normalised to "\n" first (in text and string literals);
/// - text between tags is one `.text` token;
/// - `{%-` / `{{-` / `{#-` strip the whitespace before the tag, `-%}` / `-}}`
///   / `-#}` the whitespace after it;
/// - trim_blocks: the first newline after a `%}` or `#}` is dropped (not
///   after `}}`; `+%}` keeps it);
/// - lstrip_blocks: spaces and tabs from the start of a line to a `{%` or
///   `{#` are dropped (`{%+` keeps them);
/// - one newline at the very end of the template is dropped;
/// - inside tags: names, numbers, strings (with Python escapes) and operators.
///   A closing `}}` or `%}` only counts when brackets are balanced, so
///   `{{ {'a': {'b': 1}} }}` works.
struct JinjaLexer {
    enum Kind: Equatable {
        case text(String)
        case variableBegin, variableEnd, blockBegin, blockEnd
        case name(String)
        case string(String)
        case integer(Int)
        case float(Double)
        case op(String)
        case end
    }

    struct Token {
        let kind: Kind
        let line: Int
        let column: Int
    }

    private let src: [Unicode.Scalar]
    private var i = 0
    private var line = 1
    private var column = 1
    private var tokens: [Token] = []

    static func tokenize(_ source: String) throws -> [Token] {
        var lexer = JinjaLexer(source)
        try lexer.run()
        return lexer.tokens
    }

    private init(_ source: String) {
        // As Jinja's lexer: \r\n and lone \r become \n everywhere first,
        // then (keep_trailing_newline=False) one trailing newline is dropped.
        var scalars: [Unicode.Scalar] = []
        var previousCR = false
        for u in source.unicodeScalars {
            if u == "\n" && previousCR { previousCR = false; continue }
            previousCR = u == "\r"
            scalars.append(u == "\r" ? "\n" : u)
        }
        if scalars.last == "\n" { scalars.removeLast() }
        src = scalars
    }

    private func error(_ message: String, line: Int? = nil, column: Int? = nil) -> JinjaSyntaxError {
        JinjaSyntaxError(message: message, line: line ?? self.line, column: column ?? self.column)
    }

    private func peek(_ offset: Int = 0) -> Unicode.Scalar? {
        i + offset < src.count ? src[i + offset] : nil
    }

    private func starts(with s: String, at pos: Int) -> Bool {
        var p = pos
        for u in s.unicodeScalars {
            guard p < src.count, src[p] == u else { return false }
            p += 1
        }
        return true
    }

    private mutating func advance(_ n: Int = 1) {
        for _ in 0..<n where i < src.count {
            if src[i] == "\n" { line += 1; column = 1 } else { column += 1 }
            i += 1
        }
    }

    private mutating func run() throws {
        // True at the start of the template and after a tag whose match ended
        // with a newline (trim_blocks ate it): then lstrip_blocks may strip
        // the text before the next tag even though it holds no newline.
        var lineStarting = true
        while i < src.count {
            // Find the next tag opener.
            var j = i
            var opener: Unicode.Scalar? = nil
            while j + 1 < src.count {
                if src[j] == "{", src[j + 1] == "{" || src[j + 1] == "%" || src[j + 1] == "#" {
                    opener = src[j + 1]
                    break
                }
                j += 1
            }
            guard let kind = opener else {
                emitText(Array(src[i...]), line: line, column: column)
                advanceTo(src.count)
                break
            }
            var text = Array(src[i..<j])
            let textLine = line, textColumn = column
            let marker = j + 2 < src.count ? src[j + 2] : nil
            if marker == "-" {
                while let last = text.last, JinjaValue.isPythonSpace(last) { text.removeLast() }
            } else if marker != "+" && kind != "{" {
                // lstrip_blocks: only blanks between the line start and the tag.
                let lineStart = (text.lastIndex(of: "\n").map { $0 + 1 }) ?? 0
                if lineStart > 0 || lineStarting {
                    let tail = text[lineStart...]
                    if !tail.isEmpty && tail.allSatisfy({ JinjaValue.isPythonSpace($0) }) {
                        text.removeSubrange(lineStart...)
                    }
                }
            }
            emitText(text, line: textLine, column: textColumn)
            advanceTo(j)
            let tagLine = line, tagColumn = column
            advance(2)
            if marker == "-" || marker == "+" { advance() }
            switch kind {
            case "#":
                // A comment: find "#}" (with an optional "-" before it).
                var k = i
                while k + 1 < src.count, !(src[k] == "#" && src[k + 1] == "}") { k += 1 }
                guard k + 1 < src.count else { throw error("unclosed comment", line: tagLine, column: tagColumn) }
                let strip = k > i && src[k - 1] == "-"
                let keep = k > i && src[k - 1] == "+"
                advanceTo(k + 2)
                lineStarting = afterTag(stripAll: strip, trimNewline: !keep)
            case "{":
                tokens.append(Token(kind: .variableBegin, line: tagLine, column: tagColumn))
                let strip = try lexInside(closer: "}}", tagLine: tagLine, tagColumn: tagColumn)
                lineStarting = afterTag(stripAll: strip == "-", trimNewline: false)
            default:
                tokens.append(Token(kind: .blockBegin, line: tagLine, column: tagColumn))
                let strip = try lexInside(closer: "%}", tagLine: tagLine, tagColumn: tagColumn)
                lineStarting = afterTag(stripAll: strip == "-", trimNewline: strip != "+")
            }
        }
        tokens.append(Token(kind: .end, line: line, column: column))
    }

    private mutating func advanceTo(_ pos: Int) { advance(pos - i) }

    private mutating func emitText(_ text: [Unicode.Scalar], line: Int, column: Int) {
        guard !text.isEmpty else { return }
        tokens.append(Token(kind: .text(String(String.UnicodeScalarView(text))), line: line, column: column))
    }

    /// After a tag's closer: strip all following whitespace (`-`), or with
    /// trim_blocks one newline. Returns whether the tag's match ended with a
    /// newline (Jinja's `line_starting`).
    private mutating func afterTag(stripAll: Bool, trimNewline: Bool) -> Bool {
        var ate: Unicode.Scalar? = nil
        if stripAll {
            while let c = peek(), JinjaValue.isPythonSpace(c) { ate = c; advance() }
        } else if trimNewline, peek() == "\n" {
            ate = "\n"
            advance()
        }
        return ate == "\n"
    }

    /// Tokens up to the closer (`}}` or `%}`), which counts only when the
    /// brackets opened inside the tag are closed. Returns the marker before the
    /// closer ("-", "+" or "").
    private mutating func lexInside(closer: String, tagLine: Int, tagColumn: Int) throws -> String {
        var depth = 0
        let endKind: Kind = closer == "}}" ? .variableEnd : .blockEnd
        while true {
            while let c = peek(), JinjaValue.isPythonSpace(c) { advance() }
            guard let c = peek() else {
                throw error("unclosed tag (no '\(closer)')", line: tagLine, column: tagColumn)
            }
            if depth == 0 {
                for marker in ["-", "+", ""] where starts(with: marker + closer, at: i) {
                    if marker == "+" && closer == "}}" { continue }
                    tokens.append(Token(kind: endKind, line: line, column: column))
                    advance(marker.unicodeScalars.count + 2)
                    return marker
                }
            }
            let tokLine = line, tokColumn = column
            if c == "_" || c.properties.isAlphabetic {
                var name = String.UnicodeScalarView()
                while let d = peek(), d == "_" || d.properties.isAlphabetic || d.properties.numericType != nil {
                    name.append(d)
                    advance()
                }
                tokens.append(Token(kind: .name(String(name)), line: tokLine, column: tokColumn))
            } else if ("0"..."9").contains(c) {
                tokens.append(Token(kind: try number(), line: tokLine, column: tokColumn))
            } else if c == "'" || c == "\"" {
                tokens.append(Token(kind: .string(try string(quote: c)), line: tokLine, column: tokColumn))
            } else {
                var op = ""
                for candidate in ["//", "**", "==", "!=", ">=", "<="] where starts(with: candidate, at: i) {
                    op = candidate
                    break
                }
                if op.isEmpty {
                    guard "+-*/%~[](){}<>=.:|,".unicodeScalars.contains(c) else {
                        throw error("unexpected character '\(Character(c))'")
                    }
                    op = String(Character(c))
                }
                if op == "(" || op == "[" || op == "{" { depth += 1 }
                if op == ")" || op == "]" || op == "}" {
                    guard depth > 0 else { throw error("unexpected '\(op)'") }
                    depth -= 1
                }
                advance(op.unicodeScalars.count)
                tokens.append(Token(kind: .op(op), line: tokLine, column: tokColumn))
            }
        }
    }

    private mutating func number() throws -> Kind {
        let startLine = line, startColumn = column
        var text = ""
        func digits(_ lexer: inout JinjaLexer) {
            while let d = lexer.peek(), ("0"..."9").contains(d) || (d == "_" && lexer.peek(1).map { ("0"..."9").contains($0) } == true) {
                if d != "_" { text.unicodeScalars.append(d) }
                lexer.advance()
            }
        }
        digits(&self)
        var isFloat = false
        if peek() == ".", let d = peek(1), ("0"..."9").contains(d) {
            isFloat = true
            text += "."
            advance()
            digits(&self)
        }
        if let e = peek(), e == "e" || e == "E" {
            var k = 1
            if let s = peek(1), s == "+" || s == "-" { k = 2 }
            if let d = peek(k), ("0"..."9").contains(d) {
                isFloat = true
                text += "e"
                if k == 2, let s = peek(1) { text.unicodeScalars.append(s) }
                advance(k)
                digits(&self)
            }
        }
        if isFloat {
            guard let d = Double(text) else { throw error("bad number \(text)", line: startLine, column: startColumn) }
            return .float(d)
        }
        guard let v = Int(text) else { throw error("integer \(text) is too large", line: startLine, column: startColumn) }
        return .integer(v)
    }

    /// A quoted string with Python's escapes (\n \t \\ \' \" \xNN \uNNNN
    /// \UNNNNNNNN and octal); an unknown escape such as `\d` is kept as written.
    private mutating func string(quote: Unicode.Scalar) throws -> String {
        let startLine = line, startColumn = column
        advance()
        var out = String.UnicodeScalarView()
        while true {
            guard let c = peek() else { throw error("unterminated string", line: startLine, column: startColumn) }
            advance()
            if c == quote { return String(out) }
            guard c == "\\" else { out.append(c); continue }
            guard let e = peek() else { throw error("unterminated string", line: startLine, column: startColumn) }
            advance()
            switch e {
            case "n": out.append("\n")
            case "t": out.append("\t")
            case "r": out.append("\r")
            case "\\": out.append("\\")
            case "'": out.append("'")
            case "\"": out.append("\"")
            case "a": out.append("\u{07}")
            case "b": out.append("\u{08}")
            case "f": out.append("\u{0C}")
            case "v": out.append("\u{0B}")
            case "\n": break   // line continuation
            case "x", "u", "U":
                let width = e == "x" ? 2 : (e == "u" ? 4 : 8)
                var v: UInt32 = 0
                for _ in 0..<width {
                    guard let h = peek(), h.isASCII, let d = UInt32(String(h), radix: 16) else {
                        throw error("bad \\\(e) escape in string")
                    }
                    v = v * 16 + d
                    advance()
                }
                guard let u = Unicode.Scalar(v) else { throw error("bad \\\(e) escape in string") }
                out.append(u)
            case "0"..."7":
                var v = e.value - 0x30
                var n = 1
                while n < 3, let d = peek(), ("0"..."7").contains(d) {
                    v = v * 8 + d.value - 0x30
                    advance()
                    n += 1
                }
                guard let u = Unicode.Scalar(v) else { throw error("bad octal escape in string") }
                out.append(u)
            default:
                out.append("\\")
                out.append(e)
            }
        }
    }
}

/// A template that does not parse: where and why.
struct JinjaSyntaxError: Error {
    let message: String
    let line: Int
    let column: Int
}
