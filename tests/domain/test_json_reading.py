"""JSON manifests: the quick checks give exactly the errors of a full walk of the tree.

``formats._load_json`` finds duplicate keys with one ``dict()`` per object and walks the
parsed tree (depth, non-finite numbers) only when a number overflowed or the text has more
opening brackets than the depth limit. ``reference`` is the plain version (a per-key loop,
always walking); both must give the same data or the same error on every input.
"""

from __future__ import annotations

import json
import math
import random
from typing import Any

import pytest

from gitstore.domain.content.errors import DUPLICATE_KEY, INVALID_VALUE, JSON_SYNTAX, TOO_DEEP
from gitstore.domain.content.formats import _load_json
from gitstore.domain.content.yamlio import MAX_DEPTH, YamlProblem


def reference(text: str) -> Any:
    def pairs(items: list[tuple[str, Any]]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key, value in items:
            if key in out:
                raise YamlProblem(
                    DUPLICATE_KEY,
                    f"duplicate key {key!r} (each key may appear only once in an object)",
                )
            out[key] = value
        return out

    def constant(name: str) -> Any:
        raise YamlProblem(INVALID_VALUE, f"{name} is not a valid JSON number")

    try:
        obj = json.loads(text, object_pairs_hook=pairs, parse_constant=constant)
    except json.JSONDecodeError as err:
        raise YamlProblem(JSON_SYNTAX, f"invalid JSON: {err.msg}", err.lineno, err.colno) from None
    except RecursionError:
        raise YamlProblem(TOO_DEEP, f"nesting is deeper than {MAX_DEPTH} levels") from None
    walk(obj, 0)
    return obj


def walk(value: Any, depth: int) -> None:
    if depth > MAX_DEPTH:
        raise YamlProblem(TOO_DEEP, f"nesting is deeper than {MAX_DEPTH} levels")
    if isinstance(value, float) and not math.isfinite(value):
        raise YamlProblem(INVALID_VALUE, "numbers must be finite (a number overflowed)")
    for item in (
        value.values() if isinstance(value, dict) else value if isinstance(value, list) else ()
    ):
        walk(item, depth + 1)


def outcome(load: Any, text: str) -> Any:
    try:
        return ("ok", repr(load(text)))
    except YamlProblem as problem:
        return ("error", problem.rule, problem.message, problem.line, problem.column)


def nested(depth: int, inner: str = "1") -> str:
    return "[" * depth + inner + "]" * depth


CASES = [
    '{"a": 1}',
    '{"a": 1, "a": 2}',
    '{"a": {"b": 1, "b": 2}, "a": 3}',
    '{"a": 1, "b": 2, "c": 3, "b": 4, "a": 5}',
    '{"a": NaN}',
    '{"a": Infinity}',
    '{"a": -Infinity}',
    '{"a": 1e999}',
    '{"a": -1e999, "b": [1.5, 2e308]}',
    '{"a": 1.5, "b": 0.1, "c": -0.0, "d": 1E+2}',
    '{"a": "[[[[[[[[", "b": "{{{{{{{{"}',
    '{"a": ' + nested(MAX_DEPTH - 1) + "}",
    '{"a": ' + nested(MAX_DEPTH) + "}",
    '{"a": ' + nested(MAX_DEPTH + 5) + "}",
    '{"a": ' + nested(MAX_DEPTH + 5, "1e999") + "}",
    '{"x": 1e999, "a": ' + nested(MAX_DEPTH + 5) + "}",
    '{"a": ' + nested(MAX_DEPTH + 5) + ', "x": 1e999}',
    '{"a": ' + nested(3000) + "}",
    '{"a": 1,}',
    "[1, 2]",
    '"text"',
    "",
]


@pytest.mark.parametrize("text", CASES)
def test_same_outcome_as_the_full_walk(text: str) -> None:
    assert outcome(_load_json, text) == outcome(reference, text)


def test_generated_documents() -> None:
    rng = random.Random(3)

    def value(depth: int) -> str:
        roll = rng.random()
        if depth > 70 or roll < 0.3:
            return rng.choice(['"s"', '"[{"', "1", "1.5", "1e999", "-0.0", "true", "null"])
        if roll < 0.55:
            return "[" + ", ".join(value(depth + 1) for _ in range(rng.randint(0, 2))) + "]"
        keys = [rng.choice("abcd") for _ in range(rng.randint(0, 3))]
        return "{" + ", ".join(f'"{k}": {value(depth + 1)}' for k in keys) + "}"

    for _ in range(3000):
        text = value(0)
        assert outcome(_load_json, text) == outcome(reference, text), text
