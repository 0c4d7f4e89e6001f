"""The fast paths agree with the reference implementations.

``schemacheck`` (jsonschema-rs) must say "valid" exactly when ``jsonschema`` (with GitStore's
pattern rules) does, and ``AnnotationPlan`` must find exactly what the plain schema walk
finds. Both are checked on thousands of deterministic random mutations of realistic
manifests; the pattern rewriting also on corner cases of both regex dialects.
"""

from __future__ import annotations

import copy
import random
from typing import Any

import pytest

from gitstore.domain.content import KindRegistry
from gitstore.domain.content.annotations import AnnotationPlan
from gitstore.domain.content.manifest import Manifest
from gitstore.domain.content.schemacheck import SUPPORTED, UNSUPPORTED, compile_check
from gitstore.domain.content.schemas import SpecValidator, annotated, make_validator, spec_errors
from tests.domain import samples
from tests.domain.test_kinds import BRANDS

POOL: list[Any] = [
    None,
    True,
    False,
    0,
    1,
    -1,
    1.0,
    1.5,
    -0.5,
    2**40,
    "",
    "x",
    "-5",
    "19.99",
    "19.99\n",
    "EUR",
    "eur",
    "XXX",
    "draft",
    "active",
    "deny",
    "S",
    "navy",
    "knitwear",
    "Bad Name",
    "https://cdn.example.com/a.jpg",
    "../x",
    "a" * 300,
    [],
    {},
    ["a"],
    ["a", "a"],
    [1, True],
    {"a": 1},
    {"amount": "5", "currency": "EUR"},
    {"amount": "-5", "currency": "EUR"},
    {"field": "price", "relation": "lessThan", "condition": "10"},
    {"field": "title", "relation": "greaterThan", "condition": "x"},
    {"sku": "A-1"},
    {"sku": "A-1", "inventoryQuantity": -3},
    {"name": "size", "values": ["S"]},
]


def paths(value: Any, parts: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [parts]
    if isinstance(value, dict):
        for key, item in value.items():
            out.extend(paths(item, (*parts, key)))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            out.extend(paths(item, (*parts, index)))
    return out


def mutate(spec: dict[str, Any], rng: random.Random) -> dict[str, Any]:
    spec = copy.deepcopy(spec)
    for _ in range(rng.choice([1, 1, 1, 2, 3])):
        targets = paths(spec)
        target = rng.choice(targets)
        if not target:
            continue
        parent: Any = spec
        for part in target[:-1]:
            parent = parent[part]
        last = target[-1]
        action = rng.random()
        if action < 0.6:
            parent[last] = copy.deepcopy(rng.choice(POOL))
        elif action < 0.75:
            del parent[last]
        elif action < 0.9 and isinstance(parent, dict):
            parent[rng.choice(["extra", "title", "x-y", "pack size", "rules", "products"])] = (
                copy.deepcopy(rng.choice(POOL))
            )
        elif isinstance(parent, list):
            parent.append(copy.deepcopy(parent[last]))
    return spec


def kind_specs() -> list[tuple[str, dict[str, Any]]]:
    return [
        ("Product", samples.product()["spec"]),
        ("Category", samples.category()["spec"]),
        ("Collection", samples.collection()["spec"]),
        ("Collection", samples.rule_collection()["spec"]),
        ("KindDefinition", copy.deepcopy(BRANDS["spec"])),
    ]


def test_every_jsonschema_keyword_is_either_supported_or_refused() -> None:
    assert set(SpecValidator.VALIDATORS) <= SUPPORTED | UNSUPPORTED
    assert not SUPPORTED & UNSUPPORTED


@pytest.mark.parametrize("seed", range(3))
def test_fast_check_agrees_with_jsonschema_on_mutated_manifests(seed: int) -> None:
    rng = random.Random(seed)
    registry = KindRegistry.builtin()
    checked = invalid = 0
    for kind, spec in kind_specs():
        version = registry.get(kind).hub
        fast = version.fast_check
        assert fast is not None, kind
        assert fast(spec)
        for _ in range(300):
            candidate = mutate(spec, rng)
            expected = version.validator.is_valid(candidate)
            assert fast(candidate) == expected, (kind, candidate)
            checked += 1
            invalid += not expected
    assert invalid > checked // 4  # the mutations do break things


SCHEMAS: list[dict[str, Any]] = [
    {"type": ["integer", "null"], "minimum": 1, "exclusiveMaximum": 10},
    {"type": "number", "maximum": 1.5, "exclusiveMinimum": -1},
    {"enum": [1, "a", None, [1, 2], {"k": True}]},
    {"const": {"a": [1, 2]}},
    {"oneOf": [{"type": "string"}, {"minLength": 2}]},
    {"anyOf": [{"type": "integer"}, {"type": "array", "maxItems": 1}]},
    {"not": {"type": "object"}},
    {"allOf": [{"type": "object"}, {"required": ["a"]}, {"maxProperties": 2}]},
    {"if": {"type": "string"}, "then": {"pattern": "^x"}, "else": {"type": "array"}},
    {
        "patternProperties": {"^a": {"type": "integer"}},
        "additionalProperties": False,
        "propertyNames": {"maxLength": 3},
        "minProperties": 1,
    },
    {"properties": {"a": {"type": "string"}}, "dependentRequired": {"a": ["k"]}},
    {"type": "array", "items": {"$ref": "#"}, "uniqueItems": True},
    {
        "$defs": {
            "n": {
                "type": "object",
                "properties": {"kids": {"type": "array", "items": {"$ref": "#/$defs/n"}}},
                "additionalProperties": {"type": "string"},
            }
        },
        "$ref": "#/$defs/n",
    },
    {"type": "string", "pattern": "^[0-9]+$", "format": "email"},
    True,
    False,
]

INSTANCES: list[Any] = [
    *POOL,
    5,
    10,
    9.5,
    1.0,
    0.0,
    "xa",
    "ax",
    "123",
    "123\n",
    "٣",
    [[]],
    [[], []],
    [1, 1.0],
    [0, False],
    {"a": 1, "k": 2},
    {"abc": 1},
    {"abcd": 1},
    {"a": "s"},
    {"a": "s", "k": 1},
    {"kids": [{"kids": []}, {"name": "x"}]},
    {"kids": [{"kids": [{"bad": 1}]}]},
    {"k": True},
    {"a": [1, 2]},
    {"a": [1.0, 2]},
]


@pytest.mark.parametrize("schema", SCHEMAS, ids=lambda s: str(s)[:40])
def test_fast_check_agrees_on_keyword_corner_cases(schema: Any) -> None:
    fast = compile_check(schema)
    assert fast is not None
    reference = make_validator(schema) if isinstance(schema, dict) else None
    for instance in INSTANCES:
        expected = reference.is_valid(instance) if reference is not None else schema
        assert fast(instance) == expected, instance


@pytest.mark.parametrize(
    "schema",
    [
        {"contains": {"type": "string"}},
        {"properties": {"a": {"multipleOf": 2}}},
        {"type": "array", "prefixItems": [{"type": "string"}]},
        {"unevaluatedProperties": False},
        {"properties": {"a": {"$id": "https://x.example/a", "type": "string"}}},
        {"type": "strange"},
        {"$ref": "https://x.example/s"},
        {"pattern": "(?i)^s$"},
        {"pattern": "^a\\b"},
        {"pattern": "^a$|^b$"},
        {"pattern": "a\\Z"},
        {"pattern": "^[\\S,]+$"},
        {"pattern": "^[]a]$"},
        {"pattern": "^(a)\\1$"},
        {"patternProperties": {"^\\d+$": {"type": "integer"}}},
    ],
)
def test_unsupported_schemas_get_no_fast_path(schema: dict[str, Any]) -> None:
    assert compile_check(schema) is None


PATTERNS = [
    "^[0-9.]+$",
    "^\\d+$",
    "^\\w+$",
    "^[\\w-]+$",
    "^\\s*$",
    "^\\S+$",
    "^[\\s,]+$",
    "^[^\\s]+$",
    "^.$",
    "^(?!/)(?!.*\\.\\.)[A-Za-z0-9._/-]+$",
    "^(https?://[^\\s]+|x)$",
    "^\\x41\\u00e9\\.$",
    "^\\D\\W$",
    "^a{2,3}$",
    "x",
]
TEXTS = [
    "",
    "x",
    "19.99",
    "19.99\n",
    "\u0663",
    "\u00e9",
    "ab",
    "a-b",
    " ",
    "\t",
    "\u00a0",
    "\u2003",
    "a\u00a0b",
    "\r",
    "\n",
    "\u2028",
    "/a",
    "a/../b",
    "a/b.c",
    "https://x.example/a",
    "https://x.example/a b",
    "A\u00e9.",
    "Ae.",
    "a!",
    "\u0663\u00e9",
    "aa",
    "aaaa",
    "a,a",
]


@pytest.mark.parametrize("pattern", PATTERNS)
def test_patterns_match_what_jsonschema_matches(pattern: str) -> None:
    """``pattern`` (ECMA-262 as GitStore reads it) and ``patternProperties`` keys (Python's
    ``re``, as ``jsonschema`` reads them) mean the same to both engines, ``not`` included."""
    schemas: list[dict[str, Any]] = [
        {"type": "string", "pattern": pattern},
        {"not": {"pattern": pattern}},
        {"propertyNames": {"pattern": pattern}},
    ]
    if not any(c in pattern for c in ("\\d", "\\D", "\\w", "\\W", "\\s", "\\S")):
        schemas.append(
            {"patternProperties": {pattern: {"type": "integer"}}, "additionalProperties": False}
        )
    for schema in schemas:
        fast = compile_check(schema)
        assert fast is not None, schema
        reference = make_validator(schema)
        for text in TEXTS:
            for value in (text, {text: 1}):
                assert fast(value) == reference.is_valid(value), (schema, value)


def test_values_the_rust_side_cannot_take_go_to_jsonschema() -> None:
    fast = compile_check({"type": "object"})
    assert fast is not None
    assert fast({1: 2}) is False  # jsonschema decides (and says valid)
    assert make_validator({"type": "object"}).is_valid({1: 2})
    strings = {"additionalProperties": {"type": "string", "minLength": 1}}
    fast = compile_check(strings)
    assert fast is not None
    for value in ({"a": "\ud800"}, {"a": ""}, {"a": "\ud800x"}):  # lone surrogates too
        assert fast(value) == make_validator(strings).is_valid(value)


@pytest.mark.parametrize("seed", range(2))
def test_annotation_plans_find_what_the_schema_walk_finds(seed: int) -> None:
    rng = random.Random(seed)
    registry = KindRegistry.builtin()
    for kind, spec in kind_specs():
        schema = registry.get(kind).hub.schema
        for keyword in ("x-reference", "x-unique", "x-invalid"):
            plan = AnnotationPlan(schema, keyword)
            for _ in range(150):
                candidate = mutate(spec, rng)
                assert plan.find(candidate) == list(annotated(candidate, schema, keyword))


def test_annotation_plan_on_a_recursive_schema() -> None:
    schema = SCHEMAS[12] | {"$defs": {"n": {**SCHEMAS[12]["$defs"]["n"], "x-reference": {}}}}
    value = {"kids": [{"kids": [{"kids": []}]}, {}]}
    plan = AnnotationPlan(schema, "x-reference")
    assert plan.find(value) == list(annotated(value, schema, "x-reference"))
    assert [p for p, _, _ in plan.find(value)] == [
        [],
        ["kids", 0],
        ["kids", 0, "kids", 0],
        ["kids", 1],
    ]


def version_label(kind: str) -> str:
    return "gitstore.dev/v1"


@pytest.mark.parametrize("seed", range(3))
def test_native_errors_read_as_jsonschema_errors_do(seed: int) -> None:
    """Where jsonschema-rs's errors are used (``CompiledSchema.errors``), the content errors
    (field, rule, message, line) are exactly those ``jsonschema``'s give, in the same order."""
    rng = random.Random(seed)
    registry = KindRegistry.builtin()
    compared = fallbacks = 0
    for kind, spec in kind_specs():
        version = registry.get(kind).hub
        native = version.fast_check
        assert native is not None
        for _ in range(400):
            candidate = mutate(spec, rng)
            found = native.errors(candidate)
            if found is None:
                fallbacks += 1
                continue
            manifest = Manifest(version_label(kind), kind, "x", candidate)
            expected = spec_errors(version.validator, manifest, kind)
            assert spec_errors(version.validator, manifest, kind, found) == expected, candidate
            compared += bool(expected)
    assert compared > 1000
    assert fallbacks < compared // 4


def test_errors_jsonschema_words_itself_go_to_it() -> None:
    schema = {
        "type": "object",
        "properties": {"a": {"not": {"type": "string"}}, "b": False},
        "propertyNames": {"maxLength": 3},
        "minProperties": 1,
    }
    native = compile_check(schema)
    assert native is not None
    for value in ({"a": "s"}, {"b": 1}, {"long": 1}, {}):
        assert native(value) is False
        assert native.errors(value) is None
    assert native.errors({"a": 1}) == []
