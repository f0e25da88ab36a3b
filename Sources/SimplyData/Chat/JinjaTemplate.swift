import Foundation
import SimplyCore

/// A Jinja template, parsed once and rendered any number of times, with the
/// environment transformers gives chat templates (`ImmutableSandboxedEnvironment`
/// with `trim_blocks`, `lstrip_blocks` and loop controls; its `tojson`,
/// `raise_exception`, `namespace` and `dict`). Nothing reads the clock or the
/// file system: `strftime_now` is defined only when the caller gives a fixed
/// `JinjaClock`; without one, templates that check `strftime_now is defined`
/// take their own fallback (Llama 3.x: pass `date_string`).
///
/// Errors are `DataError`s of one line naming the template (`name`, e.g. its
/// file) and the line, with the column in the message:
/// `chat_template.jinja:12: column 8: 'dict object' has no attribute 'x'`.
///
///     let t = try JinjaTemplate(source: "{{ greeting | upper }}, {{ name }}!")
///     try t.render(["greeting": .string("hi"), "name": .string("Ada")])   // "HI, Ada!"
///
/// The supported language: text, `{{ }}`, `{% %}`, `{# #}`, `-`/`+`
/// whitespace control; if/elif/else, for (loop.*, loop.cycle, `if` filter,
/// `else`), break/continue, set (names, `ns.attr`, tuples, blocks), macro
/// (positional and keyword parameters with defaults; no `caller`),
/// generation; Python expressions with Jinja's precedence, filters, tests and
/// the methods in JinjaBuiltins.swift. Anything else (extends, block,
/// include, import, call, filter, with, raw, recursive loops) is a parse error.
///
/// Known differences from Jinja2 in Python (none of them met by the five
/// family templates; golden/hf/jinja-cases.json and the 2300 random
/// templates of golden/hf/jinja-fuzz.json show no others):
/// - filters that are lazy generators in Jinja (map, select, reject,
///   selectattr, rejectattr, unique, items, reverse) and dict views (keys,
///   values, items) are lists: printed directly they show as lists (Jinja
///   prints `<generator object …>` or `dict_keys([…])`), and an error inside
///   one is raised even if the result is never used;
/// - integers are 64-bit (overflow is an error) and dict keys are strings;
/// - `strftime_now` formats the given JinjaClock, or is undefined
///   (transformers formats the wall clock);
/// - error messages carry Jinja2's text in every golden case and nearly all
///   random ones (a chained comparison of lists may name the outer types
///   where Python names the inner ones).
public struct JinjaTemplate: Sendable {
    public let name: String?
    public var limits: JinjaLimits
    let nodes: [JinjaNode]

    /// Parses `source`. `name` (a file name) prefixes error messages.
    public init(source: String, name: String? = nil, limits: JinjaLimits = JinjaLimits()) throws {
        self.name = name
        self.limits = limits
        guard source.utf8.count <= limits.maxOutputBytes else {
            throw DataError(file: name, "template is larger than \(limits.maxOutputBytes) bytes")
        }
        do {
            nodes = try JinjaParser.parse(source)
        } catch let e as JinjaSyntaxError {
            throw DataError(file: name ?? "template", line: e.line, "column \(e.column): \(JinjaTemplate.oneLine(e.message))")
        }
    }

    /// Reads and parses a template file; errors name the file.
    public init(contentsOf url: URL, limits: JinjaLimits = JinjaLimits()) throws {
        let bytes: [UInt8]
        do { bytes = try FileBytes.read(url, limit: Self.maxFileBytes) } catch { throw DataError(url, "cannot read template: \(error.reason)") }
        guard let text = String(validating: bytes, as: UTF8.self) else { throw DataError(url, "not valid UTF-8") }
        try self.init(source: text, name: url.path, limits: limits)
    }

    /// Template files (and tokenizer_config.json, which may hold one) larger than this are refused before they are read.
    public static let maxFileBytes = 16 << 20

    /// Renders with `context` as the template's variables; `clock`, if
    /// given, is the instant `strftime_now` formats.
    public func render(_ context: [String: JinjaValue], clock: JinjaClock? = nil) throws -> String {
        if let clock, !clock.isValid {
            throw DataError(file: name ?? "template", "invalid clock \(clock.year)-\(clock.month)-\(clock.day) \(clock.hour):\(clock.minute):\(clock.second)")
        }
        var interpreter = JinjaInterpreter(context: context, limits: limits, clock: clock)
        do {
            _ = try interpreter.run(nodes)
        } catch let e as JinjaError {
            throw DataError(file: name ?? "template", line: e.line, "column \(e.column): \(JinjaTemplate.oneLine(e.message))")
        } catch let f as JinjaFailure {
            throw DataError(file: name ?? "template", JinjaTemplate.oneLine(f.message))
        }
        return interpreter.output
    }

    /// Messages stay on one line (a raise_exception text may hold newlines).
    static func oneLine(_ s: String) -> String {
        s.replacingOccurrences(of: "\r", with: "\\r").replacingOccurrences(of: "\n", with: "\\n")
    }
}
