"""A compiled yes/no JSON Schema check: the fast path in front of ``jsonschema``.

``jsonschema`` gives exact, well-explained errors but costs milliseconds per product, and the
worker validates every product of a 10,000-product commit. Almost all of them are valid, so
``compile_check(schema)`` turns a schema into nested closures that answer only "valid?" in a
few tens of microseconds. Validation asks the closure first and runs ``jsonschema`` (for the
errors) only when it says no. Soundness is the contract: when the closure says valid,
``jsonschema`` (with GitStore's pattern semantics) says valid too; it may be stricter than
needed only at the price of a slow path. ``tests/domain/test_fastcheck.py`` compares both on
thousands of mutated manifests.

Supported: ``type``, ``enum``, ``const``, ``properties``, ``required``,
``additionalProperties``, ``patternProperties``, ``propertyNames``, ``dependentRequired``,
``min/maxProperties``, ``items``, ``min/maxItems``, ``uniqueItems``, ``min/maxLength``,
``pattern``, ``minimum``, ``maximum``, ``exclusiveMinimum``, ``exclusiveMaximum``, ``allOf``,
``anyOf``, ``oneOf``, ``not``, ``if/then/else``, local ``$ref`` (recursion included), boolean
schemas; unknown keywords and annotations are ignored as ``jsonschema`` ignores them. A
schema using anything in ``UNSUPPORTED`` gets no closure (None): it is always validated by
``jsonschema`` alone.
"""

from __future__ import annotations

import numbers
import re
from collections.abc import Callable, Mapping
from typing import Any

from gitstore.domain.content.schemas import ecma_regex, json_pointer

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


_OBJECT_KEYWORDS = (
    "properties",
    "required",
    "additionalProperties",
    "patternProperties",
    "propertyNames",
    "dependentRequired",
    "minProperties",
    "maxProperties",
)


class _Unsupported(Exception):
    pass


def compile_check(schema: Any) -> Check | None:
    """A yes/no closure for ``schema``, or None when the schema uses unsupported keywords."""
    if not isinstance(schema, Mapping | bool):
        return None
    try:
        return _Compiler(schema if isinstance(schema, Mapping) else {}).compile(schema, True)
    except (_Unsupported, re.error, TypeError):
        return None


def _is_number(x: Any) -> bool:
    return isinstance(x, numbers.Number) and not isinstance(x, bool)


def _is_integer(x: Any) -> bool:
    if isinstance(x, bool):
        return False
    return isinstance(x, int) or (isinstance(x, float) and x.is_integer())


_TYPES: dict[str, Check] = {
    "string": lambda x: isinstance(x, str),
    "integer": _is_integer,
    "number": _is_number,
    "object": lambda x: isinstance(x, dict),
    "array": lambda x: isinstance(x, list),
    "boolean": lambda x: isinstance(x, bool),
    "null": lambda x: x is None,
}


def equal(one: Any, two: Any) -> bool:
    """JSON equality: 1 == 1.0 but True != 1, recursively."""
    if one is two:
        return True
    if isinstance(one, str) or isinstance(two, str):
        return bool(one == two)
    if isinstance(one, list) and isinstance(two, list):
        return len(one) == len(two) and all(equal(a, b) for a, b in zip(one, two, strict=True))
    if isinstance(one, dict) and isinstance(two, dict):
        return one.keys() == two.keys() and all(equal(one[k], two[k]) for k in one)
    if isinstance(one, bool) or isinstance(two, bool):
        return isinstance(one, bool) and isinstance(two, bool) and one == two
    return bool(one == two)


def _unique(items: list[Any]) -> bool:
    if all(isinstance(i, str) for i in items):
        return len(set(items)) == len(items)
    return not any(equal(items[i], items[j]) for i in range(len(items)) for j in range(i))


class _Compiler:
    def __init__(self, root: Mapping[str, Any]) -> None:
        self.root = root
        self.refs: dict[str, Check] = {}

    def compile(self, node: Any, is_root: bool = False) -> Check:
        if node is True:
            return lambda x: True
        if node is False:
            return lambda x: False
        if not isinstance(node, Mapping):
            raise _Unsupported
        if any(k in UNSUPPORTED for k in node) or ("$id" in node and not is_root):
            raise _Unsupported
        if node.get("type") == "string" and not any(
            k in SUPPORTED and k not in _STRING_KEYWORDS for k in node
        ):
            return _string_check(node)  # the most common node: one closure, no loop
        checks: list[Check] = []
        if "$ref" in node:
            checks.append(self._ref(node["$ref"]))
        if "type" in node:
            checks.append(_type_check(node["type"]))
        if "enum" in node:
            checks.append(_enum_check(node["enum"]))
        if "const" in node:
            const = node["const"]
            checks.append(lambda x: equal(x, const))
        obj = self._object(node)
        if obj is not None:
            checks.append(obj)
        arr = self._array(node)
        if arr is not None:
            checks.append(arr)
        checks.extend(_scalar_checks(node))
        checks.extend(self._combinators(node))
        if not checks:
            return lambda x: True
        if len(checks) == 1:
            return checks[0]
        if len(checks) == 2:  # the common pair (a type and its structure), without a loop
            first, second = checks
            return lambda x: first(x) and second(x)
        frozen = tuple(checks)

        def every(x: Any) -> bool:
            for check in frozen:  # noqa: SIM110 - a plain loop beats all(<generator>) here
                if not check(x):
                    return False
            return True

        return every

    def _ref(self, ref: Any) -> Check:
        if not isinstance(ref, str):
            raise _Unsupported
        if ref not in self.refs:
            target = json_pointer(self.root, ref) if ref != "#" else self.root
            if target is None:
                raise _Unsupported
            cell: list[Check] = []
            self.refs[ref] = lambda x: cell[0](x)
            cell.append(self.compile(target, target is self.root))
        return self.refs[ref]

    def _object(self, node: Mapping[str, Any]) -> Check | None:
        if not any(k in node for k in _OBJECT_KEYWORDS):
            return None
        props = {k: self.compile(v) for k, v in (node.get("properties") or {}).items()}
        required = tuple(node.get("required") or ())
        patterns = [
            (re.compile(p), self.compile(s))
            for p, s in (node.get("patternProperties") or {}).items()
        ]
        extra = (
            self.compile(node["additionalProperties"]) if "additionalProperties" in node else None
        )
        names = self.compile(node["propertyNames"]) if "propertyNames" in node else None
        dependent = dict(node.get("dependentRequired") or {})
        low = node.get("minProperties")
        high = node.get("maxProperties")

        if not patterns and names is None and not dependent and low is None and high is None:

            def plain(x: Any) -> bool:  # the usual object: properties, required, extras
                if not isinstance(x, dict):
                    return True
                for name in required:
                    if name not in x:
                        return False
                for key, value in x.items():
                    sub = props.get(key)
                    if sub is None:
                        if extra is not None and not extra(value):
                            return False
                    elif not sub(value):
                        return False
                return True

            return plain

        def check(x: Any) -> bool:
            if not isinstance(x, dict):
                return True
            for name in required:
                if name not in x:
                    return False
            if (low is not None and len(x) < low) or (high is not None and len(x) > high):
                return False
            for key, value in x.items():
                sub = props.get(key)
                if sub is not None and not sub(value):
                    return False
                matched = False
                for regex, pattern_check in patterns:
                    if regex.search(key):
                        matched = True
                        if not pattern_check(value):
                            return False
                if sub is None and not matched and extra is not None and not extra(value):
                    return False
                if names is not None and not names(key):
                    return False
            for key, needs in dependent.items():
                if key in x and any(n not in x for n in needs):
                    return False
            return True

        return check

    def _array(self, node: Mapping[str, Any]) -> Check | None:
        if not any(k in node for k in ("items", "minItems", "maxItems", "uniqueItems")):
            return None
        items = self.compile(node["items"]) if "items" in node else None
        low = node.get("minItems")
        high = node.get("maxItems")
        unique = node.get("uniqueItems") is True

        def check(x: Any) -> bool:
            if not isinstance(x, list):
                return True
            if (low is not None and len(x) < low) or (high is not None and len(x) > high):
                return False
            if items is not None:
                for item in x:
                    if not items(item):
                        return False
            return not unique or _unique(x)

        return check

    def _combinators(self, node: Mapping[str, Any]) -> list[Check]:
        out: list[Check] = []
        if "allOf" in node:
            all_of = tuple(self.compile(s) for s in node["allOf"])
            out.append(lambda x: all(c(x) for c in all_of))
        if "anyOf" in node:
            any_of = tuple(self.compile(s) for s in node["anyOf"])
            out.append(lambda x: any(c(x) for c in any_of))
        if "oneOf" in node:
            one_of = tuple(self.compile(s) for s in node["oneOf"])
            out.append(lambda x: sum(1 for c in one_of if c(x)) == 1)
        if "not" in node:
            negated = self.compile(node["not"])
            out.append(lambda x: not negated(x))
        if "if" in node:
            cond = self.compile(node["if"])
            then = self.compile(node.get("then", True))
            other = self.compile(node.get("else", True))
            out.append(lambda x: then(x) if cond(x) else other(x))
        return out


_STRING_KEYWORDS = frozenset({"type", "minLength", "maxLength", "pattern", "format"})


def _string_check(node: Mapping[str, Any]) -> Check:
    """``{"type": "string"}`` with optional length bounds and pattern, fused."""
    min_len, max_len, pattern = node.get("minLength"), node.get("maxLength"), node.get("pattern")
    regex = ecma_regex(pattern) if isinstance(pattern, str) else None
    low = -1 if min_len is None else min_len
    high = float("inf") if max_len is None else max_len

    def check(x: Any) -> bool:
        return (
            isinstance(x, str)
            and low <= len(x) <= high
            and (regex is None or regex.search(x) is not None)
        )

    return check


def _type_check(wanted: Any) -> Check:
    names = [wanted] if isinstance(wanted, str) else list(wanted)
    if any(n not in _TYPES for n in names):
        raise _Unsupported
    checks = tuple(_TYPES[n] for n in names)
    if len(checks) == 1:
        return checks[0]
    return lambda x: any(c(x) for c in checks)


def _enum_check(values: Any) -> Check:
    if not isinstance(values, list):
        raise _Unsupported
    strings = frozenset(v for v in values if isinstance(v, str))
    others = tuple(v for v in values if not isinstance(v, str))

    def check(x: Any) -> bool:
        if isinstance(x, str):
            return x in strings
        return any(equal(x, v) for v in others)

    return check


def _scalar_checks(node: Mapping[str, Any]) -> list[Check]:
    out: list[Check] = []
    min_len, max_len = node.get("minLength"), node.get("maxLength")
    pattern = node.get("pattern")
    if min_len is not None or max_len is not None or pattern is not None:
        regex = ecma_regex(pattern) if isinstance(pattern, str) else None

        def text(x: Any) -> bool:
            if not isinstance(x, str):
                return True
            if (min_len is not None and len(x) < min_len) or (
                max_len is not None and len(x) > max_len
            ):
                return False
            return regex is None or regex.search(x) is not None

        out.append(text)
    bounds = {
        k: node[k]
        for k in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum")
        if k in node
    }
    if bounds:
        if not all(_is_number(v) for v in bounds.values()):
            raise _Unsupported
        lo, hi = bounds.get("minimum"), bounds.get("maximum")
        xlo, xhi = bounds.get("exclusiveMinimum"), bounds.get("exclusiveMaximum")

        def number(x: Any) -> bool:
            if not _is_number(x):
                return True
            return not (
                (lo is not None and x < lo)
                or (hi is not None and x > hi)
                or (xlo is not None and x <= xlo)
                or (xhi is not None and x >= xhi)
            )

        out.append(number)
    return out
