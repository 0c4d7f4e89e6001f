"""Depth and cost limits, checked as a validation rule (so cached documents are checked once).

* **Depth** is the longest chain of nested fields in an operation (root fields are depth 1),
  following fragments. ``{ viewer { username } }`` has depth 2.
* **Cost** is an estimate of the objects a query can touch: every field costs 1, and a field
  that takes ``first`` (or ``last``) multiplies the cost of its selection by that number: the
  literal value, the argument's default when it is left out, and the largest page size when it
  is a variable (validation is cached per query text, before variables are known).
  ``namespaces(first: 20) { nodes { id identifier } }`` costs 1 + 20 * (1 + 2) = 61.
  Other list fields (``edges``, ``nodes`` of a connection) are paid for by ``first`` already.
* Introspection fields (``__schema``, ``__type``, ``__typename`` and everything below them)
  cost 1 each like any field, so a thousand aliased ``__typename`` are as costly as a
  thousand other fields; they are left out of the depth (graphql-core's own
  ``MaxIntrospectionDepthRule`` bounds introspection nesting). An operation selects
  ``__schema`` at most once and ``__type`` at most ``MAX_TYPE_LOOKUPS`` times: one
  introspection answer is the whole schema, and hundreds of aliases of it took seconds of
  event loop and tens of megabytes (``FIELD_REPEATED``). A standard introspection query (the
  one GraphiQL and code generators send) passes.
* **Mutation root fields**: at most ``max_mutation_fields`` per operation (distinct response
  keys, through fragments): they run one after the other, and about a thousand of them
  exhausted graphql-core's serial executor's recursion (``TOO_MANY_MUTATIONS``, setting
  ``GITSTORE_API__MAX_MUTATION_FIELDS``).
* **Once per operation**: a root field whose definition has ``extensions`` ``{"once_per_operation":
  True}`` (``login``: each costs an argon2 check, so aliases would be a thousand password
  guesses per request) may be selected at most once (``FIELD_REPEATED``).

A rejected operation gets one error naming the limit, the measured value and the setting that
changes it, with ``extensions.code`` ``QUERY_TOO_DEEP``, ``QUERY_TOO_COSTLY``,
``TOO_MANY_MUTATIONS`` or ``FIELD_REPEATED``. Root fields are checked first, then depth, and
cost only when depth is within bounds, which also bounds the recursion of the cost walk.
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
    OperationType,
    SchemaMetaFieldDef,
    SelectionSetNode,
    TypeMetaFieldDef,
    ValidationRule,
    get_named_type,
)
from graphql.validation import ValidationContext

PAGINATION_ARGS = ("first", "last")
ONCE_PER_OPERATION = "once_per_operation"  # a GraphQLField extension, see the docstring
MAX_TYPE_LOOKUPS = 10  # __type selections per operation
_INTROSPECTION_ROOTS = {"__schema": 1, "__type": MAX_TYPE_LOOKUPS}


def limits_rule(
    *, max_depth: int, max_cost: int, max_page_size: int, max_mutation_fields: int = 25
) -> type[ValidationRule]:
    """A validation rule class enforcing the given limits."""

    class QueryLimitsRule(ValidationRule):
        def enter_operation_definition(self, node: OperationDefinitionNode, *_args: Any) -> None:
            walker = _Walker(self.context, max_depth, max_page_size)
            root = self.context.schema.get_root_type(node.operation)
            error = _root_fields_error(walker, node, root, max_mutation_fields)
            if error is not None:
                self.report_error(error)
                return
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


def _root_fields_error(
    walker: _Walker,
    node: OperationDefinitionNode,
    root: GraphQLObjectType | None,
    max_mutation_fields: int,
) -> GraphQLError | None:
    """The error for too many mutation root fields, or a field repeated past its limit."""
    keys = walker.root_keys(node.selection_set, frozenset())
    for name, aliases in keys.items():
        limit = _INTROSPECTION_ROOTS.get(name)
        if limit is None:
            field = _field(root, name)
            if field is None or not (field.extensions or {}).get(ONCE_PER_OPERATION):
                continue
            limit = 1
        if len(aliases) > limit:
            times = "once" if limit == 1 else f"{limit} times"
            return GraphQLError(
                f"{name} may be selected at most {times} per operation, found"
                f" {len(aliases)} (aliases included)",
                node,
                extensions={"code": "FIELD_REPEATED", "field": name, "limit": limit},
            )
    if node.operation is OperationType.MUTATION:
        total = sum(len(aliases) for aliases in keys.values())
        if total > max_mutation_fields:
            return GraphQLError(
                f"{total} mutation fields in one operation exceed the limit of"
                f" {max_mutation_fields} (they run one after the other; send fewer per"
                " request; setting GITSTORE_API__MAX_MUTATION_FIELDS)",
                node,
                extensions={"code": "TOO_MANY_MUTATIONS", "limit": max_mutation_fields},
            )
    return None


class _Walker:
    def __init__(self, context: ValidationContext, max_depth: int, max_page_size: int) -> None:
        self.context = context
        self.max_depth = max_depth
        self.max_page_size = max_page_size
        self._fragment_depth: dict[tuple[str, int], int] = {}
        self.truncated = False
        self._fragment_cost: dict[str, int] = {}
        self._fragment_keys: dict[str, dict[str, set[str]]] = {}

    def _fragment(self, name: str) -> FragmentDefinitionNode | None:
        return self.context.get_fragment(name)

    # ------------------------------------------------------------------ root fields
    def root_keys(
        self, selection_set: SelectionSetNode, seen: frozenset[str]
    ) -> dict[str, set[str]]:
        """The root fields of a selection set, through fragments: field name -> the distinct
        response keys it is selected under (fields with one key run once). Memoised per
        fragment, so fragments spread many times cost one walk each."""
        found: dict[str, set[str]] = {}
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                key = selection.alias.value if selection.alias else selection.name.value
                found.setdefault(selection.name.value, set()).add(key)
                continue
            if isinstance(selection, InlineFragmentNode):
                below = self.root_keys(selection.selection_set, seen)
            elif isinstance(selection, FragmentSpreadNode):
                name = selection.name.value
                fragment = self._fragment(name)
                if fragment is None or name in seen:
                    continue
                if name not in self._fragment_keys:
                    self._fragment_keys[name] = self.root_keys(
                        fragment.selection_set, seen | {name}
                    )
                below = self._fragment_keys[name]
            else:
                continue
            for field_name, keys in below.items():
                found.setdefault(field_name, set()).update(keys)
        return found

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
                field = _field(parent, name) or _introspection_field(name)
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


def _introspection_field(name: str) -> GraphQLField | None:
    """``__schema`` / ``__type`` / ``__typename``: not in their parent's ``fields``."""
    return _META_FIELDS.get(name) if name.startswith("__") else None


_META_FIELDS: dict[str, GraphQLField] = {"__schema": SchemaMetaFieldDef, "__type": TypeMetaFieldDef}
