"""Depth and cost limits, checked as a validation rule (so cached documents are checked once).

* **Depth** is the longest chain of nested fields in an operation (root fields are depth 1),
  following fragments. ``{ viewer { username } }`` has depth 2.
* **Cost** is an estimate of the objects a query can touch: every field costs 1, and a field
  that takes ``first`` (or ``last``) multiplies the cost of its selection by that number: the
  literal value, the argument's default when it is left out, and the largest page size when it
  is a variable (validation is cached per query text, before variables are known).
  ``namespaces(first: 20) { nodes { id identifier } }`` costs 1 + 20 * (1 + 2) = 61.
  Other list fields (``edges``, ``nodes`` of a connection) are paid for by ``first`` already.
* Introspection (``__schema``, ``__type``, ``__typename``) is free of both limits; graphql-core's
  own ``MaxIntrospectionDepthRule`` bounds introspection nesting.

A rejected operation gets one error naming the limit, the measured value and the setting that
changes it, with ``extensions.code`` ``QUERY_TOO_DEEP`` or ``QUERY_TOO_COSTLY``. Depth is
checked first and cost only when depth is within bounds, which also bounds the recursion of
the cost walk.
"""

from __future__ import annotations

from typing import Any

from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLField,
    GraphQLInterfaceType,
    GraphQLNamedType,
    GraphQLObjectType,
    InlineFragmentNode,
    IntValueNode,
    OperationDefinitionNode,
    SelectionSetNode,
    ValidationRule,
    get_named_type,
)
from graphql.validation import ValidationContext

PAGINATION_ARGS = ("first", "last")


def limits_rule(*, max_depth: int, max_cost: int, max_page_size: int) -> type[ValidationRule]:
    """A validation rule class enforcing the given limits."""

    class QueryLimitsRule(ValidationRule):
        def enter_operation_definition(self, node: OperationDefinitionNode, *_args: Any) -> None:
            walker = _Walker(self.context, max_depth, max_page_size)
            depth = walker.depth(node.selection_set, frozenset())
            if depth > max_depth:
                self.report_error(
                    GraphQLError(
                        f"query depth {'at least ' if walker.truncated else ''}{depth}"
                        f" exceeds the limit of {max_depth} nested fields"
                        " (setting GITSTORE_API__MAX_DEPTH)",
                        node,
                        extensions={"code": "QUERY_TOO_DEEP", "limit": max_depth},
                    )
                )
                return
            root = self.context.schema.get_root_type(node.operation)
            cost = walker.cost(node.selection_set, root, frozenset())
            if cost > max_cost:
                self.report_error(
                    GraphQLError(
                        f"query cost {cost} exceeds the limit of {max_cost}"
                        " (each field costs 1; fields taking `first` multiply their selection"
                        " by it; setting GITSTORE_API__MAX_COST)",
                        node,
                        extensions={"code": "QUERY_TOO_COSTLY", "limit": max_cost, "cost": cost},
                    )
                )

    return QueryLimitsRule


class _Walker:
    def __init__(self, context: ValidationContext, max_depth: int, max_page_size: int) -> None:
        self.context = context
        self.max_depth = max_depth
        self.max_page_size = max_page_size
        self._fragment_depth: dict[tuple[str, int], int] = {}
        self.truncated = False
        self._fragment_cost: dict[str, int] = {}

    def _fragment(self, name: str) -> FragmentDefinitionNode | None:
        return self.context.get_fragment(name)

    # ------------------------------------------------------------------ depth
    def depth(self, selection_set: SelectionSetNode, seen: frozenset[str], level: int = 0) -> int:
        """Depth below ``selection_set``; stops descending once past ``max_depth``."""
        if level > self.max_depth:
            self.truncated = True
            return 0
        deepest = 0
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                if selection.name.value.startswith("__"):
                    continue
                below = (
                    self.depth(selection.selection_set, seen, level + 1)
                    if selection.selection_set
                    else 0
                )
                deepest = max(deepest, 1 + below)
            elif isinstance(selection, InlineFragmentNode):
                deepest = max(deepest, self.depth(selection.selection_set, seen, level))
            elif isinstance(selection, FragmentSpreadNode):
                name = selection.name.value
                fragment = self._fragment(name)
                if fragment is None or name in seen:
                    continue
                key = (name, level)  # truncation depends on the level: memoise per level
                if key not in self._fragment_depth:
                    self._fragment_depth[key] = self.depth(
                        fragment.selection_set, seen | {name}, level
                    )
                deepest = max(deepest, self._fragment_depth[key])
        return deepest

    # ------------------------------------------------------------------ cost
    def cost(
        self,
        selection_set: SelectionSetNode,
        parent: GraphQLNamedType | None,
        seen: frozenset[str],
    ) -> int:
        total = 0
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                name = selection.name.value
                if name.startswith("__"):
                    continue
                field = _field(parent, name)
                child = 0
                if selection.selection_set is not None:
                    child_type = get_named_type(field.type) if field is not None else None
                    child = self.cost(selection.selection_set, child_type, seen)
                total += 1 + self._multiplier(selection, field) * child
            elif isinstance(selection, InlineFragmentNode):
                condition = selection.type_condition
                target = self.context.schema.get_type(condition.name.value) if condition else parent
                total += self.cost(selection.selection_set, target, seen)
            elif isinstance(selection, FragmentSpreadNode):
                name = selection.name.value
                fragment = self._fragment(name)
                if fragment is None or name in seen:
                    continue
                if name not in self._fragment_cost:
                    target = self.context.schema.get_type(fragment.type_condition.name.value)
                    self._fragment_cost[name] = self.cost(
                        fragment.selection_set, target, seen | {name}
                    )
                total += self._fragment_cost[name]
        return total

    def _multiplier(self, node: FieldNode, field: GraphQLField | None) -> int:
        if field is None:
            return 1
        for arg_name in PAGINATION_ARGS:
            definition = field.args.get(arg_name)
            if definition is None:
                continue
            given = next((a for a in node.arguments or () if a.name.value == arg_name), None)
            if given is None:
                default = definition.default_value
                return default if isinstance(default, int) and default > 0 else self.max_page_size
            if isinstance(given.value, IntValueNode):
                return max(1, int(given.value.value))
            return self.max_page_size  # a variable (or a bad literal validation reports)
        return 1


def _field(parent: GraphQLNamedType | None, name: str) -> GraphQLField | None:
    if isinstance(parent, GraphQLObjectType | GraphQLInterfaceType):
        field: GraphQLField | None = parent.fields.get(name)
        return field
    return None
