"""JSON Schema validation compiled by ``jsonschema-rs``, in front of ``jsonschema``.

``jsonschema`` (Python) costs about half a millisecond per product, and the worker validates
every product of a 100,000-product import. ``compile_check(schema)`` compiles the schema once
with ``jsonschema-rs`` (Rust; ~5-10 µs per product, docs/benchmarks.md "Native libraries vs
our fast paths"). Validation asks it first (``check(spec)``: valid or not); for an invalid
spec ``check.errors(spec)`` gives the errors in ``jsonschema``'s shape and order
(``NativeError``), which ``schemas.spec_errors`` words exactly as it words ``jsonschema``'s.
Where the wording needs ``jsonschema``'s own message (``not``, ``minProperties``, a ``false``
schema, anything under ``propertyNames`` or ``patternProperties``: see ``EXPLAINED``),
``errors`` returns None and ``jsonschema`` explains. The contract is exactness: valid exactly
when ``jsonschema`` with GitStore's semantics (``schemas.SpecValidator``) says so, and the
same content errors (field, rule, message, order). ``tests/domain/test_schemacheck.py``
compares both on thousands of mutated manifests and on keyword and pattern corner cases.

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
from dataclasses import dataclass
from typing import Any

import jsonschema_rs

from gitstore.domain.content.schemas import json_pointer

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
# keywords whose errors ``schemas._translate`` explains from the schema and the value alone;
# any other failing keyword (``not``, ``minProperties``, a ``false`` schema, ...) and anything
# under ``propertyNames``/``patternProperties`` goes to ``jsonschema`` for its wording
EXPLAINED = frozenset(
    {
        "type",
        "enum",
        "const",
        "pattern",
        "minLength",
        "maxLength",
        "minimum",
        "maximum",
        "exclusiveMinimum",
        "exclusiveMaximum",
        "minItems",
        "maxItems",
        "required",
        "additionalProperties",
        "dependentRequired",
        "uniqueItems",
        "oneOf",
        "anyOf",
    }
)
# the exceptions jsonschema-rs raises for Python values it cannot take
_UNCONVERTIBLE = (ValueError, TypeError, OverflowError, UnicodeError, RecursionError)


class _Unsupported(Exception):
    """The schema or a pattern may mean something else to the Rust engine."""


@dataclass(frozen=True, slots=True)
class NativeError:
    """A ``jsonschema-rs`` error in the shape ``schemas._translate`` reads from ``jsonschema``'s
    ``ValidationError``: the keyword that failed, where (in the value and in the schema), the
    subschema holding it (from the original schema: messages quote the original patterns)."""

    absolute_path: tuple[str | int, ...]
    validator: str
    validator_value: Any
    schema: Mapping[str, Any]
    instance: Any
    relative_schema_path: tuple[str | int, ...]
    message: str


class CompiledSchema:
    """A schema compiled by ``jsonschema-rs``: ``check(value)`` says valid or not, and
    ``errors(value)`` lists why not, or None when ``jsonschema`` must explain (see
    ``EXPLAINED``)."""

    __slots__ = ("_is_valid", "_iter_errors", "_root")

    def __init__(self, root: Mapping[str, Any] | bool, validator: Any) -> None:
        self._root: Mapping[str, Any] | None = root if isinstance(root, Mapping) else None
        self._is_valid = validator.is_valid
        self._iter_errors = validator.iter_errors

    def __call__(self, value: Any) -> bool:
        try:
            return bool(self._is_valid(value))
        except _UNCONVERTIBLE:
            return False  # jsonschema decides

    def errors(self, value: Any) -> list[NativeError] | None:
        """The errors of ``value``, in the order ``jsonschema`` reports them (schema keywords
        in declaration order, list items and extra keys in the value's order)."""
        root = self._root
        if root is None:  # a boolean schema: jsonschema words it
            return None
        try:
            found = list(self._iter_errors(value))
        except _UNCONVERTIBLE:
            return None
        ranked: list[tuple[list[int], NativeError]] = []
        for error in found:
            where = list(error.schema_path)
            route = list(error.evaluation_path)
            keyword = where[-1] if where else None
            if (
                keyword not in EXPLAINED
                or "patternProperties" in route
                or "propertyNames" in route
                or type(error.kind).__name__ in ("PropertyNames", "FalseSchema")
            ):
                return None
            schema = json_pointer(root, _pointer(where[:-1]))
            rank = _rank(root, route, list(error.instance_path), value)
            if schema is None or keyword not in schema or rank is None:
                return None
            native = NativeError(
                tuple(error.instance_path),
                str(keyword),
                schema[keyword],
                schema,
                error.instance,
                tuple(where),
                str(error.message),
            )
            ranked.append((rank, native))
        ranked.sort(key=lambda pair: pair[0])
        return [native for _, native in ranked]


def _rank(root: Mapping[str, Any], route: list[Any], at: list[Any], value: Any) -> list[int] | None:
    """Where ``jsonschema`` meets an error on ``route``: at each schema step the position
    of the keyword (or property) in its mapping; where it walks the value (``items``,
    ``additionalProperties``), the position of the item or key in the value."""
    node: Any = root
    rank: list[int] = []
    step = depth = 0
    while step < len(route):
        part = route[step]
        if isinstance(node, list):
            if not isinstance(part, int) or part >= len(node):
                return None
            rank.append(part)
            node = node[part]
            step += 1
            continue
        if not isinstance(node, Mapping) or part not in node:
            return None
        rank.append(list(node).index(part))
        child = node[part]
        last = step == len(route) - 1
        if part == "$ref":
            node = json_pointer(root, child)
            step += 1
        elif part == "properties" and not last:
            name = route[step + 1]
            if not isinstance(child, Mapping) or name not in child:
                return None
            rank.append(list(child).index(name))
            node, step, depth = child[name], step + 2, depth + 1
            value = value[name] if isinstance(value, Mapping) and name in value else None
        elif part in ("items", "additionalProperties") and not last and depth < len(at):
            key = at[depth]
            if isinstance(value, list) and isinstance(key, int):
                rank.append(key)
            elif isinstance(value, Mapping) and key in value:
                rank.append(list(value).index(key))
            else:
                return None
            value = value[key]
            node, step, depth = child, step + 1, depth + 1
        else:
            node = child
            step += 1
    return rank


def compile_check(schema: Any) -> CompiledSchema | None:
    """``schema`` compiled for ``jsonschema-rs``, or None when it is ``jsonschema``'s alone."""
    if not isinstance(schema, Mapping | bool):
        return None
    try:
        prepared = _prepare(schema, schema, True)
        validator = jsonschema_rs.Draft202012Validator(prepared, validate_formats=False)
    except (_Unsupported, *_UNCONVERTIBLE, jsonschema_rs.ValidationError):
        return None
    return CompiledSchema(schema, validator)


def _pointer(parts: list[Any]) -> str:
    return "#" + "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in parts)


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
