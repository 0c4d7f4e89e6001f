"""JSON Schema (draft 2020-12) as GitStore uses it: checking schemas, validating specs,
turning errors into ``ContentError``s, and walking a schema alongside a value.

Validation is ``jsonschema``'s Draft 2020-12 validator with one change so that patterns mean
what an ECMA-262 (JavaScript/GraphQL tooling) reader expects: ``\\d``, ``\\w`` and ``\\s`` are
ASCII-only and a final ``$`` matches only at the very end (Python's ``$`` also matches before
a trailing newline, so ``"19.99\\n"`` would pass ``^[0-9.]+$``). ``format`` is an annotation
only (not asserted); write a ``pattern`` when a shape must be enforced.

Schemas may carry GitStore annotations (ignored by validators, read by this package):

* ``x-invalid``: the phrase used when a value fails this subschema's ``pattern``, ``enum``,
  ``const``, ``oneOf``, ``anyOf`` or ``not``: "spec.price.amount: '-5' <x-invalid>";
* ``x-reference``: ``{"kind": "Category"}`` marks a string as the name of another resource
  (``"parent": true`` also forbids cycles through this field), see ``references``;
* ``x-unique``: a scope name; values of fields with the same scope must be unique across all
  resources of the kind (e.g. SKUs).

Only local ``$ref``s (``#/$defs/...``) are allowed: nothing is ever fetched.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

import jsonschema
import jsonschema.validators
from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError, best_match

from gitstore.domain.content.errors import ContentError, field_path, short_repr
from gitstore.domain.content.manifest import Manifest, type_name

DRAFT_2020_12 = "https://json-schema.org/draft/2020-12/schema"
_MESSAGE_KEYWORDS = {"pattern", "enum", "const", "oneOf", "anyOf", "not"}
_TYPE_NAMES = {
    "string": "a string",
    "integer": "an integer",
    "number": "a number",
    "object": "a mapping",
    "array": "a list",
    "boolean": "a boolean",
    "null": "null",
}


@functools.lru_cache(maxsize=1024)
def ecma_regex(pattern: str) -> re.Pattern[str]:
    if pattern.endswith("$") and not pattern.endswith("\\$"):
        pattern = pattern[:-1] + r"\Z"
    return re.compile(pattern, re.ASCII)


def _pattern(
    validator: Any, pattern: str, instance: Any, schema: Mapping[str, Any]
) -> Iterator[ValidationError]:
    if validator.is_type(instance, "string") and not ecma_regex(pattern).search(instance):
        yield ValidationError(f"{instance!r} does not match {pattern!r}")


SpecValidator: Any = jsonschema.validators.extend(Draft202012Validator, {"pattern": _pattern})


def make_validator(schema: Mapping[str, Any]) -> Any:
    """A validator for a schema that ``check_schema`` accepted."""
    return SpecValidator(schema)


def check_schema(schema: Any) -> list[tuple[str, str]]:
    """Problems with a kind version's spec schema as (path inside the schema, message).

    Pure, and checked many times per definition change (request input, each write round,
    the kinds loader, pre-receive, the worker), so answers are memoised by the schema's
    canonical JSON (``CHECKED`` entries); a schema that is not JSON is checked afresh."""
    try:
        key = json.dumps(schema, sort_keys=True, separators=(",", ":"), allow_nan=False)
    except (TypeError, ValueError):
        return _check_schema(schema)
    return [*_checked(key)]


@functools.lru_cache(maxsize=512)
def _checked(key: str) -> tuple[tuple[str, str], ...]:
    return tuple(_check_schema(json.loads(key)))


_META: Any = None


def _check_schema(schema: Any) -> list[tuple[str, str]]:
    global _META
    if not isinstance(schema, Mapping):
        return [("", f"must be a JSON Schema mapping, got {type_name(schema)}")]
    problems: list[tuple[str, str]] = []
    declared = schema.get("$schema", DRAFT_2020_12)
    if declared != DRAFT_2020_12:
        problems.append(
            (
                field_path(["$schema"]),
                f"only JSON Schema draft 2020-12 ({DRAFT_2020_12}) is "
                f"supported, got {short_repr(declared)}",
            )
        )
        return problems
    if _META is None:
        _META = Draft202012Validator(Draft202012Validator.META_SCHEMA)
    meta = _META
    worst = best_match(meta.iter_errors(schema))
    if worst is not None:
        problems.append((field_path(list(worst.absolute_path)), _meta_message(worst)))
        return problems
    if schema.get("type") != "object":
        problems.append(("type", 'must be "object": a schema describes spec, a mapping'))
    for parts, node in _subschemas(schema, []):
        ref = node.get("$ref")
        if isinstance(ref, str) and json_pointer(schema, ref) is None:
            problems.append(
                (
                    field_path([*parts, "$ref"]),
                    f"$ref {short_repr(ref)} must point "
                    "inside this schema (#/$defs/...); nothing is fetched",
                )
            )
        if "$dynamicRef" in node:
            problems.append((field_path([*parts, "$dynamicRef"]), "$dynamicRef is not supported"))
        pattern = node.get("pattern")
        if isinstance(pattern, str):
            try:
                ecma_regex(pattern)
            except re.error as err:
                problems.append((field_path([*parts, "pattern"]), f"invalid regex: {err}"))
        pattern_properties = node.get("patternProperties")
        if isinstance(pattern_properties, Mapping):
            for key in pattern_properties:
                try:
                    re.compile(key)
                except re.error as err:
                    where = field_path([*parts, "patternProperties", key])
                    problems.append((where, f"invalid regex: {err}"))
    return problems


def _meta_message(error: ValidationError) -> str:
    detail = error.message if len(error.message) <= 200 else error.message[:197] + "..."
    return f"not a valid JSON Schema here ({detail})"


def _subschemas(
    node: Any, parts: list[str | int]
) -> Iterator[tuple[list[str | int], Mapping[str, Any]]]:
    """Every mapping inside a schema (subschemas and, harmlessly, some keyword values)."""
    if isinstance(node, Mapping):
        yield parts, node
        for key, value in node.items():
            if key in ("enum", "const", "default", "examples"):
                continue
            yield from _subschemas(value, [*parts, key])
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _subschemas(value, [*parts, index])


def json_pointer(root: Mapping[str, Any], ref: str) -> Mapping[str, Any] | None:
    if ref == "#":
        return root
    if not ref.startswith("#/"):
        return None
    node: Any = root
    for raw in ref[2:].split("/"):
        key = raw.replace("~1", "/").replace("~0", "~")
        if isinstance(node, Mapping) and key in node:
            node = node[key]
        elif isinstance(node, list) and key.isdigit() and int(key) < len(node):
            node = node[int(key)]
        else:
            return None
    return node if isinstance(node, Mapping) else None


def resolve(schema: Any, root: Mapping[str, Any]) -> Mapping[str, Any]:
    """``schema`` with local ``$ref``s followed (siblings of ``$ref`` win); {} if not a schema."""
    seen = 0
    while isinstance(schema, Mapping) and isinstance(schema.get("$ref"), str) and seen < 32:
        target = json_pointer(root, schema["$ref"]) or {}
        schema = {**target, **{k: v for k, v in schema.items() if k != "$ref"}}
        seen += 1
    return schema if isinstance(schema, Mapping) else {}


def property_schema(
    schema: Mapping[str, Any], key: str, root: Mapping[str, Any]
) -> Mapping[str, Any]:
    """The subschema that applies to property ``key`` of an object ``schema``."""
    props = schema.get("properties")
    if isinstance(props, Mapping) and key in props:
        return resolve(props[key], root)
    patterns = schema.get("patternProperties")
    if isinstance(patterns, Mapping):
        for pattern, sub in patterns.items():
            if ecma_regex(pattern).search(key):
                return resolve(sub, root)
    return resolve(schema.get("additionalProperties"), root)


def canonical_order(
    value: Any, schema: Mapping[str, Any] | None, root: Mapping[str, Any] | None = None
) -> Any:
    """A copy of ``value`` with mapping keys in schema-declaration order, then sorted."""
    root = root if root is not None else (schema or {})
    node = resolve(schema, root) if schema else {}
    if isinstance(value, Mapping):
        props = node.get("properties")
        declared = [k for k in props if k in value] if isinstance(props, Mapping) else []
        rest = sorted(k for k in value if k not in declared)
        return {
            k: canonical_order(value[k], property_schema(node, k, root), root)
            for k in [*declared, *rest]
        }
    if isinstance(value, list):
        items = resolve(node.get("items"), root)
        return [canonical_order(v, items, root) for v in value]
    return value


def annotated(
    value: Any,
    schema: Mapping[str, Any],
    keyword: str,
    root: Mapping[str, Any] | None = None,
    parts: Sequence[str | int] = (),
) -> Iterator[tuple[list[str | int], Any, Any]]:
    """Yield (path, value, annotation) for every value whose subschema carries ``keyword``."""
    root = root if root is not None else schema
    node = resolve(schema, root)
    if keyword in node:
        yield list(parts), value, node[keyword]
    if isinstance(value, Mapping):
        for key, item in value.items():
            yield from annotated(
                item, property_schema(node, key, root), keyword, root, [*parts, key]
            )
    elif isinstance(value, list):
        items = node.get("items")
        for index, item in enumerate(value):
            yield from annotated(item, resolve(items, root), keyword, root, [*parts, index])


def spec_errors(
    validator: Any, manifest: Manifest, kind_label: str, found: Iterable[Any] | None = None
) -> list[ContentError]:
    """Schema errors of ``manifest.spec`` as ``ContentError``s with ``spec.``-rooted fields.

    ``found``: the errors already found by another validator in ``jsonschema``'s error shape
    (``schemacheck.NativeError``); else ``validator`` finds them."""
    out: list[ContentError] = []
    seen: set[tuple[str, str, str]] = set()
    for error in validator.iter_errors(manifest.spec) if found is None else found:
        for parts, rule, message in _translate(error, kind_label):
            key = (field_path(["spec", *parts]), rule, message)
            if key not in seen:  # one "required" error per missing name, each listing all
                seen.add(key)
                out.append(manifest.error(key[0], rule, message))
    return out


def _under_property_names(schema_path: Sequence[Any]) -> bool:
    """Whether an error comes from a ``propertyNames`` subschema (not a property so named)."""
    path = list(schema_path)
    return any(
        part == "propertyNames" and (i == 0 or path[i - 1] not in ("properties", "$defs"))
        for i, part in enumerate(path)
    )


def _translate(error: Any, kind_label: str) -> Iterator[tuple[list[str | int], str, str]]:
    parts: list[str | int] = list(error.absolute_path)
    keyword = str(error.validator)
    schema = error.schema if isinstance(error.schema, Mapping) else {}
    instance = error.instance
    here = field_path(["spec", *parts])
    if _under_property_names(error.relative_schema_path):
        key = str(instance)
        custom_key = schema.get("x-invalid")
        why = (
            custom_key
            if isinstance(custom_key, str)
            else f"is not allowed ({_describe(keyword, schema, instance)})"
        )
        where = field_path(["spec", *parts, key])
        yield (
            [*parts, key],
            "propertyNames",
            f"{where}: key {short_repr(key)} {why}",
        )
        return
    if keyword == "required" and isinstance(instance, Mapping):
        for name in error.validator_value:
            if name not in instance:
                yield [*parts, name], keyword, f"{field_path(['spec', *parts, name])} is required"
        return
    if keyword in ("additionalProperties", "unevaluatedProperties") and isinstance(
        instance, Mapping
    ):
        props = schema.get("properties") or {}
        patterns = list((schema.get("patternProperties") or {}).keys())
        allowed = ", ".join(props) or "none"
        for name in instance:
            if name in props or any(re.search(p, name) for p in patterns):
                continue
            where = field_path(["spec", *parts, name])
            yield (
                [*parts, name],
                keyword,
                f"{where}: unknown field of {kind_label} (allowed here: {allowed})",
            )
        return
    if keyword == "dependentRequired" and isinstance(instance, Mapping):
        for name, needs in error.validator_value.items():
            missing = [n for n in needs if n not in instance]
            if name in instance and missing:
                where = field_path(["spec", *parts, name])
                yield (
                    [*parts, name],
                    keyword,
                    f"{where} requires {', '.join(missing)} to be set too",
                )
        return
    if keyword == "uniqueItems" and isinstance(instance, list):
        for index, item in enumerate(instance):
            if item in instance[:index]:
                where = field_path(["spec", *parts, index])
                yield (
                    [*parts, index],
                    keyword,
                    f"{where}: {short_repr(item)} appears more than once in {here}",
                )
                return
    custom = schema.get("x-invalid")
    if keyword in _MESSAGE_KEYWORDS and isinstance(custom, str):
        subject = (
            here
            if keyword in ("oneOf", "anyOf", "not") and isinstance(instance, Mapping | list)
            else f"{here}: {short_repr(instance)}"
        )
        yield parts, keyword, f"{subject} {custom}"
        return
    yield parts, keyword, f"{here}: {_describe(keyword, schema, instance, error)}"


def _describe(keyword: str, schema: Mapping[str, Any], instance: Any, error: Any = None) -> str:
    value = schema.get(keyword)
    if keyword == "type":
        types = value if isinstance(value, list) else [value]
        wanted = " or ".join(_TYPE_NAMES.get(str(t), str(t)) for t in types)
        got = type_name(instance)
        if isinstance(instance, bool | int | float):
            got += f" ({instance!r})"
        return f"expected {wanted}, got {got}"
    if keyword == "enum" and isinstance(value, list):
        if len(value) <= 12:
            return f"{short_repr(instance)} is not one of {', '.join(str(v) for v in value)}"
        return f"{short_repr(instance)} is not an allowed value"
    if keyword == "const":
        return f"must be {value!r}"
    if keyword == "pattern":
        return f"{short_repr(instance)} does not match the pattern {value}"
    if keyword == "minLength":
        return "must not be empty" if value == 1 else f"must be at least {value} characters"
    if keyword == "maxLength":
        length = len(instance) if isinstance(instance, str) else "?"
        return f"must be at most {value} characters (got {length})"
    if keyword in ("minimum", "exclusiveMinimum"):
        op = "at least" if keyword == "minimum" else "greater than"
        return f"{short_repr(instance)} is too small: must be {op} {value}"
    if keyword in ("maximum", "exclusiveMaximum"):
        op = "at most" if keyword == "maximum" else "less than"
        return f"{short_repr(instance)} is too large: must be {op} {value}"
    if keyword == "minItems":
        return f"must have at least {value} item{'s' if value != 1 else ''}"
    if keyword == "maxItems":
        return f"must have at most {value} item{'s' if value != 1 else ''}"
    if keyword == "oneOf":
        return "must match exactly one of the allowed shapes"
    if keyword == "anyOf":
        return "must match at least one of the allowed shapes"
    message = error.message if error is not None else f"breaks {keyword}"
    return message if len(message) <= 200 else message[:197] + "..."
