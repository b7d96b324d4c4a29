"""Renders the template corpus with Jinja2 as batou configures it (the oracle of tests/template_jinja2_test.ts).

Reads {"context": {...}, "cases": [{"template": ..., "context": {...}?}, ...]} as JSON on stdin and writes one
result per case, {"out": text} or {"error": "Type: message"}, as a JSON list on stdout.

JSON numbers with an integral value are read as ints: a TypeScript context cannot tell 2.0 from 2.
"""
import json
import sys

import jinja2


def number(text):
    value = float(text)
    return int(value) if value.is_integer() else value


env = jinja2.Environment(
    line_statement_prefix="@@",
    keep_trailing_newline=True,
    undefined=jinja2.StrictUndefined,
)
data = json.load(sys.stdin)
base = json.dumps(data["context"])
results = []
for case in data["cases"]:
    context = json.loads(base, parse_float=number)
    context.update(json.loads(json.dumps(case.get("context", {})), parse_float=number))
    try:
        results.append({"out": env.from_string(case["template"]).render(**context)})
    except Exception as e:  # noqa: BLE001 - every failure is a result to compare
        results.append({"error": f"{type(e).__name__}: {e}"})
json.dump({"jinja2": jinja2.__version__, "results": results}, sys.stdout)
