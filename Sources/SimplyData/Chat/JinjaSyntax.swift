/// The parsed form of a Jinja template: statements (`JinjaNode`) holding
/// expressions (`JinjaExpr`). Every expression and statement keeps the line
/// and column it starts at, for error messages.
struct JinjaExpr: Sendable {
    indirect enum Kind: Sendable {
        case literal(JinjaValue)
        case name(String)
        case list([JinjaExpr])
        case tuple([JinjaExpr])
        case dict([(JinjaExpr, JinjaExpr)])
        case attribute(JinjaExpr, String)                       // a.b
        case item(JinjaExpr, JinjaExpr)                         // a[b]
        case slice(JinjaExpr, JinjaExpr?, JinjaExpr?, JinjaExpr?)   // a[b:c:d]
        case negate(JinjaExpr)                                  // -a
        case plus(JinjaExpr)                                    // +a
        case not(JinjaExpr)
        case and(JinjaExpr, JinjaExpr)
        case or(JinjaExpr, JinjaExpr)
        case binary(String, JinjaExpr, JinjaExpr)               // + - * / // % ** ~
        case compare(JinjaExpr, [(String, JinjaExpr)])          // == != < <= > >= in notin, chained
        case conditional(then: JinjaExpr, test: JinjaExpr, otherwise: JinjaExpr?)
        case call(JinjaExpr, [JinjaExpr], [(String, JinjaExpr)])
        case filter(JinjaExpr, String, [JinjaExpr], [(String, JinjaExpr)])
        case test(JinjaExpr, String, [JinjaExpr], negated: Bool)
    }

    let kind: Kind
    let line: Int
    let column: Int
}

/// Where `{% set %}` stores: a variable, or an attribute of a namespace.
enum JinjaSetTarget: Sendable {
    case name(String)
    case attribute(String, String)
    case names([String])          // {% set a, b = pair %}
}

struct JinjaNode: Sendable {
    indirect enum Kind: Sendable {
        case text(String)
        case output(JinjaExpr)
        case conditional([(JinjaExpr, [JinjaNode])], otherwise: [JinjaNode])
        case forLoop(targets: [String], iterable: JinjaExpr, filter: JinjaExpr?, body: [JinjaNode], otherwise: [JinjaNode])
        case set(JinjaSetTarget, JinjaExpr)
        case setBlock(JinjaSetTarget, [JinjaNode])
        case macro(name: String, parameters: [(String, JinjaExpr?)], body: [JinjaNode])
        case breakLoop
        case continueLoop
        /// transformers' `{% generation %}…{% endgeneration %}` (marks the
        /// assistant's tokens; renders its body unchanged).
        case generation([JinjaNode])
    }

    let kind: Kind
    let line: Int
    let column: Int
}
