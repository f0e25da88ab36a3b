#!/usr/bin/env python3
"""Small Jinja templates rendered by transformers' own chat-template
environment (ImmutableSandboxedEnvironment with trim_blocks, lstrip_blocks,
loop controls, its tojson / raise_exception / namespace / dict), so Simply's
Swift interpreter (Sources/SimplyData/Chat) can be checked against Jinja2
itself, one language feature at a time, without Python at test time.

    /tmp/venv/bin/python tools/interop/jinja_cases.py [OUT]   # default: golden/hf/jinja-cases.json

Each case is {"name", "template", "context", "text"} or, when Jinja2 raises,
{"name", "template", "context", "error"} with the exception's class and text
(`TemplateError: boom`). Every case uses the same CONTEXT unless it gives its
own. strftime_now is undefined, as in Simply without a clock, except in the
"clock-" cases, where it formats the fixed instant stored as "clock" (as
Simply's JinjaClock does). Running it twice gives the same file.
"""
import datetime
import json
import os
import sys

import jinja2
import transformers
from transformers.utils.chat_template_utils import _compile_jinja_template

OUT = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..",
                                                          "golden", "hf", "jinja-cases.json")

CONTEXT = {
    "xs": [3, 1, 2], "d": {"a": 1, "items": 5, "b": {"c": [10, 20]}}, "s": "  Hé llo\t\n", "n": 7, "f": 2.5,
    "empty": [], "t": True, "nothing": None, "word": "naïve café",
    "msgs": [{"role": "system", "content": "S"}, {"role": "user", "content": "U1"},
             {"role": "assistant", "content": "A1", "tool_calls": [{"name": "f"}]}, {"role": "user", "content": "U2"}],
}

# Cases whose name starts with "clock-" get strftime_now formatting this fixed instant (stored as "clock").
CLOCK = (2026, 12, 4, 17, 5, 9)

# (name, template) or (name, template, context-override)
CASES = [
    # Text, whitespace control, trim_blocks and lstrip_blocks.
    ("text", "plain text\nwith lines\n"),
    ("trailing-newline-kept-once", "a\n\n"),
    ("crlf-normalised", "a\r\nb\rc"),
    ("crlf-after-block", "{% if t %}\r\nx{% endif %}\r\n{{ 'a\r\nb' | length }}"),
    ("trim-blocks", "{% if t %}\nyes\n{% endif %}\nafter"),
    ("lstrip-blocks", "line\n    {% if t %}\n    indented\n    {% endif %}\nend"),
    ("lstrip-not-variables", "x\n    {{ n }}\n"),
    ("minus-strips", "a   \n  {{- n -}}  \n  b"),
    ("minus-on-blocks", "a \n {%- if t -%} \n b \n {%- endif -%} \n c"),
    ("plus-keeps", "a\n  {%+ if t %}x{% endif +%}\nb"),
    ("markers-and-minus", "a {{+ 1 }}|{{ 2 -1 }}|{% set x = 3 -%}  {{ x }}|a\n  {#+ c #}\nb|{{ 1 -}}  x"),
    ("comment", "a{# a comment {{ n }} #}b\n  {# own line #}\nc"),
    ("comment-minus", "a  {#- gone -#}  b"),
    ("variable-end-no-trim", "{{ n }}\n{{ n }}"),
    ("braces-in-tag", "{{ {'a': {'b': 1}} }}"),
    ("closers-in-strings", "{{ '}}' ~ \"%}\" }}{% if '%}' %}ok{% endif %}"),
    # Literals and printing.
    ("literals", "{{ 1 }} {{ -2 }} {{ 1.5 }} {{ 1e3 }} {{ 1_000 }} {{ true }} {{ True }} {{ false }} {{ none }} {{ None }}"),
    ("string-escapes", r"""{{ 'a\tb\n\\ \'q\' \x41 \u00e9 \U0001F600 \d' }}|{{ "dq \"x\"" }}"""),
    ("adjacent-strings", "{{ 'a' 'b' \"c\" }}"),
    ("repr-list", "{{ [1, 'a', None, True, 1.5, \"it's\", {'k': [1]}, 'q\"\\'', 'tab\\t', 'é\\x01'] }}"),
    ("tuples", "{{ (1, 2) }} {{ (1,) }} {{ () }} {{ ('a', [1]) + (none,) }} {{ (1, 2) * 2 }} {{ (d.items() | list)[0] }} {{ d | items | list }} {{ (1, 2) == [1, 2] }} {{ (1, 2) == (1, 2) }} {{ (1, 2)[1:] }} {{ 2 in (1, 2) }} {{ (1, 2) | length }} {{ (1, 2) is sequence }} {{ (3, 1) | sort }} {{ (1, 2) | tojson }} {% for a, b in [(1, 2)] %}{{ a }}{{ b }}{% endfor %}"),
    ("repr-dict", "{{ d }}|{{ {} }}|{{ [] }}"),
    ("floats", "{{ 1e15 }} {{ 1e16 }} {{ 0.1 + 0.2 }} {{ 1 / 3 }} {{ 0.0001 }} {{ 0.00001 }} {{ -0.0 }} {{ 2.0 * 3 }} {{ 1e300 * 1e10 }}"),
    ("undefined-prints-empty", "[{{ missing }}][{{ d.missing }}][{{ xs[10] }}][{{ 'abc'[7] }}][{{ nothing.x }}]"),
    # Operators.
    ("arithmetic", "{{ 7 + 2 }} {{ 7 - 2 }} {{ 7 * 2 }} {{ 7 / 2 }} {{ 7 // 2 }} {{ -7 // 2 }} {{ 7 % 3 }} {{ -7 % 3 }} {{ 2 ** 10 }} {{ 2 ** -1 }} {{ 7.5 // 2 }} {{ -7.5 % 2 }}"),
    ("bool-arithmetic", "{{ true + 1 }} {{ true * 2.5 }} {{ -true }}"),
    ("precedence", "{{ 1 + 2 * 3 }} {{ (1 + 2) * 3 }} {{ 2 ** 3 ** 2 }} {{ -2 ** 2 }} {{ (1 + 2) ~ 3 }} {{ 'a' ~ 1 + 2 }}"),
    ("concat", "{{ 'a' ~ 1 ~ none ~ true ~ missing ~ [1] }}"),
    ("string-repeat", "{{ 'ab' * 3 }}{{ 2 * 'c' }}{{ [1, 2] * 2 }}{{ 'x' * 0 }}{{ 'x' * -1 }}"),
    ("percent-format", "{{ '%s|%r|%d|%5.2f|%-4s|%04d|%x|%#o|%e|%g|%c|%%' % ('é', 'q', 3.9, 2.345, 'ab', -7, 255, 8, 12345.678, 0.0001, 65) }} {{ 'n=%(n)d s=%(s)r' % {'n': 7, 's': 'x'} }} {{ 'one %s' % [1, 2] }} {{ 'plain' % xs }}"),
    ("error-percent-extra", "{{ 'no specs' % 5 }}"),
    ("error-percent-missing", "{{ '%s %s' % (1,) }}"),
    ("list-concat", "{{ xs + [4] }}{{ 'a' + 'b' }}"),
    ("comparisons", "{{ 1 == 1.0 }} {{ true == 1 }} {{ 'a' < 'b' }} {{ 'B' < 'a' }} {{ [1, 2] < [1, 3] }} {{ 1 < 2 < 3 }} {{ 3 > 2 > 2 }} {{ none == none }} {{ missing == missing }} {{ d == {'b': {'c': [10, 20]}, 'items': 5, 'a': 1} }}"),
    ("logic", "{{ 1 and 2 }} {{ 0 and 2 }} {{ 0 or 'x' }} {{ '' or [] }} {{ not 0 }} {{ not xs }} {{ not missing }} {{ t and n or f }}"),
    ("membership", "{{ 'b' in 'abc' }} {{ '' in 'abc' }} {{ 2 in xs }} {{ 'a' in d }} {{ 'z' not in d }} {{ 1 in missing }} {{ not 'x' in 'y' }}"),
    ("conditional-expr", "{{ 'y' if t else 'n' }} {{ 'y' if nothing else 'n' }} [{{ 'y' if 0 }}] {{ 1 if 0 else 2 if 0 else 3 }}"),
    ("filter-binds-tighter", "{{ 'a ' + ' b ' | trim + ' c' }}|{{ -3 | abs }}|{{ ('x' ~ n) | length }}"),
    # Attribute and item access.
    ("attribute-item", "{{ d.a }} {{ d['a'] }} {{ d.b.c[1] }} {{ d['b']['c'][-1] }} {{ msgs[1].role }} {{ xs.1 }}"),
    ("dict-method-vs-key", "{{ d['items'] }} {{ (d.items() | list)[0][0] }} {{ d.get('a') }} {{ d.get('zz') }} {{ d.get('zz', 9) }}"),
    ("slices", "{{ xs[1:] }} {{ xs[:-1] }} {{ xs[::-1] }} {{ xs[::2] }} {{ 'héllo'[1:3] }} {{ 'abc'[::-1] }} {{ xs[5:] }} {{ xs[-10:2] }} {{ 'abcdef'[4:1:-1] }}"),
    ("string-index", "{{ 'héllo'[1] }}{{ 'abc'[-1] }}"),
    # Statements.
    ("if-elif-else", "{% for x in [0, 1, 2] %}{% if x == 0 %}zero{% elif x == 1 %}one{% else %}many{% endif %},{% endfor %}"),
    ("for-loop-vars", "{% for x in xs %}{{ loop.index }}{{ loop.index0 }}{{ loop.revindex }}{{ loop.revindex0 }}{{ loop.first }}{{ loop.last }}{{ loop.length }}[{{ loop.previtem }}|{{ loop.nextitem }}];{% endfor %}"),
    ("for-else", "{% for x in empty %}x{% else %}none{% endfor %}|{% for x in xs if x > 5 %}x{% else %}filtered{% endfor %}"),
    ("for-filter-counts", "{% for m in msgs if m.role == 'user' %}{{ loop.index }}/{{ loop.length }}:{{ m.content }} {% endfor %}"),
    ("for-unpack", "{% for k, v in d.items() %}{{ k }}={{ v }};{% endfor %}{% for k in d %}{{ k }},{% endfor %}"),
    ("for-string-and-undefined", "{% for c in 'hé' %}[{{ c }}]{% endfor %}{% for x in missing %}never{% endfor %}"),
    ("loop-cycle", "{% for x in xs %}{{ loop.cycle('odd', 'even') }},{% endfor %}"),
    ("break-continue", "{% for x in range(10) %}{% if x == 2 %}{% continue %}{% endif %}{% if x == 5 %}{% break %}{% endif %}{{ x }}{% endfor %}"),
    ("nested-loops", "{% for a in [1, 2] %}{% for b in 'xy' %}{{ a }}{{ b }}{{ loop.index }}/{% endfor %}{{ loop.index }};{% endfor %}"),
    ("loop-scope", "{% set x = 0 %}{% for i in range(3) %}{{ x }}{% set x = x + 1 %}{{ x }},{% endfor %}{{ x }}"),
    ("namespace", "{% set ns = namespace(count=0, last=none) %}{% for m in msgs %}{% set ns.count = ns.count + 1 %}{% set ns.last = m.role %}{% endfor %}{{ ns.count }} {{ ns.last }} {{ ns.missing is defined }}"),
    ("namespace-empty", "{% set ns = namespace() %}{% set ns.index = 0 %}{% set ns.index = ns.index + 1 %}{{ ns.index }}"),
    ("set-top-level", "{% set messages = msgs[1:] %}{{ messages | length }}{% set a, b = [1, 2] %}{{ a }}{{ b }}"),
    ("set-in-if-visible", "{% if t %}{% set y = 'in' %}{% endif %}{{ y }}"),
    ("set-block", "{% set block %}B{{ n }}\n{% endset %}[{{ block }}]"),
    ("macro", "{% macro greet(name, punct='!') %}Hi {{ name }}{{ punct }}{% endmacro %}{{ greet('a') }} {{ greet('b', '?') }} {{ greet(name='c', punct='.') }}"),
    ("macro-recursive", "{%- macro py_type(spec) %}\n{%- set basic = {'string': 'str', 'integer': 'int'} %}\n{%- if basic[spec.type] is defined %}{{- basic[spec.type] }}\n{%- elif spec.type == 'array' %}{{- 'list[' + py_type(spec['items']) + ']' }}\n{%- elif spec.type is iterable and spec.type is not string %}{{- 'Union[' }}{%- for t in spec.type %}{{- py_type({'type': t}) }}{%- if not loop.last %},{% endif %}{%- endfor %}]\n{%- else %}Any{%- endif %}\n{%- endmacro %}\n{{ py_type({'type': 'array', 'items': {'type': ['string', 'integer', 'null']}}) }} {{ py_type({'type': [['x']]}) }}"),
    ("macro-sees-top-level", "{% set greeting = 'Hi' %}{% macro m(x, y=greeting ~ '!') %}{{ y }} {{ x }} {{ n }}{% endmacro %}{{ m('a') }}|{% for i in [1] %}{{ m(i) }}{% endfor %}"),
    ("generation-block", "{% for m in msgs %}{% if m.role == 'assistant' %}{% generation %}{{ m.content }}{% endgeneration %}{% endif %}{% endfor %}"),
    # Tests.
    ("tests-types", "{{ n is number }}{{ f is number }}{{ t is number }}{{ n is integer }}{{ t is integer }}{{ f is float }}{{ t is boolean }}{{ s is string }}{{ d is mapping }}{{ xs is mapping }}{{ xs is sequence }}{{ s is iterable }}{{ n is iterable }}{{ missing is iterable }}"),
    ("tests-values", "{{ nothing is none }}{{ missing is none }}{{ t is true }}{{ 1 is true }}{{ false is false }}{{ 0 is false }}{{ missing is defined }}{{ missing is undefined }}{{ d.a is defined }}{{ d.zz is undefined }}"),
    ("tests-args", "{{ n is divisibleby 7 }}{{ n is divisibleby(2) }}{{ n is odd }}{{ n is even }}{{ 'a' is equalto 'a' }}{{ 2 is eq(2.0) }}{{ 2 is ne 3 }}{{ 'a' is in 'abc' }}{{ 'abc' is lower }}{{ 'ABC' is upper }}{{ nothing is sameas none }}"),
    ("tests-any-value", "{{ 7 is lower }}{{ t is upper }}{{ 'aB' is lower }}{{ 'ǅ' is upper }}{{ missing is upper }}{{ 2.5 is odd }}{{ 4.0 is even }}{{ 7.5 is divisibleby 2.5 }}"),
    ("is-not", "{{ nothing is not none }}{{ missing is not defined }}{{ not missing is defined }}"),
    ("globals-defined", "{{ raise_exception is defined }}{{ namespace is defined }}{{ range is defined }}{{ dict is defined }}"),
    # Filters.
    ("trim-length", "[{{ s | trim }}][{{ s | length }}][{{ xs | count }}][{{ d | length }}][{{ missing | length }}][{{ 'xxhixx' | trim('x') }}]"),
    ("case-filters", "{{ word | upper }} {{ 'MiXed' | lower }} {{ 'hello wORLD-foo(bar) [baz]' | title }} {{ 'hello WORLD' | capitalize }} {{ 'ß' | upper }}"),
    ("tojson", "{{ xs | tojson }}|{{ d | tojson }}|{{ 'é\"<>&\\n\\u0001' | tojson }}|{{ [1.5, 2.0, none, true] | tojson }}|{{ {} | tojson }}|{{ [] | tojson(indent=2) }}"),
    ("tojson-indent", "{{ d | tojson(indent=4) }}\n{{ {'a': [1, {'b': []}]} | tojson(indent=2) }}"),
    ("tojson-options", "{{ {'b': 1, 'a': 'é'} | tojson(ensure_ascii=true, sort_keys=true) }}{{ [1, 2] | tojson(separators=(',', ':')) }}{{ '😀' | tojson(true) }}"),
    ("first-last-join", "{{ xs | first }} {{ xs | last }} {{ 'abc' | first }} [{{ empty | first }}] {{ xs | join(', ') }} {{ msgs | join('|', attribute='role') }} {{ 'abc' | join('-') }}"),
    ("default", "{{ missing | default('dflt') }} {{ nothing | default('dflt') }} {{ '' | default('dflt', true) }} {{ missing | d('x') }} {{ n | default(0) }}"),
    ("list-string", "{{ 'abc' | list }} {{ d | list }} {{ xs | string }} {{ n | string ~ '!' }} {{ missing | list }}"),
    ("int-float", "{{ '42' | int }} {{ ' 7 ' | int }} {{ '4.7' | int }} {{ 'x' | int }} {{ 'x' | int(5) }} {{ 3.9 | int }} {{ '2.5' | float }} {{ 3 | float }} {{ 'no' | float }}"),
    ("indent", "[{{ 'a\nb\n\nc' | indent }}][{{ 'a\nb' | indent(2, true) }}][{{ 'a\n\nb\n' | indent('> ', blank=true) }}][{{ d | tojson(indent=2) | indent(2) }}]"),
    ("round", "{{ 2.675 | round(2) }} {{ 2.5 | round }} {{ 3.5 | round }} {{ -0.5 | round }} {{ 7 | round }} {{ 1.23456 | round(3) }} {{ 2.1 | round(0, 'ceil') }} {{ 2.9 | round(1, 'floor') }} {{ 1e20 | round(2) }}"),
    ("format-attr-wordcount", "{{ '%s-%d' | format('a', 3) }} {{ '%(x)s!' | format(x='y') }} [{{ d | attr('a') }}] {{ (d | attr('items'))() | length }} {{ 'hello big_world, 42 é' | wordcount }}"),
    ("dictsort", "{{ {'b': 1, 'A': 3, 'c': 2} | dictsort }} {{ {'b': 1, 'A': 3, 'c': 2} | dictsort(true) }} {{ {'b': 1, 'A': 3, 'c': 2} | dictsort(by='value', reverse=true) }}"),
    ("replace", "{{ 'aaa' | replace('a', 'b') }} {{ 'aaa' | replace('a', 'b', 2) }} {{ 'abc'.replace('b', '') }} {{ 'ab'.replace('', '-') }}"),
    ("items", "{% for k, v in d | items %}{{ k }};{% endfor %}{{ missing | items | list }}"),
    ("selectattr", "{{ msgs | selectattr('role', 'equalto', 'user') | map(attribute='content') | list }} {{ msgs | rejectattr('role', 'equalto', 'user') | map(attribute='role') | join(',') }} {{ msgs | selectattr('tool_calls', 'defined') | list | length }} {{ msgs | selectattr('tool_calls', 'undefined') | list | length }} {{ msgs | selectattr('tool_calls') | list | length }}"),
    ("map-filter", "{{ xs | map('string') | join('-') }} {{ ['a', 'B'] | map('upper') | list }} {{ msgs | map(attribute='missing', default='?') | join }}"),
    ("falsy-map-select", "{{ false | map(attribute='x') | list }}{{ none | select | list }}{{ 0 | selectattr('a') | list }}{{ msgs[0] | map(attribute='role') | list }}"),
    ("select-reject", "{{ [0, 1, 2, 3] | select('odd') | list }} {{ [0, 1, '', 'x'] | select | list }} {{ [1, 2, 3] | reject('even') | list }}"),
    ("reverse-unique-sort", "{{ xs | reverse | list }} {{ 'abc' | reverse }} {{ ['a', 'A', 'b', 'a'] | unique | list }} {{ xs | sort | list }} {{ xs | sort(reverse=true) | list }} {{ ['b', 'A', 'c'] | sort | list }} {{ msgs | sort(attribute='role') | map(attribute='content') | join(',') }}"),
    ("sum-min-max-abs", "{{ xs | sum }} {{ xs | min }} {{ xs | max }} {{ -2.5 | abs }} {{ 'NoneFalse' | min }} {{ ['b', 'A'] | max }} {{ msgs | max(attribute='content') }}"),
    # Methods.
    ("string-methods", "[{{ s.strip() }}][{{ s.lstrip() }}][{{ s.rstrip() }}][{{ 'xxaxx'.strip('x') }}][{{ '--a--'.lstrip('-') }}][{{ '\\n\\nx\\n'.rstrip('\\n') }}]"),
    ("split", "{{ s.split() }} {{ 'a,b,,c'.split(',') }} {{ 'a b c'.split(' ', 1) }} {{ '  a  b '.split(None, 1) }} {{ 'x</think>y</think>z'.split('</think>')[-1] }}"),
    ("starts-ends", "{{ 'hello'.startswith('he') }} {{ 'hello'.endswith('lo') }} {{ 'hello'.startswith(('x', 'h')) }} {{ ''.startswith('') }} {{ 'a'.endswith('ab') }}"),
    ("more-string-methods", "{{ 'hello world'.title() }} {{ 'hELLO'.capitalize() }} {{ 'ab'.upper() }}{{ 'AB'.lower() }} {{ 'banana'.find('an') }} {{ 'banana'.count('an') }} {{ '-'.join(['a', 'b']) }} {{ '12'.isdigit() }}"),
    ("dict-methods", "{{ d.keys() | list }} {{ d.values() | list | length }} {% for k, v in d.items() if k != 'b' %}{{ k }}:{{ v }} {% endfor %}"),
    ("list-methods", "{{ xs.index(1) }} {{ [1, 1, 2].count(1) }}"),
    ("range", "{{ range(3) | list }} {{ range(1, 10, 3) | list }} {{ range(5, 0, -2) | list }} {{ range(0) | list }}"),
    ("dict-global", "{{ dict(a=1, b='x') }} {{ dict({'k': 1}, z=2) }}"),
    # strftime_now, with a fixed instant instead of the clock (glibc formats, C locale).
    ("clock-formats", "{{ strftime_now('%d %b %Y|%Y-%m-%d|%A %a %B|%H:%M:%S %I%p|%j %y|%-d %-m|%e|%F %T|%%|%Q') }}"),
    ("clock-llama-fallback", "{%- if not date_string is defined %}{%- if strftime_now is defined %}{%- set date_string = strftime_now('%d %b %Y') %}{%- else %}{%- set date_string = '26 Jul 2024' %}{%- endif %}{%- endif %}Today Date: {{ date_string }}"),
    ("no-clock", "{{ strftime_now is defined }}"),
    # Errors (Jinja2 raises; Simply must refuse too).
    ("error-raise-exception", "a{{ raise_exception('boom: ' ~ n) }}b"),
    ("error-undefined-attribute", "{{ missing.attr }}"),
    ("error-undefined-nested", "{{ d.zz.attr }}"),
    ("error-missing-element", "{{ empty[0].role }}"),
    ("error-none-attribute", "{{ nothing.a.b }}"),
    ("error-missing-key-subscript", "{{ d['zz']['y'] }}"),
    ("error-undefined-call", "{{ missing() }}"),
    ("error-undefined-arithmetic", "{{ missing + 1 }}"),
    ("error-str-plus-int", "{{ 'a' + 1 }}"),
    ("error-concat-binds-tighter", "{{ 1 + 2 ~ 3 }}"),
    ("error-compare-types", "{{ 'a' < 1 }}"),
    ("error-division-by-zero", "{{ 1 / 0 }}"),
    ("error-mutating-method", "{{ xs.append(4) }}"),
    ("error-range-too-big", "{{ range(200000) | length }}"),
    ("error-none-iter", "{% for x in nothing %}{% endfor %}"),
    ("error-tojson-undefined", "{{ missing | tojson }}"),
    ("error-int-undefined", "{{ missing | int }}"),
    ("error-unhashable", "{{ [1] in d }}"),
    ("error-namespace-underscore", "{% set ns = namespace() %}{% set ns._x = 1 %}"),
]


def main():
    def env_render(template, ctx, clock):
        compiled = _compile_jinja_template(template)
        if clock is None:   # Simply has no clock unless given one: neither has the reference
            return compiled.render(**ctx, strftime_now=jinja2.Undefined(name="strftime_now"))
        return compiled.render(**ctx, strftime_now=lambda fmt: datetime.datetime(*clock).strftime(fmt))
    out = []
    for case in CASES:
        name, template = case[0], case[1]
        ctx = case[2] if len(case) > 2 else CONTEXT
        clock = CLOCK if name.startswith("clock-") else None
        entry = {"name": name, "template": template}
        if len(case) > 2:
            entry["context"] = ctx
        if clock:
            entry["clock"] = list(clock)
        try:
            entry["text"] = env_render(template, ctx, clock)
        except Exception as e:   # what Jinja2 raises is part of the expectation
            entry["error"] = f"{type(e).__name__}: {e}"
        out.append(entry)
    os.makedirs(os.path.dirname(os.path.abspath(OUT)), exist_ok=True)
    with open(OUT, "w") as h:
        json.dump({"jinja2": jinja2.__version__, "transformers": transformers.__version__, "context": CONTEXT,
                   "cases": out}, h, ensure_ascii=False, indent=1)
    print(f"{len(out)} cases ({sum('error' in c for c in out)} errors) -> {os.path.normpath(OUT)}")


if __name__ == "__main__":
    main()
