"""Benchmark: building the store schema of a repository with 50 custom kinds x 3 versions.

What is timed (``build``): exactly what ``StoreSchemas`` does for a cache miss —
``StoreSchemas._build``: the platform modules (``catalog`` with the built-ins,
``schemaStatus``), the custom kinds module (each kind typed once in a scratch builder to
check it cannot break the schema, then for real with ``typegen.types_for_kind``), the
schema build and ``validate_schema`` — plus ``fingerprint`` of the registry, which every
refresh that sees a changed ``kinds/`` tree computes. The kinds are generated and parsed
once (``KindDefinition``s as the kinds loader hands them over); each version's schema is
realistic: nested objects two levels deep, ``$defs`` shared by several fields (money,
address, a recursive category node), string enums, arrays of objects, integers with bounds,
descriptions and a ``format: date-time``; three versions per kind, the last one the hub.

Floor (``floor``): graphql-core constructing the *same* type system directly and validating
it — ``clone`` makes a fresh ``GraphQLObjectType``/``EnumType``/``InputObjectType``/… for
every named type of the built schema and a fresh ``GraphQLField``/``GraphQLArgument`` for
every field and argument (graphql-core's constructors, the same resolvers, lazy field thunks
like the real build), then ``GraphQLSchema`` and ``validate_schema``. No JSON Schema is
walked and no module machinery runs: that is the irreducible cost of having this many GraphQL
types in one validated schema, so build/floor is the price of deriving them from the kinds.
The built-ins-only store schema (``builtin``, what a repository without custom kinds costs
once for all such repositories) is reported as well.

Each figure is the median of ``--rounds`` interleaved rounds (build, floor, builtin in
shuffled order per round, after one warm-up), so background load on the shared machine hits
them alike. Times are CPU time of this process (``time.process_time``), not wall time: the
work is single-threaded and CPU-bound, and CPU time leaves out the time the machine spends on
others' processes. The minimum of each (``*_min_ms``, ``ratio_min``) is reported too, because on a
loaded 2-core box single samples swing several-fold and the best one is the closest to the
intrinsic cost. Last line of stdout: one JSON object.

    python bench/bench_schema_build.py [--quick] [--kinds 50] [--versions 3] [--rounds 9]
"""

from __future__ import annotations

import argparse
import json
import platform
import random
import statistics
import sys
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from graphql import (
    GraphQLArgument,
    GraphQLEnumType,
    GraphQLEnumValue,
    GraphQLField,
    GraphQLInputField,
    GraphQLInputObjectType,
    GraphQLInterfaceType,
    GraphQLList,
    GraphQLNamedType,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLScalarType,
    GraphQLSchema,
    GraphQLUnionType,
    specified_scalar_types,
    validate_schema,
)

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from gitstore.api.storeschema.schemas import BUILTIN, StoreSchemas, fingerprint  # noqa: E402
from gitstore.config import Settings  # noqa: E402
from gitstore.domain.content import KindRegistry  # noqa: E402
from gitstore.domain.content.kindset import builtin_registry, registry_for  # noqa: E402
from gitstore.domain.content.manifest import Manifest  # noqa: E402

SPECIFIED = frozenset(specified_scalar_types)  # names
ENUMS = (["draft", "active", "archived"], ["s", "m", "l", "xl"], ["in-stock", "backorder"])


def version_schema(k: int, v: int) -> dict[str, Any]:
    """Kind ``k``'s version ``v`` schema: fields shift a little between versions."""
    money = {
        "type": "object",
        "required": ["amount", "currency"],
        "description": "An exact amount.",
        "properties": {
            "amount": {"type": "string", "format": "decimal"},
            "currency": {"type": "string", "enum": ["EUR", "USD", "GBP", "JPY"]},
        },
    }
    address = {
        "type": "object",
        "properties": {
            "street": {"type": "string"},
            "city": {"type": "string"},
            "country": {"type": "string", "minLength": 2, "maxLength": 2},
            "geo": {
                "type": "object",
                "properties": {"lat": {"type": "number"}, "lng": {"type": "number"}},
            },
        },
    }
    node = {
        "type": "object",
        "properties": {
            "label": {"type": "string"},
            "children": {"type": "array", "items": {"$ref": "#/$defs/node"}},
        },
    }
    properties: dict[str, Any] = {
        "title": {"type": "string", "description": "What shoppers see."},
        "status": {"type": "string", "enum": ENUMS[k % 3], "default": ENUMS[k % 3][0]},
        "size": {"enum": ENUMS[1]},
        "price": {"$ref": "#/$defs/money"},
        "cost": {"$ref": "#/$defs/money"},
        "origin": {"$ref": "#/$defs/address"},
        "destination": {"$ref": "#/$defs/address"},
        "tree": {"$ref": "#/$defs/node"},
        "quantity": {"type": "integer", "minimum": 0, "maximum": 100000},
        "updatedAt": {"type": "string", "format": "date-time"},
        "tags": {"type": "array", "items": {"type": "string"}},
        "attributes": {"type": "object", "additionalProperties": {"type": "string"}},
        "variants": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["sku"],
                "properties": {
                    "sku": {"type": "string"},
                    "price": {"$ref": "#/$defs/money"},
                    "stock": {"enum": ENUMS[2]},
                    "dimensions": {
                        "type": "object",
                        "properties": {
                            "width": {"type": "number"},
                            "height": {"type": "number"},
                            "unit": {"enum": ["cm", "in"]},
                        },
                    },
                },
            },
        },
    }
    for extra in range(v * 2):  # later versions add fields
        properties[f"field{extra}"] = {"type": "string", "description": f"Added in v{v + 1}."}
    return {
        "type": "object",
        "required": ["title"],
        "properties": properties,
        "$defs": {"money": money, "address": address, "node": node},
    }


def definitions(kinds: int, versions: int) -> KindRegistry:
    manifests = []
    for k in range(kinds):
        kind = f"Thing{k:03d}"
        plural = f"things{k:03d}"
        manifests.append(
            Manifest.from_object(
                {
                    "apiVersion": "gitstore.dev/v1",
                    "kind": "KindDefinition",
                    "metadata": {"name": plural},
                    "spec": {
                        "group": f"group{k % 5}.example",
                        "names": {"kind": kind, "plural": plural, "singular": f"thing{k:03d}"},
                        "versions": [
                            {
                                "name": f"v{v + 1}",
                                "served": True,
                                "storage": v == versions - 1,
                                "schema": version_schema(k, v),
                            }
                            for v in range(versions)
                        ],
                    },
                },
                f"kinds/{plural}.yaml",
            )
        )
    found = registry_for(manifests)
    if found.errors:
        raise SystemExit(f"generated kinds are invalid: {found.errors[0]}")
    return found.registry


def clone(schema: GraphQLSchema) -> GraphQLSchema:
    """The type system of ``schema`` made again with graphql-core's constructors."""
    made: dict[str, GraphQLNamedType] = {}

    def wrap(t: Any) -> Any:
        if isinstance(t, GraphQLNonNull):
            return GraphQLNonNull(wrap(t.of_type))
        if isinstance(t, GraphQLList):
            return GraphQLList(wrap(t.of_type))
        return named(t)

    def args(field: Any) -> dict[str, GraphQLArgument]:
        return {
            n: GraphQLArgument(wrap(a.type), default_value=a.default_value)
            for n, a in field.args.items()
        }

    def fields(t: Any) -> Any:
        return lambda: {
            n: GraphQLField(wrap(f.type), args=args(f), resolve=f.resolve)
            for n, f in t.fields.items()
        }

    def named(t: Any) -> Any:
        if t.name in made:
            return made[t.name]
        new: Any
        if isinstance(t, GraphQLScalarType):
            new = t if t.name in SPECIFIED else GraphQLScalarType(
                t.name, serialize=t.serialize, parse_value=t.parse_value,
                parse_literal=t.parse_literal,
            )  # fmt: skip
        elif isinstance(t, GraphQLEnumType):
            new = GraphQLEnumType(
                t.name, {n: GraphQLEnumValue(v.value) for n, v in t.values.items()}
            )
        elif isinstance(t, GraphQLObjectType):
            new = GraphQLObjectType(
                t.name, fields(t), interfaces=lambda t=t: [named(i) for i in t.interfaces]
            )
        elif isinstance(t, GraphQLInterfaceType):
            new = GraphQLInterfaceType(t.name, fields(t), resolve_type=t.resolve_type)
        elif isinstance(t, GraphQLInputObjectType):
            new = GraphQLInputObjectType(
                t.name,
                lambda t=t: {
                    n: GraphQLInputField(wrap(f.type), default_value=f.default_value)
                    for n, f in t.fields.items()
                },
            )
        elif isinstance(t, GraphQLUnionType):
            new = GraphQLUnionType(t.name, lambda t=t: [named(x) for x in t.types])
        else:
            raise TypeError(f"unexpected type {t!r}")
        made[t.name] = new
        return new

    roots = [schema.query_type, schema.mutation_type, schema.subscription_type]
    query, mutation, subscription = (named(r) if r is not None else None for r in roots)
    types = [named(t) for n, t in schema.type_map.items() if not n.startswith("__")]
    return GraphQLSchema(query, mutation, subscription, types, directives=schema.directives)


def timed(fn: Any) -> float:
    """CPU milliseconds of this process running ``fn`` (the build is single-threaded CPU
    work; CPU time does not count the time the shared machine gives other processes)."""
    start = time.process_time()
    fn()
    return (time.process_time() - start) * 1000


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--kinds", type=int)
    parser.add_argument("--versions", type=int, default=3)
    parser.add_argument("--rounds", type=int)
    args = parser.parse_args()
    kinds = args.kinds or (10 if args.quick else 50)
    rounds = args.rounds or (3 if args.quick else 9)
    registry = definitions(kinds, args.versions)
    builtins = builtin_registry()
    store = StoreSchemas(SimpleNamespace(settings=Settings()))  # type: ignore[arg-type]

    def build() -> Any:
        return store._build(fingerprint(registry), registry)

    def builtin() -> Any:
        return store._build(BUILTIN, builtins)

    built = build()
    schema = built.snapshot.schema
    assert len(clone(schema).type_map) == len(schema.type_map)

    def floor() -> None:
        fresh = clone(schema)
        errors = validate_schema(fresh)
        assert not errors, errors

    phases = {"build": build, "floor": floor, "builtin": builtin}
    samples: dict[str, list[float]] = {name: [] for name in phases}
    for fn in phases.values():  # warm-up
        fn()
    for _ in range(rounds):
        order = list(phases)
        random.shuffle(order)
        for name in order:
            samples[name].append(timed(phases[name]))
    median = {name: statistics.median(values) for name, values in samples.items()}
    fingerprint_ms = statistics.median(timed(lambda: fingerprint(registry)) for _ in range(rounds))
    types = [t for t in schema.type_map if not t.startswith("__")]
    result = {
        "benchmark": "schema_build",
        "kinds": kinds,
        "versions": args.versions,
        "rounds": rounds,
        "graphql_types": len(types),
        "problems": len(built.problems),
        "untyped": len(built.untyped),
        "build_ms": round(median["build"], 2),
        "fingerprint_ms": round(fingerprint_ms, 2),
        "floor_ms": round(median["floor"], 2),
        "builtin_ms": round(median["builtin"], 2),
        "ratio_build_vs_floor": round(median["build"] / median["floor"], 2),
        "build_min_ms": round(min(samples["build"]), 2),
        "floor_min_ms": round(min(samples["floor"]), 2),
        "ratio_min": round(min(samples["build"]) / min(samples["floor"]), 2),
        "per_kind_ms": round((median["build"] - median["builtin"]) / kinds, 3),
        "python": platform.python_version(),
    }
    print(
        f"schema build, {kinds} kinds x {args.versions} versions ({len(types)} types): "
        f"{result['build_ms']} ms vs floor {result['floor_ms']} ms "
        f"(x{result['ratio_build_vs_floor']}); built-ins only {result['builtin_ms']} ms",
        file=sys.stderr,
    )
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
