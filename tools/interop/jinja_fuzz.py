#!/usr/bin/env python3
"""Random Jinja templates rendered by transformers' chat-template environment,
for Simply's differential test of its Jinja interpreter (JinjaTests reads
the output; Python is not needed to run the tests).

    /tmp/venv/bin/python tools/interop/jinja_fuzz.py [OUT]   # default: golden/hf/jinja-fuzz.json

Three kinds, from fixed seeds (so the file is the same on every run):
  expr  {{ e }}, {% for x in e %} or {% if e %} with e a random expression over
        jinja_cases.CONTEXT: operators, filters, tests, methods, slices,
        conditionals, literals (tuples too);
  ws    random nestings of text, {{ }}, {% if/for/set %} and {# #} with every
        whitespace-control marker (-, +) and runs of spaces, tabs, \\n, \\r\\n;
  pct   printf-style 'format' % (args,) with random flags, widths and types.
Each case is {"name", "template", "text"} or {"name", "template", "error"}.
strftime_now is undefined, as in Simply without a clock. Expressions whose
Jinja2 result is a lazy generator or a dict view are not generated in a
printable position (Simply has lists there; see JinjaTemplate's differences).
"""
import json
import os
import random
import sys

import jinja2
from jinja_cases import CONTEXT
from transformers.utils.chat_template_utils import _compile_jinja_template

OUT = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..",
                                                          "golden", "hf", "jinja-fuzz.json")

ATOMS = ["xs", "d", "s", "n", "f", "empty", "t", "nothing", "word", "msgs", "missing", "d.a", "d.b", "d.b.c", "msgs[0]",
         "msgs[-1].content", "xs[0]", "xs[1:]", "s[::-1]", "1", "0", "-3", "2.5", "0.0", "'a'", "''", "'Hé'", "'a,b'",
         "[1, 2]", "[]", "{'k': 1}", "(1, 2)", "(1,)", "('a', [1])", "true", "false", "none", "'  x  '", "'x</think>y'",
         "1e3", "10", "7"]
BINARY = ["+", "-", "*", "/", "//", "%", "~", "==", "!=", "<", "<=", ">", ">=", "in", "not in", "and", "or"]
FILTERS = ["trim", "length", "upper", "lower", "title", "capitalize", "tojson", "first", "last", "join", "join(',')",
           "default('D')", "list", "string", "int", "float", "reverse | list", "unique | list", "sort", "abs",
           "items | list", "count", "map('string') | list", "selectattr('role') | list", "map(attribute='role') | list",
           "tojson(indent=2)", "d", "sum", "min", "max", "replace('a','b')", "select('odd') | list", "reject | list",
           "trim('x')", "default('D', true)", "round(1)", "wordcount", "indent(2)"]
TESTS = ["defined", "undefined", "none", "string", "number", "integer", "float", "boolean", "mapping", "iterable",
         "sequence", "true", "false", "odd", "even", "divisibleby(2)", "equalto(1)", "lower", "upper", "in([1, 'a'])"]
METHODS = [".strip()", ".lstrip('x')", ".rstrip()", ".split()", ".split(',')", ".startswith('a')", ".endswith('o')",
           ".upper()", ".lower()", ".title()", ".replace('l', 'L')", ".items() | list", ".keys() | list",
           ".values() | list", ".get('a')", ".get('z', 0)", ".count(1)", ".index(1)", ".find('l')", ".capitalize()"]
RECEIVERS = ["s", "word", "d", "xs", "msgs[1]", "\"a,b\""]
SLICES = ["0", "-1", "1:", ":-1", "::-1", "::2", "5", "1:2"]


def expression(rng, depth=0):
    r = rng.random()
    if depth > 2 or r < 0.3:
        return rng.choice(ATOMS)
    if r < 0.5:
        return f"({expression(rng, depth + 1)} {rng.choice(BINARY)} {expression(rng, depth + 1)})"
    if r < 0.65:
        return f"({expression(rng, depth + 1)} | {rng.choice(FILTERS)})"
    if r < 0.75:
        return f"({expression(rng, depth + 1)} is {rng.choice(['', 'not '])}{rng.choice(TESTS)})"
    if r < 0.85:
        return rng.choice(RECEIVERS) + rng.choice(METHODS)
    if r < 0.92:
        return f"({expression(rng, depth + 1)} if {expression(rng, depth + 1)} else {expression(rng, depth + 1)})"
    return f"{rng.choice(['xs', 's', 'word', 'msgs', 'empty'])}[{rng.choice(SLICES)}]"


def expression_template(rng):
    e = expression(rng)
    r = rng.random()
    if r < 0.7:
        return "{{ " + e + " }}"
    if r < 0.85:
        return "{% for x in " + e + " %}[{{ x }}|{{ loop.index }}]{% else %}E{% endfor %}"
    return "{% if " + e + " %}Y{% else %}N{% endif %}"


TEXTS = ["", " ", "  ", "\n", "\n\n", " \n", "\n  ", "\t", "x", " x ", "\n x\n", "a\n\t  ", "\r\n", "  \n  \n"]


def whitespace_template(rng, depth=0):
    def ws():
        return "".join(rng.choice(TEXTS) for _ in range(rng.randint(0, 3)))

    def mark():
        return rng.choice(["", "", "-", "+"])

    out = []
    for _ in range(rng.randint(1, 4)):
        r = rng.random()
        out.append(ws())
        if r < 0.25 or depth > 2:
            m = rng.choice(["", "", "-"])
            out.append("{{" + m + " " + rng.choice(["n", "'v'", "loop.index if loop is defined else 0", "x", "d.a"])
                       + " " + rng.choice(["", "", "-"]) + "}}")
        elif r < 0.4:
            out.append("{#" + mark() + " c " + mark() + "#}")
        elif r < 0.6:
            out.append("{%" + mark() + " if " + rng.choice(["t", "not t", "n > 3", "x"]) + " " + mark() + "%}"
                       + whitespace_template(rng, depth + 1))
            if rng.random() < 0.5:
                out.append("{%" + mark() + " else " + mark() + "%}" + whitespace_template(rng, depth + 1))
            out.append("{%" + mark() + " endif " + mark() + "%}")
        elif r < 0.8:
            out.append("{%" + mark() + " for x in " + rng.choice(["xs", "empty", "[1]"]) + " " + mark() + "%}"
                       + whitespace_template(rng, depth + 1) + "{%" + mark() + " endfor " + mark() + "%}")
        else:
            out.append("{%" + mark() + " set y = n " + mark() + "%}")
        out.append(ws())
    return "".join(out)


SPECS = ["%s", "%r", "%d", "%i", "%f", "%.2f", "%5d", "%-5s|", "%05d", "%+d", "% d", "%x", "%X", "%#x", "%o", "%#o",
         "%e", "%.3e", "%g", "%G", "%10.4f", "%-8.2f|", "%c", "%.1s", "%08.3f", "%+.1e", "%5s", "%u", "%#X", "%.0f", "%3c"]
NUMBERS = ["1", "-42", "3.14159", "-0.5", "255", "65", "true", "2.5e-7", "-7", "0"]
ANY = NUMBERS + ["'x'", "'héllo'", "none", "[1, 2]", "d", "(1, 2)"]


def percent_template(rng):
    parts, values = [], []
    for _ in range(rng.randint(1, 3)):
        spec = rng.choice(SPECS)
        parts.append(spec + rng.choice(["", " ", "|"]))
        values.append(rng.choice(ANY if spec[-1] in "sr" else NUMBERS))
    return "{{ " + repr("".join(parts)) + " % (" + ", ".join(values) + ",) }}"


def main():
    cases = []
    for kind, make, count, seed in [("expr", expression_template, 1500, 1), ("ws", whitespace_template, 400, 2),
                                    ("pct", percent_template, 400, 3)]:
        rng = random.Random(seed)
        for i in range(count):
            template = make(rng)
            case = {"name": f"{kind}{i}", "template": template}
            try:
                case["text"] = _compile_jinja_template(template).render(
                    **CONTEXT, strftime_now=jinja2.Undefined(name="strftime_now"))
            except Exception as e:   # what Jinja2 raises is part of the expectation
                case["error"] = f"{type(e).__name__}: {e}"
            cases.append(case)
    with open(OUT, "w") as h:
        json.dump({"jinja2": jinja2.__version__, "context": CONTEXT, "cases": cases}, h, ensure_ascii=False, indent=0)
    print(f"{len(cases)} cases ({sum('error' in c for c in cases)} errors) -> {os.path.normpath(OUT)}")


if __name__ == "__main__":
    main()
