"""A yes/no JSON Schema check compiled by ``jsonschema-rs``, in front of ``jsonschema``.

``jsonschema`` gives exact, well-explained errors but costs about a millisecond per product,
and the worker validates every product of a 10,000-product commit. Almost all are valid, so
``compile_check(schema)`` compiles the schema once with ``jsonschema-rs`` (a Rust validator,
~13 µs per product, docs/benchmarks.md "Native libraries vs our fast paths") and validation
asks it first; ``jsonschema`` runs (for the errors) only when it says no. The contract is
exactness: the check says valid exactly when ``jsonschema`` with GitStore's semantics
(``schemas.SpecValidator``) does. ``tests/domain/test_schemacheck.py`` compares both on
thousands of mutated manifests and on keyword and pattern corner cases.

The two engines differ only in regular expressions, so the schema handed to ``jsonschema-rs``
is a copy whose patterns are rewritten to mean what they mean to ``jsonschema`` here:

* ``pattern`` (ECMA-262 as ``schemas.ecma_regex`` reads it: ``\\d``, ``\\w``, ``\\s`` ASCII,
  a final ``$`` the very end): ``\\s``/``\\S`` become explicit ASCII classes (the Rust engine
  follows ECMA-262, whose ``\\s`` is Unicode whitespace), ``.`` becomes ``[^\\n]`` (ECMA's
  ``.`` also refuses ``\\r`` and the Unicode line separators);
* ``patternProperties`` keys (plain Python ``re``, as ``jsonschema`` searches them): ``.``
  as above and a final ``$`` may precede one last newline; Unicode classes are refused.

Anything whose meaning could differ is refused rather than guessed: a schema using a keyword
in ``UNSUPPORTED``, a non-local ``$ref``, a nested ``$id``, or a pattern with inline flags,
``\\b``, backreferences, ``\\A``/``\\Z``, a ``$`` before the end, nested classes or set
operators gets no check (None) and is validated by ``jsonschema`` alone. So does a value the
Rust side cannot take (a lone surrogate, a non-string key): the check then says no and
``jsonschema`` decides.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import jsonschema_rs

Check = Callable[[Any], bool]

UNSUPPORTED = frozenset(
    {
        "$dynamicRef",
        "$dynamicAnchor",
        "$recursiveRef",
        "$anchor",
        "$vocabulary",
        "contains",
        "minContains",
        "maxContains",
        "prefixItems",
        "unevaluatedItems",
        "unevaluatedProperties",
        "dependentSchemas",
        "multipleOf",
    }
)
# keywords whose results both engines are compared on (tests/domain/test_schemacheck.py)
SUPPORTED = frozenset(
    {
        "$ref",
        "type",
        "enum",
        "const",
        "properties",
        "required",
        "additionalProperties",
        "patternProperties",
        "propertyNames",
        "dependentRequired",
        "minProperties",
        "maxProperties",
        "items",
        "minItems",
        "maxItems",
        "uniqueItems",
        "minLength",
        "maxLength",
        "pattern",
        "minimum",
        "maximum",
        "exclusiveMinimum",
        "exclusiveMaximum",
        "allOf",
        "anyOf",
        "oneOf",
        "not",
        "if",
        "then",
        "else",
        "format",  # an annotation: GitStore does not assert formats
    }
)

_ONE_SCHEMA = frozenset(
    {"items", "additionalProperties", "propertyNames", "not", "if", "then", "else"}
)
_SCHEMA_MAPS = frozenset({"properties", "$defs", "definitions"})
_SCHEMA_LISTS = frozenset({"allOf", "anyOf", "oneOf"})
_TYPES = frozenset({"string", "integer", "number", "object", "array", "boolean", "null"})
_ASCII_SPACE = "\\t\\n\\x0b\\x0c\\r "
_LOOKAROUND = ("(?:", "(?=", "(?!", "(?<=", "(?<!", "(?P<")
# the exceptions jsonschema-rs raises for Python values it cannot take
_UNCONVERTIBLE = (ValueError, TypeError, OverflowError, UnicodeError, RecursionError)


class _Unsupported(Exception):
    """The schema or a pattern may mean something else to the Rust engine."""


def compile_check(schema: Any) -> Check | None:
    """A yes/no check for ``schema``, or None when it is ``jsonschema``'s alone to decide."""
    if not isinstance(schema, Mapping | bool):
        return None
    try:
        prepared = _prepare(schema, schema, True)
        is_valid = jsonschema_rs.Draft202012Validator(prepared, validate_formats=False).is_valid
    except (_Unsupported, *_UNCONVERTIBLE, jsonschema_rs.ValidationError):
        return None

    def check(value: Any) -> bool:
        try:
            return bool(is_valid(value))
        except _UNCONVERTIBLE:
            return False  # jsonschema decides

    return check


def _prepare(node: Any, root: Any, is_root: bool = False) -> Any:
    """A copy of a (sub)schema with its patterns rewritten for the Rust engine."""
    if isinstance(node, bool):
        return node
    if not isinstance(node, Mapping):
        raise _Unsupported
    if any(k in UNSUPPORTED for k in node) or ("$id" in node and not is_root):
        raise _Unsupported
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key in _ONE_SCHEMA:
            out[key] = _prepare(value, root)
        elif key in _SCHEMA_LISTS and isinstance(value, list):
            out[key] = [_prepare(v, root) for v in value]
        elif key in _SCHEMA_MAPS and isinstance(value, Mapping):
            out[key] = {k: _prepare(v, root) for k, v in value.items()}
        elif key == "patternProperties" and isinstance(value, Mapping):
            out[key] = {_rust_pattern(k, python=True): _prepare(v, root) for k, v in value.items()}
        elif key == "pattern" and isinstance(value, str):
            out[key] = _rust_pattern(value, python=False)
        elif key == "$ref":
            if not isinstance(value, str) or not (
                value == "#" or value.startswith(("#/$defs/", "#/definitions/"))
            ):
                raise _Unsupported
            out[key] = value
        elif key == "type":
            names = [value] if isinstance(value, str) else value
            if not isinstance(names, list) or any(n not in _TYPES for n in names):
                raise _Unsupported
            out[key] = value
        else:
            out[key] = value
    return out


def _rust_pattern(pattern: str, *, python: bool) -> str:
    """``pattern`` rewritten so the Rust engine matches exactly what GitStore's Python reading
    matches: ECMA-style (``schemas.ecma_regex``), or plain ``re`` when ``python``."""
    if pattern.endswith("\\$"):
        raise _Unsupported  # an escaped dollar or an escaped backslash before the end: unclear
    out: list[str] = []
    i, n = 0, len(pattern)
    in_class = False
    while i < n:
        c = pattern[i]
        if c == "\\":
            i = _escape(pattern, i, in_class, python, out)
            continue
        if in_class:
            if c == "[" or pattern.startswith(("&&", "--", "~~"), i):
                raise _Unsupported  # nested classes and set operators mean other things
            if c == "]":
                in_class = False
            out.append(c)
        elif c == "[":
            start = i + 2 if pattern.startswith("[^", i) else i + 1
            if pattern.startswith("]", start):
                raise _Unsupported  # a leading "]" is a literal in Python, an empty class in ECMA
            in_class = True
            out.append(pattern[i:start])
            i = start
            continue
        elif c == ".":
            out.append("[^\\n]")
        elif c == "$":
            if i != n - 1:
                raise _Unsupported
            out.append("\\n?$" if python else "$")
        elif c == "(" and pattern.startswith("(?", i):
            if not pattern.startswith(_LOOKAROUND, i):
                raise _Unsupported  # inline flags, comments, conditionals
            out.append(c)
        elif c == "{" and pattern.startswith("{,", i):
            raise _Unsupported
        else:
            out.append(c)
        i += 1
    if in_class:
        raise _Unsupported
    return "".join(out)


def _escape(pattern: str, i: int, in_class: bool, python: bool, out: list[str]) -> int:
    """Translate the escape at ``pattern[i]`` into ``out``; the index after it."""
    if i + 1 >= len(pattern):
        raise _Unsupported
    e = pattern[i + 1]
    if e in "sS":
        if python or (e == "S" and in_class):
            raise _Unsupported
        out.append(
            _ASCII_SPACE if in_class else f"[^{_ASCII_SPACE}]" if e == "S" else f"[{_ASCII_SPACE}]"
        )
    elif e in "dDwW":
        if python:
            raise _Unsupported  # Unicode classes in Python's re, ASCII in the Rust engine
        out.append("\\" + e)
    elif e in "ntrfv":
        out.append("\\" + e)
    elif e == "x" and _hex(pattern, i + 2, 2):
        out.append(pattern[i : i + 4])
        return i + 4
    elif e == "u" and _hex(pattern, i + 2, 4):
        out.append(f"\\x{{{pattern[i + 2 : i + 6]}}}")
        return i + 6
    elif not e.isalnum() and e.isascii() and e not in "\n\r":
        out.append(f"\\x{{{ord(e):02x}}}")  # an escaped punctuation character: the literal
    else:
        raise _Unsupported  # \b, \A, \Z, backreferences, \p, ...
    return i + 2


def _hex(pattern: str, start: int, count: int) -> bool:
    digits = pattern[start : start + count]
    return len(digits) == count and all(d in "0123456789abcdefABCDEF" for d in digits)
