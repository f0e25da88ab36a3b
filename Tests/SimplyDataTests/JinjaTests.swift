import Foundation
import Testing
import SimplyCore
import SimplyData

/// golden/hf/jinja-cases.json (tools/interop/jinja_cases.py: small templates,
/// one feature each) or jinja-fuzz.json (tools/interop/jinja_fuzz.py: random
/// templates from fixed seeds), with what Jinja2 in transformers'
/// chat-template environment made of them.
private func jinjaCases(_ file: String = "jinja-cases.json") throws -> (context: [String: JinjaValue], cases: [JSONValue]) {
    let url = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("golden").appendingPathComponent("hf").appendingPathComponent(file)
    let root = try JSONValue.parse(try String(contentsOf: url, encoding: .utf8))
    guard case let .object(ctx)? = root["context"], case let .array(cases)? = root["cases"] else {
        throw DataError(url, "no context or cases")
    }
    var context: [String: JinjaValue] = [:]
    for (k, v) in ctx { context[k] = try JinjaValue(json: v) }
    return (context, cases)
}

private func render(_ source: String, _ context: [String: JinjaValue] = [:], limits: JinjaLimits = JinjaLimits(),
                    clock: JinjaClock? = nil) throws -> String {
    try JinjaTemplate(source: source, limits: limits).render(context, clock: clock)
}

/// A case's "clock": [year, month, day, hour, minute, second], if any.
private func clock(_ c: JSONValue) throws -> JinjaClock? {
    guard case let .array(parts)? = c["clock"] else { return nil }
    let v = parts.compactMap(\.intValue)
    guard v.count == 6 else { throw DataError("jinja-cases.json: bad clock") }
    return JinjaClock(year: v[0], month: v[1], day: v[2], hour: v[3], minute: v[4], second: v[5])
}

/// The error a render throws, as its one-line description.
private func renderError(_ source: String, _ context: [String: JinjaValue] = [:], name: String? = nil,
                         limits: JinjaLimits = JinjaLimits()) -> String? {
    do {
        _ = try JinjaTemplate(source: source, name: name, limits: limits).render(context)
        return nil
    } catch {
        return "\(error)"
    }
}

@Suite struct JinjaTests {
    /// Every case renders as Jinja2 rendered it, or fails where Jinja2 failed.
    @Test func matchesJinja2() throws {
        let (context, cases) = try jinjaCases()
        #expect(cases.count >= 90)
        var failures = 0
        for c in cases {
            let name = c["name"]?.stringValue ?? "?"
            let source = try #require(c["template"]?.stringValue)
            var ctx = context
            if case let .object(own)? = c["context"] {
                ctx = [:]
                for (k, v) in own { ctx[k] = try JinjaValue(json: v) }
            }
            if let expected = c["text"]?.stringValue {
                do {
                    let text = try render(source, ctx, clock: try clock(c))
                    #expect(text == expected, "\(name)")
                } catch {
                    Issue.record("\(name): \(error)")
                }
            } else {
                let jinjaError = try #require(c["error"]?.stringValue, "\(name): neither text nor error")
                let error = renderError(source, ctx)
                #expect(error != nil, "\(name): Jinja2 raised \(jinjaError), Simply rendered")
                if error != nil { failures += 1 }
                // Simply's message is Jinja2's (after the exception class).
                let text = jinjaError.split(separator: ":", maxSplits: 1).last.map { $0.trimmingCharacters(in: .whitespaces) } ?? ""
                #expect(error?.contains(text) == true, "\(name): \(error ?? "nil") lacks \(text)")
            }
        }
        #expect(failures == cases.filter { $0["error"] != nil }.count)
    }

    /// 2300 random expressions, whitespace-control nestings and % formats:
    /// the same text as Jinja2, or an error where Jinja2 raised one.
    @Test func matchesJinja2OnRandomTemplates() throws {
        let (context, cases) = try jinjaCases("jinja-fuzz.json")
        #expect(cases.count == 2300)
        var rendered = 0, refused = 0, sameMessage = 0
        for c in cases {
            let name = c["name"]?.stringValue ?? "?"
            let source = try #require(c["template"]?.stringValue)
            if let expected = c["text"]?.stringValue {
                do {
                    #expect(try render(source, context) == expected, "\(name)")
                    rendered += 1
                } catch {
                    Issue.record("\(name): \(error)")
                }
            } else {
                let jinjaError = try #require(c["error"]?.stringValue, "\(name): neither text nor error")
                let error = renderError(source, context)
                #expect(error != nil, "\(name): Jinja2 raised \(jinjaError), Simply rendered")
                refused += 1
                let text = jinjaError.split(separator: ":", maxSplits: 1).last.map { $0.trimmingCharacters(in: .whitespaces) } ?? ""
                if error?.contains(text) == true { sameMessage += 1 }
            }
        }
        #expect(rendered + refused == cases.count)
        // Messages are Python's nearly everywhere (a few chained comparisons
        // name the outer types where Python names the inner ones).
        #expect(sameMessage * 100 >= refused * 98, "\(sameMessage) of \(refused) error messages as Jinja2's")
    }

    @Test func valuesPrintAsPython() throws {
        #expect(try render("{{ x }}", ["x": .float(1e22)]) == "1e+22")
        #expect(try render("{{ x }}", ["x": .float(123456.789)]) == "123456.789")
        #expect(try render("{{ x }}", ["x": .float(-2.5e-7)]) == "-2.5e-07")
        #expect(try render("{{ x }}", ["x": .list([.string("a'b"), .string("é\n"), .none, .bool(false)])]) == #"["a'b", 'é\n', None, False]"#)
        #expect(try render("{{ x | tojson }}", ["x": .dict(JinjaDict([("z", .int(1)), ("a", .list([]))]))]) == #"{"z": 1, "a": []}"#)
    }

    @Test func jsonNumbersKeepPythonTypes() throws {
        let v = try JinjaValue(json: JSONValue.parse(#"{"i": 3, "f": 3.0, "e": 1e2, "n": null}"#))
        #expect(try render("{{ v.i }} {{ v.f }} {{ v.e }} {{ v.n }} {{ v.i is integer }} {{ v.f is float }}", ["v": v])
                == "3 3.0 100.0 None True True")
    }

    /// Errors are one line with the template name, line and column of the
    /// failing tag or expression.
    @Test func errorsNameLineAndColumn() throws {
        let e1 = renderError("line one\n  {{ 'a' + 1 }}", name: "t.jinja")
        #expect(e1 == #"t.jinja:2: column 6: can only concatenate str (not "int") to str"#)
        let e2 = renderError("{% for x in xs %}\n{% if x %}\n{% endfor %}", ["xs": .list([])], name: "t.jinja")
        #expect(e2 == "t.jinja:3: column 4: unexpected 'endfor'")
        let e3 = renderError("ok\n\n{% if true %}never closed", name: "t.jinja")
        #expect(e3?.hasPrefix("t.jinja:3: column 1: 'if' block is never closed") == true)
        let e4 = renderError("{{ raise_exception('two\nlines') }}")
        #expect(e4 == #"template:1: column 4: two\nlines"#)
        let e5 = renderError("{{ m.content.strip() }}", ["m": .dict(JinjaDict([("role", .string("user"))]))])
        #expect(e5 == "template:1: column 4: 'dict object' has no attribute 'content'")
        let e6 = renderError("{% frobnicate %}")
        #expect(e6 == "template:1: column 4: unknown or unsupported tag 'frobnicate'")
        let e7 = renderError("{{ 1 +* 2 }}")
        #expect(e7 == "template:1: column 7: unexpected '*'")
        let e8 = renderError("{{ 'unterminated }}")
        #expect(e8 == "template:1: column 4: unterminated string")
        let e9 = renderError("{% break %}")
        #expect(e9 == "template:1: column 4: 'break' outside a for loop")
        let e10 = renderError("{{ x | nosuchfilter }}", ["x": .int(1)])
        #expect(e10 == "template:1: column 6: no filter named 'nosuchfilter'")
        for e in [e1, e2, e3, e4, e5, e6, e7, e8, e9, e10] { #expect(e?.contains("\n") == false) }
    }

    @Test func fileErrorsNameTheFile() throws {
        let dir = try TempDir()
        let url = try dir.write("chat_template.jinja", "{{ bos_token }}\n{{ messages[0].content + 1 }}")
        let t = try JinjaTemplate(contentsOf: url)
        let ctx: [String: JinjaValue] = ["messages": .list([.dict(JinjaDict([("content", .string("hi"))]))])]
        let error = #expect(throws: DataError.self) { try t.render(ctx) }
        #expect(error?.description == url.path + #":2: column 4: can only concatenate str (not "int") to str"#)
    }

    /// Hostile templates stop with an error instead of running away.
    @Test func boundsStopHostileTemplates() throws {
        let small = JinjaLimits(maxOutputBytes: 10_000, maxItems: 1_000, maxSteps: 5_000, maxCallDepth: 8, maxRange: 1_000)
        // Output size.
        let e1 = renderError("{% for i in range(1000) %}{{ 'x' * 100 }}{% endfor %}", limits: small)
        #expect(e1?.contains("output exceeds 10000 bytes") == true)
        // A string built in memory, never printed.
        let e2 = renderError("{% set s = 'x' * 100000000 %}", limits: small)
        #expect(e2?.contains("would exceed") == true)
        // Doubling a list in a loop.
        let e3 = renderError("{% set ns = namespace(l=[1]) %}{% for i in range(100) %}{% set ns.l = ns.l + ns.l %}{% endfor %}", limits: small)
        #expect(e3?.contains("list would exceed 1000 items") == true)
        #expect(renderError("{{ ([0] * 1001) | length }}", limits: small)?.contains("list would exceed 1000 items") == true)
        // Iterations: nested loops, each within range's bound.
        let e4 = renderError("{% for i in range(1000) %}{% for j in range(1000) %}{% endfor %}{% endfor %}", limits: small)
        #expect(e4?.contains("took more than 5000 steps") == true)
        // range itself.
        let e5 = renderError("{{ range(1001) | length }}", limits: small)
        #expect(e5?.contains("Range too big") == true)
        // Macro recursion.
        let e6 = renderError("{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}", limits: small)
        #expect(e6?.contains("nested more than 8 deep") == true)
        // Deeply nested expressions and blocks are refused by the parser.
        let e7 = renderError(String(repeating: "(", count: 500) + "1" + String(repeating: ")", count: 500))
        #expect(e7 == nil)   // plain text: no tag
        let e8 = renderError("{{ " + String(repeating: "(", count: 500) + "1" + String(repeating: ")", count: 500) + " }}")
        #expect(e8?.contains("nested too deeply") == true)
        let e9 = renderError(String(repeating: "{% if true %}", count: 200) + String(repeating: "{% endif %}", count: 200))
        #expect(e9?.contains("nested too deeply") == true)
        let e10 = renderError("{{ " + String(repeating: "not ", count: 500) + "1 }}")
        #expect(e10?.contains("nested too deeply") == true)
        // Long operator and filter chains parse as deep trees: evaluation refuses them.
        let e12 = renderError("{{ 1" + String(repeating: " + 1", count: 5000) + " }}")
        #expect(e12?.contains("expression nested too deeply") == true)
        let e13 = renderError("{{ 'x'" + String(repeating: " | trim", count: 5000) + " }}")
        #expect(e13?.contains("expression nested too deeply") == true)
        #expect(try render("{{ 1" + String(repeating: " + 1", count: 150) + " }}") == "151")
        // A nested structure printed: the size check refuses before building it.
        let e11 = renderError("{% set ns = namespace(l=[1, 2, 3, 4]) %}{% for i in range(30) %}{% set ns.l = [ns.l, ns.l] %}{% endfor %}{{ ns.l | tojson }}", limits: small)
        #expect(e11?.contains("too large to print") == true)
        // A list nested in itself is small in memory but exponential to
        // compare: comparisons pay a step per value visited.
        let nest = "{% set ns = namespace(l=[1]) %}{% for i in range(60) %}{% set ns.l = [ns.l, ns.l] %}{% endfor %}"
        #expect(renderError(nest + "{{ ns.l == ns.l }}", limits: small)?.contains("took more than 5000 steps") == true)
        #expect(renderError(nest + "{{ ns.l in [ns.l] }}", limits: small)?.contains("took more than 5000 steps") == true)
        #expect(renderError(nest + "{{ [ns.l, ns.l] | sort | length }}", limits: small)?.contains("took more than 5000 steps") == true)
        #expect(renderError(nest + "{{ ns.l | string | length }}", limits: small)?.contains("too large to print") == true)
        #expect(renderError(nest + "{{ ns.l | trim }}", limits: small)?.contains("too large to print") == true)
        // Padding that would be huge is refused before it is made.
        #expect(renderError("{{ 'a\nb' | indent(1000000000000) }}", limits: small)?.contains("would exceed 10000 bytes") == true)
        #expect(renderError("{{ [1] | tojson(indent=1000000000000) }}", limits: small)?.contains("would exceed 10000 bytes") == true)
        #expect(renderError("{{ '%999999999999d' % 1 }}", limits: small)?.contains("would exceed 10000 bytes") == true)
        // Within the limits, the same kinds of template render.
        #expect(try render("{% for i in range(10) %}{{ 'x' * 10 }}{% endfor %}", limits: small).count == 100)
    }

    /// A template's text is data: `{{` inside a message is not evaluated.
    @Test func contentIsNotEvaluated() throws {
        let r = try ChatTemplateRenderer(source: "{% for m in messages %}{{ m.content }}{% endfor %}")
        let m: JSONValue = .object([("role", .string("user")), ("content", .string("{{ 7 * 7 }}{% if %}"))])
        #expect(try r.render(messages: [m]) == "{{ 7 * 7 }}{% if %}")
    }

    /// The renderer never reads the clock: strftime_now is not defined
    /// unless the caller gives a fixed instant.
    @Test func noClock() throws {
        #expect(try render("{{ strftime_now is defined }}") == "False")
        #expect(renderError("{{ strftime_now('%Y') }}")?.contains("'strftime_now' is undefined") == true)
        let leap = JinjaClock(year: 2024, month: 2, day: 29, hour: 0, minute: 7)
        #expect(try render("{{ strftime_now('%a %d %b %Y %I:%M %p, day %j') }}", clock: leap) == "Thu 29 Feb 2024 12:07 AM, day 060")
        #expect(JinjaClock(year: 2000, month: 1, day: 1).strftime("%A") == "Saturday")
        let bad = #expect(throws: DataError.self) { try render("x", clock: JinjaClock(year: 2023, month: 2, day: 29)) }
        #expect(bad?.description.contains("invalid clock") == true)
    }

    @Test func scopingFollowsJinja() throws {
        // A set inside a loop does not leak; a namespace attribute does.
        #expect(try render("{% set a = 1 %}{% for i in [1, 2] %}{% set a = i %}{% endfor %}{{ a }}") == "1")
        #expect(try render("{% set ns = namespace(a=1) %}{% for i in [1, 2] %}{% set ns.a = i %}{% endfor %}{{ ns.a }}") == "2")
        // A macro does not see the caller's loop variable.
        #expect(try render("{% macro m() %}[{{ i }}]{% endmacro %}{% for i in [1] %}{{ m() }}{% endfor %}") == "[]")
        // Setting a variable the caller passed shadows it for the rest of the template.
        #expect(try render("{% set messages = messages[1:] %}{{ messages | length }}", ["messages": .list([.int(1), .int(2)])]) == "1")
    }
}
