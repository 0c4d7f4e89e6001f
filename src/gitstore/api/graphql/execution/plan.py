"""Execution plans: a lean executor for cached query documents of plain fields.

graphql-core's executor works everything out again on every request: it collects the
selection sets, looks up every field definition, decides how to complete each value from
its type, and builds its own executor objects around that. For a validated document that is
executed over and over (the document cache hands out the same ``DocumentNode``), all of that
is known once. Measured on the 2-core dev box (graphql-core 3.3.2, in-process, best of
many runs), executing the cached ten-field ``namespace(by:)`` lookup costs ~140 us on
graphql-core (~40 us fixed, ~12 us per field) and ~32 us on its plan; before plans it was
about 70 % of the server's Python time for that request.

:func:`compile_plan` turns one operation into a tree of field plans (response key, field
definition, resolver, and the shape its value completes to: non-null, list, leaf or object
with its own field plans). It accepts the shape that dominates reads: a **query** whose
selections are plain fields, possibly aliased and repeated (merged like graphql-core merges
them), over object, scalar, enum and list types, ``__typename`` included, with or without
variables. It declines (``None``) anything else: mutations and subscriptions, fragments,
directives (``@skip``/``@include``), interface and union types, ``__schema``/``__type``
introspection, and any graphql-core other than the 3.3 line this was written against. A
declined operation runs on graphql-core as before, so the plan is only ever an
optimisation.

:meth:`Plan.execute` follows graphql-core 3.3's executor (which implements the spec's
"Executing Requests"), and ``tests/api/test_plan.py`` checks it against graphql-core on the
same documents: variables are coerced by graphql-core's ``get_variable_values`` (errors give
the same errors-only result) and arguments by ``get_argument_values``; resolvers get a real
``GraphQLResolveInfo``; leaves are completed with the type's ``coerce_output_value``;
``is_type_of`` is honoured; a field error becomes a located error (message, locations,
path) and a null, and a null in a non-null position propagates to the nearest nullable
parent (``data`` itself for a non-null root field), dropping later errors from inside the
nulled subtree; sibling fields that return awaitables run concurrently, and when one of them
nulls the parent the others are cancelled; awaitables left behind by a synchronous error are
settled in the background rather than orphaned, and so are siblings still waiting for their
first step when the request itself is cancelled (``plan_run.gather_settled``: no resolver
coroutine is ever left "never awaited").

Code: this module (``Plan``, ``compile_plan``), ``plan_shapes`` (compiling selections into
field plans) and ``plan_run`` (one execution). ``PreparedDocument.plan(operation)`` compiles
on first use and keeps the plan with the cached document, so a schema swap (which empties
the document cache) drops the plans with it.
"""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Any, cast

from graphql import (
    DocumentNode,
    ExecutionResult,
    GraphQLError,
    GraphQLObjectType,
    GraphQLResolveInfo,
    GraphQLSchema,
    OperationDefinitionNode,
    OperationType,
)
from graphql import version_info as graphql_version
from graphql.execution.values import get_variable_values

try:
    from graphql.execution import VariableValues

    from .plan_run import IsAwaitable, Run, is_awaitable
    from .plan_shapes import FieldPlan, compile_selections

    _IMPORTED = True
except ImportError:  # graphql-core 3.2 lacks the execution API plans use: graphql-core runs all
    from graphql.pyutils import is_awaitable

    _IMPORTED = False

__all__ = ["SUPPORTED", "Plan", "compile_plan", "is_awaitable"]

# graphql-core's resolver info, field by field, as plan_run builds it
_INFO_FIELDS = (
    "field_name",
    "field_nodes",
    "return_type",
    "parent_type",
    "path",
    "schema",
    "fragments",
    "root_value",
    "operation",
    "variable_values",
    "context",
    "is_awaitable",
    "abort_signal",
    "async_helpers",
)
SUPPORTED = (
    _IMPORTED
    and (graphql_version.major, graphql_version.minor) == (3, 3)
    and tuple(GraphQLResolveInfo._fields) == _INFO_FIELDS
)
MAX_VARIABLE_ERRORS = 50  # graphql-core's default (max_coercion_errors)


class Plan:
    """A compiled query operation; ``execute`` runs it (see the module docstring)."""

    __slots__ = ("document", "fields", "operation", "root_type", "schema")

    def __init__(
        self,
        schema: GraphQLSchema,
        document: DocumentNode,
        operation: OperationDefinitionNode,
        root_type: GraphQLObjectType,
        fields: list[FieldPlan],
    ) -> None:
        self.schema = schema
        self.document = document
        self.operation = operation
        self.root_type = root_type
        self.fields = fields

    def execute(
        self,
        context: Any,
        variables: dict[str, Any] | None,
        is_awaitable: IsAwaitable,
    ) -> ExecutionResult | Awaitable[ExecutionResult]:
        definitions = self.operation.variable_definitions
        if definitions:
            coerced = get_variable_values(
                self.schema, definitions, variables or {}, max_errors=MAX_VARIABLE_ERRORS
            )
            if isinstance(coerced, list):
                return ExecutionResult(None, coerced)
        else:  # what get_variable_values gives for no definitions, without the walk
            coerced = VariableValues({}, {})
        run = Run(self.schema, self.operation, context, coerced, is_awaitable)
        try:
            data = run.execute_fields(self.fields, self.root_type, None, None)
        except GraphQLError as error:
            run.add_error(error, None)
            return run.result(None)
        if is_awaitable(data):
            return run.await_data(data)
        return run.result(cast("dict[str, Any]", data))


def compile_plan(
    schema: GraphQLSchema, document: DocumentNode, operation: OperationDefinitionNode
) -> Plan | None:
    """The plan of one operation of a validated document, or None when it is not one this
    module runs (graphql-core then does)."""
    if not SUPPORTED or operation.operation is not OperationType.QUERY or operation.directives:
        return None
    root_type = schema.query_type
    if root_type is None:
        return None
    try:
        fields = compile_selections(schema, root_type, [operation.selection_set])
    except RecursionError:
        return None
    return None if fields is None else Plan(schema, document, operation, root_type, fields)
