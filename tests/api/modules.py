"""Small schema modules used as test doubles for the platform (not part of the product)."""

from __future__ import annotations

from typing import Any

from graphql import (
    GraphQLArgument,
    GraphQLField,
    GraphQLInt,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLString,
)

from gitstore.api.graphql.builder import SchemaBuilder


class TreeModule:
    """``tree: Tree`` where ``Tree.children(first:)`` nests without end: for depth and cost."""

    name = "tree"

    def contribute(self, builder: SchemaBuilder) -> None:
        tree: GraphQLObjectType = GraphQLObjectType(
            "Tree",
            lambda: {
                "name": GraphQLField(GraphQLString, resolve=lambda obj, _info: obj["name"]),
                "children": GraphQLField(
                    GraphQLNonNull(GraphQLList(GraphQLNonNull(tree))),
                    args={"first": GraphQLArgument(GraphQLInt, default_value=10)},
                    resolve=_children,
                ),
                "child": GraphQLField(tree, resolve=lambda obj, _info: _node(obj, 0)),
            },
        )
        builder.add_type(tree)
        builder.add_query_field("tree", GraphQLField(tree, resolve=lambda *_: _node(None, 0)))


def _node(parent: dict[str, Any] | None, index: int) -> dict[str, Any]:
    name = f"{parent['name']}.{index}" if parent else "root"
    return {"name": name}


def _children(obj: dict[str, Any], _info: Any, first: int) -> list[dict[str, Any]]:
    return [_node(obj, i) for i in range(min(first, 3))]


def nested(depth: int, leaf: str = "name") -> str:
    """``{ tree { child { child { ... name } } } }`` with ``depth`` nested fields in all."""
    inner = leaf
    for _ in range(depth - 2):
        inner = f"child {{ {inner} }}"
    return f"{{ tree {{ {inner} }} }}"
