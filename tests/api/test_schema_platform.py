"""Unit tests of the schema platform: builder and modules, holder (safe publish), Relay
helpers and mutation payloads. Pure in-process; no server needed."""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Any

import pytest
from graphql import (
    GraphQLField,
    GraphQLInputField,
    GraphQLInterfaceType,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLSchema,
    GraphQLString,
    graphql,
)

from gitstore.api.graphql.builder import SchemaBuilder, SchemaBuildError, build_schema
from gitstore.api.graphql.holder import NoSchemaError, SchemaHolder
from gitstore.api.graphql.payloads import add_mutation, camel_case, user_error
from gitstore.api.graphql.relay import (
    Connection,
    check_first,
    decode_global_id,
    encode_global_id,
)
from gitstore.domain.errors import (
    AlreadyExists,
    InvalidArgument,
    NotFound,
    PermissionDenied,
    Unauthenticated,
    Unavailable,
)


class Hello:
    name = "hello"

    def contribute(self, builder: SchemaBuilder) -> None:
        builder.add_query_field("hello", GraphQLField(GraphQLString, resolve=lambda *_: "hi"))


class Broken:
    """Contributes an interface nobody can satisfy: builds, but fails validation."""

    name = "broken"

    def contribute(self, builder: SchemaBuilder) -> None:
        shape = GraphQLInterfaceType("Shape", {"area": GraphQLField(GraphQLString)})
        builder.add_type(shape)
        builder.add_type(
            GraphQLObjectType("Square", {"side": GraphQLField(GraphQLString)}, interfaces=[shape])
        )


# ---------------------------------------------------------------------- holder
def test_holder_publishes_valid_schemas_with_increasing_versions() -> None:
    holder = SchemaHolder()
    with pytest.raises(NoSchemaError):
        holder.current
    first = holder.publish(build_schema([Hello()]))
    second = holder.publish(build_schema([Hello()]))
    assert (first.ok, first.version, second.ok, second.version) == (True, 1, True, 2)
    assert holder.current.version == 2


def test_holder_keeps_the_last_known_good_schema_on_an_invalid_candidate() -> None:
    holder = SchemaHolder()
    holder.publish(build_schema([Hello()]))
    good = holder.current
    result = holder.publish(build_schema([Hello(), Broken()]))
    assert not result.ok
    assert result.version == 1
    assert holder.current is good
    assert holder.last_failure is not None
    assert any("Shape.area" in error for error in holder.last_failure.errors)


def test_holder_keeps_the_last_known_good_schema_when_the_build_raises() -> None:
    holder = SchemaHolder()
    holder.publish(build_schema([Hello()]))
    result = holder.publish_from(lambda: build_schema([Hello(), Hello()]))
    assert not result.ok and result.version == 1
    assert "Query.hello is defined twice" in result.errors[0]
    assert holder.current.version == 1


def test_holder_rejects_a_first_candidate_without_publishing() -> None:
    holder = SchemaHolder()
    result = holder.publish(GraphQLSchema())  # no Query type
    assert not result.ok and not holder.ready and result.version == 0


# ---------------------------------------------------------------------- builder
def test_builder_names_both_modules_on_a_type_clash() -> None:
    class UserA:
        name = "a"

        def contribute(self, builder: SchemaBuilder) -> None:
            builder.add_type(GraphQLObjectType("Thing", {"x": GraphQLField(GraphQLString)}))

    class UserB(UserA):
        name = "b"

    with pytest.raises(
        SchemaBuildError, match="type Thing is defined twice: by module 'a' and by module 'b'"
    ):
        build_schema([Hello(), UserA(), UserB()])


def test_builder_needs_a_query_field() -> None:
    with pytest.raises(SchemaBuildError, match="no module contributed a Query field"):
        build_schema([])


def test_builder_refuses_late_user_error_codes() -> None:
    builder = SchemaBuilder()
    builder.add_user_error_code("LATE_BUT_OK", "fine: enum not built yet")
    assert "LATE_BUT_OK" in builder.user_error_codes
    builder.user_error_code_enum
    with pytest.raises(SchemaBuildError, match="after UserErrorCode was built"):
        builder.add_user_error_code("TOO_LATE", "refused")


@dataclass
class Item:
    id: str
    label: str


class Items:
    """A module with a node type, a connection and a mutation: the whole seam at once."""

    name = "items"
    data = [Item(f"i{n}", f"item {n}") for n in range(5)]

    def contribute(self, builder: SchemaBuilder) -> None:
        item = builder.add_type(
            GraphQLObjectType(
                "Item",
                lambda: {
                    "id": builder.global_id_field("Item"),
                    "label": GraphQLField(GraphQLString),
                },
                interfaces=[builder.node_interface],
            )
        )

        async def fetch(_info: Any, raw_id: str) -> Item | None:
            return next((i for i in self.data if i.id == raw_id), None)

        builder.register_node("Item", fetch, [Item])

        def items(_root: Any, _info: Any, first: int, after: str | None = None) -> Connection[Item]:
            check_first(first)
            start = int(after) + 1 if after else 0
            page = self.data[start : start + first]
            return Connection.of(
                page,
                lambda i: str(self.data.index(i)),
                total_count=len(self.data),
                has_next_page=start + first < len(self.data),
                after=after,
            )

        builder.add_query_field(
            "items",
            GraphQLField(
                GraphQLNonNull(builder.connection(item)),
                args=builder.connection_args(),
                resolve=items,
            ),
        )

        async def rename(_info: Any, data: dict[str, Any]) -> dict[str, Any]:
            target = decode_global_id(data["id"], "Item")
            found = await fetch(None, target.id)
            if found is None:
                raise NotFound(f"no item {target.id}", field="id")
            if not data["label"]:
                raise InvalidArgument("label must not be empty", field="new_label")
            found.label = data["label"]
            return {"item": found}

        add_mutation(
            builder,
            "renameItem",
            input_fields={
                "id": GraphQLInputField(GraphQLNonNull(GraphQLString)),
                "label": GraphQLInputField(GraphQLNonNull(GraphQLString)),
            },
            payload_fields={"item": GraphQLField(item)},
            resolve=rename,
        )


async def run(schema: GraphQLSchema, query: str, **variables: Any) -> dict[str, Any]:
    result = await graphql(schema, query, variable_values=variables)
    return {"data": result.data, "errors": [e.message for e in result.errors or ()]}


async def test_connections_pages_and_nodes_through_a_module() -> None:
    schema = build_schema([Items()])
    page1 = await run(
        schema,
        "{ items(first: 2) { edges { cursor node { label } } nodes { id } "
        "pageInfo { hasNextPage hasPreviousPage startCursor endCursor } totalCount } }",
    )
    items = page1["data"]["items"]
    assert [e["node"]["label"] for e in items["edges"]] == ["item 0", "item 1"]
    assert items["pageInfo"] == {
        "hasNextPage": True,
        "hasPreviousPage": False,
        "startCursor": "0",
        "endCursor": "1",
    }
    assert items["totalCount"] == 5
    page3 = await run(
        schema,
        '{ items(first: 2, after: "3") { nodes { label }'
        " pageInfo { hasNextPage hasPreviousPage } } }",
    )
    assert page3["data"]["items"] == {
        "nodes": [{"label": "item 4"}],
        "pageInfo": {"hasNextPage": False, "hasPreviousPage": True},
    }
    node_id = items["nodes"][1]["id"]
    assert base64.b64decode(node_id) == b"gid://GitStore/Item/i1"
    found = await run(
        schema, "query($id: ID!) { node(id: $id) { __typename ... on Item { label } } }", id=node_id
    )
    assert found["data"]["node"] == {"__typename": "Item", "label": "item 1"}
    bad_first = await run(schema, "{ items(first: 101) { totalCount } }")
    assert bad_first["errors"] == ["first must be between 1 and 100 (got 101)"]


async def test_mutation_payloads_echo_and_carry_user_errors() -> None:
    schema = build_schema([Items()])
    mutation = (
        "mutation($id: String!, $label: String!) { renameItem(input: {id: $id, label: $label,"
        ' clientMutationId: "m-1"}) { clientMutationId item { label }'
        " userErrors { field message code } } }"
    )
    ok = await run(schema, mutation, id=encode_global_id("Item", "i2"), label="renamed")
    assert ok["data"]["renameItem"] == {
        "clientMutationId": "m-1",
        "item": {"label": "renamed"},
        "userErrors": [],
    }
    missing = await run(schema, mutation, id=encode_global_id("Item", "zz"), label="x")
    assert missing["data"]["renameItem"] == {
        "clientMutationId": "m-1",
        "item": None,
        "userErrors": [{"field": "id", "message": "no item zz", "code": "NOT_FOUND"}],
    }
    wrong_type = await run(schema, mutation, id=encode_global_id("User", "i2"), label="x")
    assert wrong_type["data"]["renameItem"]["userErrors"][0]["message"].endswith(
        "is a User ID, not a Item ID"
    )
    empty = await run(schema, mutation, id=encode_global_id("Item", "i2"), label="")
    assert empty["data"]["renameItem"]["userErrors"] == [
        {"field": "newLabel", "message": "label must not be empty", "code": "INVALID_ARGUMENT"}
    ]


# ---------------------------------------------------------------------- relay helpers
def test_global_ids_round_trip_and_match_the_architecture_example() -> None:
    encoded = encode_global_id("Namespace", "namespace-uuid")
    assert encoded == "Z2lkOi8vR2l0U3RvcmUvTmFtZXNwYWNlL25hbWVzcGFjZS11dWlk"
    assert decode_global_id(encoded, "Namespace").id == "namespace-uuid"
    unpadded_urlsafe = encode_global_id("User", "a?b").rstrip("=").replace("/", "_")
    assert decode_global_id(unpadded_urlsafe).id == "a?b"


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("", "must be a non-empty global ID"),
        ("!!!", "not base64"),
        (base64.b64encode(b"hello").decode(), "does not decode to gid://GitStore/"),
        (
            base64.b64encode(b"gid://GitStore/Namespace").decode(),
            "expected gid://GitStore/<Type>/<id>",
        ),
        (
            base64.b64encode(b"gid://GitStore/lower/x").decode(),
            "expected gid://GitStore/<Type>/<id>",
        ),
        (encode_global_id("User", "u1"), "is a User ID, not a Namespace ID"),
    ],
)
def test_bad_global_ids_say_what_is_wrong(value: str, message: str) -> None:
    with pytest.raises(InvalidArgument, match=message) as caught:
        decode_global_id(value, "Namespace")
    assert caught.value.field == "id"


@pytest.mark.parametrize("first", [0, -1, 101, True, "5", None])
def test_first_outside_1_to_100_is_refused(first: Any) -> None:
    with pytest.raises(InvalidArgument, match="first must be between 1 and 100"):
        check_first(first)


def test_user_errors_map_domain_errors() -> None:
    codes = SchemaBuilder().user_error_codes
    assert user_error(AlreadyExists("taken", field="identifier"), codes) == {
        "field": "identifier",
        "message": "taken",
        "code": "ALREADY_EXISTS",
    }
    assert user_error(PermissionDenied("no"), codes)["code"] == "PERMISSION_DENIED"

    class Custom(InvalidArgument):
        code = "SOMETHING_NEW"

    assert user_error(Custom("x", field="a.parent_enterprise_id"), codes) == {
        "field": "parentEnterpriseId",
        "message": "x",
        "code": "INVALID_ARGUMENT",
    }
    assert camel_case("expires_in_days") == "expiresInDays"


async def test_unauthenticated_and_unavailable_are_not_user_errors() -> None:
    class Failing:
        name = "failing"

        def contribute(self, builder: SchemaBuilder) -> None:
            builder.add_query_field("x", GraphQLField(GraphQLString))
            for name, exc in (
                ("needsAuth", Unauthenticated("who are you")),
                ("down", Unavailable("down")),
            ):

                async def fail(
                    _info: Any, _data: dict[str, Any], exc: Exception = exc
                ) -> dict[str, Any]:
                    raise exc

                add_mutation(builder, name, input_fields={}, payload_fields={}, resolve=fail)

    schema = build_schema([Failing()])
    result = await run(schema, "mutation { needsAuth(input: {}) { userErrors { code } } }")
    assert result == {"data": None, "errors": ["who are you"]}
    result = await run(schema, "mutation { down(input: {}) { userErrors { code } } }")
    assert result == {"data": None, "errors": ["down"]}


def test_a_fork_shares_what_came_before_and_keeps_what_comes_after() -> None:
    class Thing:
        name = "thing"

        def contribute(self, builder: SchemaBuilder) -> None:
            builder.add_type(GraphQLObjectType("Thing", {"x": GraphQLField(GraphQLString)}))
            builder.add_query_field("thing", GraphQLField(builder.get_type("Thing")))  # type: ignore[arg-type]

    template = SchemaBuilder()
    template.module = "hello"
    Hello().contribute(template)
    first, second = template.fork(), template.fork()
    first.module = "thing"
    Thing().contribute(first)
    one, two = first.build(), second.build()
    assert one.query_type is not None and two.query_type is not None
    assert set(one.query_type.fields) == {"hello", "thing"}
    assert set(two.query_type.fields) == {"hello"}
    assert not template.has_type("Thing") and not second.has_type("Thing")
    assert one.type_map["UserError"] is two.type_map["UserError"]  # shared, not rebuilt
    assert one.query_type.fields["hello"] is two.query_type.fields["hello"]
    with pytest.raises(SchemaBuildError, match="after UserErrorCode was built"):
        template.fork().add_user_error_code("LATE", "the enum is shared by every fork")
    with pytest.raises(SchemaBuildError, match="registers node type Item on a forked builder"):
        template.fork().register_node("Item", lambda _info, _id: None)  # type: ignore[arg-type,return-value]
