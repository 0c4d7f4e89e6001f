"""Execution plans, compiled: the shapes values complete to and the field plans of a
selection set (see ``plan`` for the design).

``compile_selections(schema, parent, selection_sets)`` groups plain fields by response key
(aliases, repeated fields merged as graphql-core merges them) and gives each a
:class:`FieldPlan`: its definition, its resolver (graphql-core's default resolver is marked,
so the run can inline it), its argument values when they are literals (coerced once, copied
per execution), and the shape of its value (:class:`NonNullShape`, :class:`ListShape`,
:class:`LeafShape`, :class:`ObjectShape` with its own field plans). It returns None for a
selection it does not support: fragments, directives, interfaces and unions,
``__schema``/``__type``.
"""

from __future__ import annotations

from collections.abc import Sequence
from enum import Enum
from typing import Any

from graphql import (
    FieldNode,
    GraphQLField,
    GraphQLLeafType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLSchema,
    ListValueNode,
    ObjectValueNode,
    SelectionSetNode,
    ValueNode,
    VariableNode,
    default_field_resolver,
    is_leaf_type,
)
from graphql.execution import VariableValues
from graphql.execution.values import get_argument_values


class NonNullShape:
    __slots__ = ("inner",)

    def __init__(self, inner: Shape) -> None:
        self.inner = inner


class ListShape:
    __slots__ = ("inner", "item_non_null")

    def __init__(self, inner: Shape) -> None:
        self.inner = inner
        self.item_non_null = isinstance(inner, NonNullShape)


class LeafShape:
    __slots__ = ("type",)

    def __init__(self, type_: GraphQLLeafType) -> None:
        self.type = type_


class ObjectShape:
    __slots__ = ("fields", "type")

    def __init__(self, type_: GraphQLObjectType, fields: list[FieldPlan]) -> None:
        self.type = type_
        self.fields = fields


Shape = NonNullShape | ListShape | LeafShape | ObjectShape


class FieldPlan:
    """One response key of a selection set: what to resolve and how to complete it."""

    __slots__ = (
        "by_default",
        "definition",
        "fixed_args",
        "has_args",
        "key",
        "leaf",
        "name",
        "node",
        "nodes",
        "non_null",
        "resolve",
        "return_type",
        "shape",
    )

    def __init__(
        self, key: str, nodes: list[FieldNode], definition: GraphQLField, shape: Shape
    ) -> None:
        self.key = key
        self.nodes = nodes
        self.node = nodes[0]
        self.name = self.node.name.value
        self.definition = definition
        self.resolve = definition.resolve or default_field_resolver
        self.by_default = self.resolve is default_field_resolver  # inlined, see execute_field
        self.return_type: GraphQLOutputType = definition.type
        self.has_args = bool(definition.args or self.node.arguments)
        self.fixed_args = _fixed_args(definition, self.node) if self.has_args else None
        self.shape = shape
        self.non_null = isinstance(shape, NonNullShape)
        inner = shape.inner if isinstance(shape, NonNullShape) else shape
        self.leaf = inner.type if isinstance(inner, LeafShape) else None


def compile_selections(
    schema: GraphQLSchema, parent: GraphQLObjectType, selection_sets: Sequence[SelectionSetNode]
) -> list[FieldPlan] | None:
    grouped: dict[str, list[FieldNode]] = {}
    for selection_set in selection_sets:
        for selection in selection_set.selections:
            if not isinstance(selection, FieldNode) or selection.directives:
                return None  # fragments, @skip/@include: graphql-core
            key = (selection.alias or selection.name).value
            grouped.setdefault(key, []).append(selection)
    fields: list[FieldPlan] = []
    for key, nodes in grouped.items():
        name = nodes[0].name.value
        if name in ("__schema", "__type"):
            return None
        definition = schema.get_field(parent, name)
        if definition is None:
            return None
        shape = _compile_type(schema, definition.type, nodes)
        if shape is None:
            return None
        fields.append(FieldPlan(key, nodes, definition, shape))
    return fields


def _fixed_args(definition: GraphQLField, node: FieldNode) -> dict[str, Any] | None:
    """A field's argument values when they cannot change between executions (literals
    only, no variables), coerced once; None when they must be coerced every time. Only
    plain values (dicts, lists, str, int, float, bool, None, enum members) are kept, and
    each execution gets its own copy (``copy_args``), so a resolver that changes its
    arguments cannot change the next request's."""
    if any(_has_variable(argument.value) for argument in node.arguments or ()):
        return None
    try:
        values = get_argument_values(definition, node, VariableValues({}, {}))
    except Exception:  # noqa: BLE001 - the same error is raised (and reported) per execution
        return None
    return values if _plain(values) else None


def _has_variable(value: ValueNode) -> bool:
    if isinstance(value, VariableNode):
        return True
    if isinstance(value, ListValueNode):
        return any(_has_variable(item) for item in value.values)
    if isinstance(value, ObjectValueNode):
        return any(_has_variable(item.value) for item in value.fields)
    return False


def _plain(value: Any) -> bool:
    if value is None or type(value) in (str, int, float, bool) or isinstance(value, Enum):
        return True
    if type(value) is dict:
        return all(type(key) is str and _plain(item) for key, item in value.items())
    if type(value) is list:
        return all(_plain(item) for item in value)
    return False


def copy_args(value: Any) -> Any:
    if type(value) is dict:
        return {key: copy_args(item) for key, item in value.items()}
    if type(value) is list:
        return [copy_args(item) for item in value]
    return value


def _compile_type(
    schema: GraphQLSchema, type_: GraphQLOutputType, nodes: list[FieldNode]
) -> Shape | None:
    if isinstance(type_, GraphQLNonNull):
        inner = _compile_type(schema, type_.of_type, nodes)
        return None if inner is None else NonNullShape(inner)
    if isinstance(type_, GraphQLList):
        inner = _compile_type(schema, type_.of_type, nodes)
        return None if inner is None else ListShape(inner)
    if is_leaf_type(type_):
        assert isinstance(type_, GraphQLLeafType)
        return LeafShape(type_)
    if isinstance(type_, GraphQLObjectType):
        sub = [node.selection_set for node in nodes if node.selection_set is not None]
        fields = compile_selections(schema, type_, sub)
        return None if fields is None else ObjectShape(type_, fields)
    return None  # interfaces and unions: graphql-core
