"""The plan executor (``api/graphql/plan.py``) against graphql-core's executor.

Every document here runs twice on the same schema and resolvers, once through graphql-core's
``execute`` and once through the compiled plan, and the two results must be identical:
``data`` and every error's message, path and locations, in the same order. The schema has
what the plan claims to support (nested objects, lists, non-null at every level, aliases and
repeated fields, arguments from literals, defaults and variables, enums, sync and async
resolvers, default-resolved attributes, dicts and methods, ``is_type_of``) and resolvers that
fail in each of the ways the spec distinguishes. Also: what the plan declines, that literal
arguments are never shared between executions, and that sibling awaitables a failing field
leaves behind are settled, not orphaned (pytest turns "never awaited" warnings into errors).
"""

from __future__ import annotations

import asyncio
import gc
import warnings
from enum import Enum
from typing import Any

import pytest
from graphql import (
    ExecutionResult,
    GraphQLArgument,
    GraphQLBoolean,
    GraphQLEnumType,
    GraphQLField,
    GraphQLInputField,
    GraphQLInputObjectType,
    GraphQLInt,
    GraphQLInterfaceType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLScalarType,
    GraphQLSchema,
    GraphQLString,
    execute,
    parse,
    validate,
)

from gitstore.api.graphql.execution.plan import compile_plan, is_awaitable


class Color(Enum):
    RED = "red"
    BLUE = "blue"


class Item:
    def __init__(self, number: int) -> None:
        self.number = number
        self.label = f"item-{number}"
        self.broken_label = None if number == 2 else f"ok-{number}"

    def shout(self, _info: Any, times: int = 1) -> str:
        return self.label.upper() * times


async def _later(value: Any, delay: float = 0.0) -> Any:
    await asyncio.sleep(delay)
    return value


async def _fail_later(message: str) -> Any:
    await asyncio.sleep(0)
    raise ValueError(message)


def _odd_scalar() -> GraphQLScalarType:
    def coerce(value: Any) -> Any:
        if value == "bad":
            raise TypeError("Odd cannot represent 'bad'")
        return None if value == "none" else str(value)

    return GraphQLScalarType("Odd", coerce_output_value=coerce)


def build_test_schema() -> GraphQLSchema:
    color = GraphQLEnumType("Color", {"RED": Color.RED, "BLUE": Color.BLUE})
    odd = _odd_scalar()
    filter_input = GraphQLInputObjectType(
        "Filter",
        {
            "min": GraphQLInputField(GraphQLInt, default_value=0),
            "tags": GraphQLInputField(GraphQLList(GraphQLString)),
        },
    )
    item = GraphQLObjectType(
        "Item",
        lambda: {
            "number": GraphQLField(GraphQLNonNull(GraphQLInt)),
            "label": GraphQLField(GraphQLString),
            "brokenLabel": GraphQLField(
                GraphQLNonNull(GraphQLString), resolve=lambda o, _i: o.broken_label
            ),
            "shout": GraphQLField(
                GraphQLString, args={"times": GraphQLArgument(GraphQLInt, default_value=1)}
            ),
            "asyncLabel": GraphQLField(GraphQLString, resolve=lambda o, _i: _later(o.label)),
            "next": GraphQLField(item, resolve=lambda o, _i: Item(o.number + 1)),
            "nextAsync": GraphQLField(item, resolve=lambda o, _i: _later(Item(o.number + 1))),
            "nonNullNext": GraphQLField(
                GraphQLNonNull(item),
                resolve=lambda o, _i: None if o.number >= 3 else Item(o.number + 1),
            ),
            "odd": GraphQLField(
                odd, args={"value": GraphQLArgument(GraphQLString)}, resolve=_echo_value
            ),
            "color": GraphQLField(
                color, resolve=lambda o, _i: [Color.RED, Color.BLUE][o.number % 2]
            ),
        },
        is_type_of=lambda value, _info: isinstance(value, Item),
    )
    strict = GraphQLObjectType(
        "Strict",
        {"x": GraphQLField(GraphQLInt)},
        is_type_of=lambda value, _info: isinstance(value, dict) and "x" in value,
    )

    def items(_root: Any, _info: Any, count: int, filter: dict[str, Any] | None = None) -> Any:
        least = (filter or {}).get("min", 0)
        return [Item(n) for n in range(count) if n >= least]

    query = GraphQLObjectType(
        "Query",
        {
            "hello": GraphQLField(GraphQLString, resolve=lambda _r, _i: "world"),
            "item": GraphQLField(
                item,
                args={"number": GraphQLArgument(GraphQLNonNull(GraphQLInt))},
                resolve=lambda _r, _i, number: Item(number),
            ),
            "asyncItem": GraphQLField(item, resolve=lambda _r, _i: _later(Item(7), 0.001)),
            "items": GraphQLField(
                GraphQLList(item),
                args={
                    "count": GraphQLArgument(GraphQLNonNull(GraphQLInt)),
                    "filter": GraphQLArgument(filter_input),
                },
                resolve=items,
            ),
            "strictItems": GraphQLField(
                GraphQLNonNull(GraphQLList(GraphQLNonNull(item))),
                resolve=lambda _r, _i: [Item(1), None, Item(3)],
            ),
            "asyncItems": GraphQLField(
                GraphQLList(item), resolve=lambda _r, _i: [_later(Item(1)), Item(2), _later(None)]
            ),
            "failingItems": GraphQLField(
                GraphQLList(GraphQLNonNull(item)),
                resolve=lambda _r, _i: [Item(1), _fail_later("item two failed"), Item(3)],
            ),
            "numbers": GraphQLField(
                GraphQLList(GraphQLInt), resolve=lambda _r, _i: (n * n for n in range(4))
            ),
            "notAList": GraphQLField(GraphQLList(GraphQLInt), resolve=lambda _r, _i: 42),
            "boom": GraphQLField(GraphQLString, resolve=_raise),
            "asyncBoom": GraphQLField(GraphQLString, resolve=lambda _r, _i: _fail_later("later")),
            "nonNullBoom": GraphQLField(GraphQLNonNull(GraphQLString), resolve=_raise),
            "nonNullNull": GraphQLField(GraphQLNonNull(GraphQLString), resolve=lambda _r, _i: None),
            "returnedError": GraphQLField(
                GraphQLString, resolve=lambda _r, _i: ValueError("returned, not raised")
            ),
            "badInt": GraphQLField(GraphQLInt, resolve=lambda _r, _i: "not a number"),
            "odd": GraphQLField(
                odd, args={"value": GraphQLArgument(GraphQLString)}, resolve=_echo_value
            ),
            "dict": GraphQLField(strict, resolve=lambda _r, _i: {"x": 5}),
            "wrongType": GraphQLField(strict, resolve=lambda _r, _i: {"y": 5}),
            "wrongItem": GraphQLField(item, resolve=lambda _r, _i: "a string"),
            "echo": GraphQLField(
                GraphQLString,
                args={
                    "text": GraphQLArgument(GraphQLString, default_value="default"),
                    "color": GraphQLArgument(color),
                    "loud": GraphQLArgument(GraphQLBoolean),
                },
                resolve=lambda _r, _i, text, color=None, loud=False: (
                    f"{text}/{color.value if color else '-'}/{loud}"
                ),
            ),
            "mutateArgs": GraphQLField(
                GraphQLString,
                args={"filter": GraphQLArgument(filter_input)},
                resolve=_mutate_args,
            ),
            "node": GraphQLField(GraphQLInterfaceType("Node", {"id": GraphQLField(GraphQLString)})),
        },
    )
    return GraphQLSchema(query, types=[item, strict])


def _echo_value(_source: Any, _info: Any, value: str | None = None) -> str | None:
    return value


def _raise(_root: Any, _info: Any) -> Any:
    raise ValueError("boom")


def _mutate_args(_root: Any, _info: Any, filter: dict[str, Any]) -> str:
    seen = repr(filter)
    filter["min"] = 999
    filter["tags"].append("changed")
    return seen


SCHEMA = build_test_schema()


async def both(
    query: str, variables: dict[str, Any] | None = None
) -> tuple[ExecutionResult, ExecutionResult]:
    document = parse(query)
    assert validate(SCHEMA, document) == []
    operation = document.definitions[0]
    plan = compile_plan(SCHEMA, document, operation)  # type: ignore[arg-type]
    assert plan is not None, f"the plan declined {query!r}"
    expected = execute(SCHEMA, document, variable_values=variables)
    if not isinstance(expected, ExecutionResult):
        expected = await expected
    actual = plan.execute(None, variables, is_awaitable)
    if not isinstance(actual, ExecutionResult):
        actual = await actual
    return expected, actual


def shape(result: ExecutionResult) -> tuple[Any, list[tuple[str, Any, Any]]]:
    errors = [
        (e.message, e.path, [(loc.line, loc.column) for loc in e.locations or ()])
        for e in result.errors or ()
    ]
    return result.data, errors


DOCUMENTS = {
    "scalars": "{ hello h2: hello }",
    "typename": "{ __typename item(number: 1) { __typename number } }",
    "nested": "{ item(number: 1) { number label next { number next { label } } } }",
    "aliases and merged selections": """{
        a: item(number: 1) { number }
        b: item(number: 2) { label }
        a: item(number: 1) { label next { number } }
    }""",
    "default resolver method with default argument": (
        "{ item(number: 3) { shout s3: shout(times: 3) } }"
    ),
    "enum output": "{ items(count: 3) { number color } }",
    "list of objects with input object argument": """{
        items(count: 5, filter: {min: 2, tags: ["a"]}) { number label }
    }""",
    "generator list": "{ numbers }",
    "not a list": "{ notAList hello }",
    "async at several levels": """{
        asyncItem { number asyncLabel nextAsync { number asyncLabel } }
        item(number: 1) { asyncLabel }
        hello
    }""",
    "awaitable list items": "{ asyncItems { number label } }",
    "errors in nullable fields": "{ boom asyncBoom returnedError badInt hello }",
    "non-null error nulls the parent": "{ item(number: 2) { number brokenLabel } hello }",
    "non-null chain propagates upwards": (
        "{ item(number: 1) { nonNullNext { nonNullNext { nonNullNext { number } } } } }"
    ),
    "non-null root field nulls data": "{ hello nonNullBoom }",
    "non-null null at root": "{ nonNullNull boom }",
    "null item in a non-null list": "{ strictItems { number } hello }",
    "failing awaitable item in a non-null list": "{ failingItems { number } hello }",
    "errors under a nulled parent are dropped": """{
        items(count: 4) { number brokenLabel asyncLabel nonNullNext { number } }
    }""",
    "leaf coercion errors and nulls": """{
        odd(value: "fine") bad: odd(value: "bad") none: odd(value: "none")
        item(number: 1) { odd(value: "bad") }
    }""",
    "is_type_of": "{ dict { x } wrongType { x } wrongItem { number } }",
    "arguments: defaults, enums, booleans": """{
        a: echo
        b: echo(text: "hi", color: BLUE, loud: true)
        c: echo(text: null)
    }""",
}


@pytest.mark.parametrize("name", list(DOCUMENTS))
async def test_the_plan_gives_graphql_cores_result(name: str) -> None:
    expected, actual = await both(DOCUMENTS[name])
    assert shape(actual) == shape(expected)


VARIABLE_CASES: list[tuple[str, str, dict[str, Any] | None]] = [
    ("used", "query($n: Int!) { item(number: $n) { number } }", {"n": 4}),
    (
        "input object and list",
        "query($f: Filter, $c: Int!) { items(count: $c, filter: $f) { number } }",
        {"c": 5, "f": {"min": 3, "tags": ["x", "y"]}},
    ),
    ("default", 'query($t: String = "dflt") { echo(text: $t) }', None),
    ("explicit null", 'query($t: String = "dflt") { echo(text: $t) }', {"t": None}),
    ("enum", "query($c: Color) { echo(color: $c) }", {"c": "RED"}),
    ("missing required", "query($n: Int!) { item(number: $n) { number } }", {}),
    ("wrong type", "query($n: Int!) { item(number: $n) { number } }", {"n": "four"}),
    ("unknown enum", "query($c: Color) { echo(color: $c) }", {"c": "GREEN"}),
]


@pytest.mark.parametrize(("name", "query", "variables"), VARIABLE_CASES)
async def test_variables_are_coerced_like_graphql_core(
    name: str, query: str, variables: dict[str, Any] | None
) -> None:
    expected, actual = await both(query, variables)
    assert shape(actual) == shape(expected)


@pytest.mark.parametrize(
    "query",
    [
        "mutation { hello }",
        "{ ...F } fragment F on Query { hello }",
        "{ ... on Query { hello } }",
        "{ hello @include(if: true) }",
        "{ node { id } }",
        "{ __schema { queryType { name } } }",
        '{ __type(name: "Item") { name } }',
    ],
)
def test_what_the_plan_declines(query: str) -> None:
    document = parse(query)
    operation = document.definitions[0]
    assert compile_plan(SCHEMA, document, operation) is None  # type: ignore[arg-type]


async def test_literal_arguments_are_not_shared_between_executions() -> None:
    query = '{ mutateArgs(filter: {min: 1, tags: ["a"]}) }'
    document = parse(query)
    plan = compile_plan(SCHEMA, document, document.definitions[0])  # type: ignore[arg-type]
    assert plan is not None
    seen = []
    for _ in range(3):
        result = plan.execute(None, None, is_awaitable)
        assert isinstance(result, ExecutionResult) and result.errors is None
        assert result.data is not None
        seen.append(result.data["mutateArgs"])
    assert seen == ["{'min': 1, 'tags': ['a']}"] * 3


async def test_awaitables_left_by_a_synchronous_failure_are_settled() -> None:
    """``failingItems``-like: an async sibling is pending when a non-null field fails
    synchronously; it must still run to its end (no "never awaited" warning)."""
    finished: list[str] = []

    async def slow(_root: Any, _info: Any) -> str:
        await asyncio.sleep(0)
        finished.append("slow")
        return "slow"

    query_type = GraphQLObjectType(
        "Query",
        {
            "slow": GraphQLField(GraphQLString, resolve=slow),
            "fail": GraphQLField(GraphQLNonNull(GraphQLString), resolve=_raise),
        },
    )
    schema = GraphQLSchema(query_type)
    document = parse("{ slow fail }")
    plan = compile_plan(schema, document, document.definitions[0])  # type: ignore[arg-type]
    assert plan is not None
    result = plan.execute(None, None, is_awaitable)
    assert isinstance(result, ExecutionResult)
    assert result.data is None
    assert [e.message for e in result.errors or ()] == ["boom"]
    for _ in range(5):
        await asyncio.sleep(0)
    assert finished == ["slow"]


@pytest.mark.parametrize(
    "query",
    [
        "{ slowA slowB }",
        "{ failLater slowA slowB }",
        "{ slowA failNow slowB }",
        "{ items(count: 3) { asyncLabel nextAsync { asyncLabel } } slowA slowB }",
    ],
)
async def test_cancelling_an_execution_leaves_no_coroutine_unawaited(query: str) -> None:
    """The request task is cancelled while sibling resolvers wait to start (a client that
    went away, a server shutting down): every resolver coroutine created still runs, so
    nothing is reported "never awaited" (checked explicitly, not only by pytest's
    warnings-as-errors, which miss warnings raised in ``gc`` after the test)."""
    started: list[str] = []

    async def slow(_root: Any, info: Any) -> str:
        started.append(info.field_name)
        await asyncio.sleep(0.01)
        return "slow"

    async def fail_later(_root: Any, _info: Any) -> str:
        await asyncio.sleep(0)
        raise ValueError("later")

    async def fail_now(_root: Any, _info: Any) -> str:
        raise ValueError("now")

    fields = {
        "slowA": GraphQLField(GraphQLString, resolve=slow),
        "slowB": GraphQLField(GraphQLString, resolve=slow),
        "failLater": GraphQLField(GraphQLNonNull(GraphQLString), resolve=fail_later),
        "failNow": GraphQLField(GraphQLNonNull(GraphQLString), resolve=fail_now),
    }
    schema = GraphQLSchema(
        GraphQLObjectType("Query", {**SCHEMA.query_type.fields, **fields})  # type: ignore[union-attr]
    )
    document = parse(query)
    assert not validate(schema, document)
    plan = compile_plan(schema, document, document.definitions[0])  # type: ignore[arg-type]
    assert plan is not None
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        outcome = plan.execute(None, None, is_awaitable)
        assert not isinstance(outcome, ExecutionResult)

        async def request() -> Any:
            return await outcome

        task = asyncio.ensure_future(request())
        await asyncio.sleep(0)  # the request runs until its resolvers are scheduled
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        await asyncio.sleep(0.05)  # the resolvers left behind finish
        gc.collect()
    assert [str(w.message) for w in caught if "never awaited" in str(w.message)] == []
    if "slowA" in query:
        assert sorted(started) == ["slowA", "slowB"]


async def test_a_failing_sibling_cancels_the_others_after_they_started() -> None:
    cancelled: list[str] = []

    async def slow(_root: Any, info: Any) -> str:
        try:
            await asyncio.sleep(10)
        except asyncio.CancelledError:
            cancelled.append(info.field_name)
            raise
        return "never"

    async def fail(_root: Any, _info: Any) -> str:
        await asyncio.sleep(0)
        raise ValueError("boom")

    schema = GraphQLSchema(
        GraphQLObjectType(
            "Query",
            {
                "a": GraphQLField(GraphQLString, resolve=slow),
                "b": GraphQLField(GraphQLString, resolve=slow),
                "fail": GraphQLField(GraphQLNonNull(GraphQLString), resolve=fail),
            },
        )
    )
    document = parse("{ a fail b }")
    plan = compile_plan(schema, document, document.definitions[0])  # type: ignore[arg-type]
    assert plan is not None
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        outcome = plan.execute(None, None, is_awaitable)
        result = outcome if isinstance(outcome, ExecutionResult) else await outcome
        gc.collect()
    assert result.data is None
    assert [e.message for e in result.errors or ()] == ["boom"]
    assert sorted(cancelled) == ["a", "b"]
    assert not [w for w in caught if "never awaited" in str(w.message)]
