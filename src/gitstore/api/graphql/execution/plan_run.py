"""Execution plans, run: one execution of a compiled plan (see ``plan`` for the design and
the semantics, which are graphql-core 3.3's).

:class:`Run` holds what one execution needs (context, coerced variables, the errors so far
and the positions they nulled) and walks the field plans: resolve, complete, record errors,
propagate nulls, gather sibling awaitables. The common case, a leaf field whose resolver
answered synchronously, is completed inline (``complete_leaf``); graphql-core's default
resolver is inlined too, building the resolver info only when the value is callable.
:func:`is_awaitable` is graphql-core's predicate, answered from the value's type when it can.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping, Sequence
from types import CoroutineType, GeneratorType
from typing import Any, TypeGuard, cast

from graphql import (
    ExecutionResult,
    FieldNode,
    GraphQLError,
    GraphQLLeafType,
    GraphQLObjectType,
    GraphQLResolveInfo,
    GraphQLResolveInfoHelpers,
    GraphQLSchema,
    OperationDefinitionNode,
    located_error,
)
from graphql.execution.values import get_argument_values
from graphql.pyutils import Path, Undefined, inspect, is_iterable
from graphql.pyutils import is_awaitable as _graphql_is_awaitable

from .plan_shapes import (
    FieldPlan,
    LeafShape,
    ListShape,
    NonNullShape,
    ObjectShape,
    Shape,
    copy_args,
)

IsAwaitable = Callable[[Any], TypeGuard[Awaitable[Any]]]
_new_tuple = tuple.__new__  # builds a NamedTuple without its Python-level __new__
_NO_ARGS: dict[str, Any] = {}
_BACKGROUND: set[asyncio.Future[Any]] = set()  # see _settle_in_background
_HELPERS: dict[IsAwaitable, Any] = {}  # see _helpers
# types whose values are never awaitable (no ``__await__``): learnt as they come, bounded
_NOT_AWAITABLE: set[type] = {str, int, float, bool, type(None), dict, list, tuple}
_NOT_AWAITABLE_MAX = 1024


def is_awaitable(value: Any) -> TypeGuard[Awaitable[Any]]:
    """graphql-core's ``is_awaitable``, answered from the value's type when it can be: a
    coroutine is awaitable, a type without ``__await__`` is not (``await`` looks the method
    up on the type); generators are asked each time (a generator-based coroutine is one by
    a flag of its code)."""
    kind = type(value)
    if kind is CoroutineType:
        return True
    if kind in _NOT_AWAITABLE:
        return False
    if kind is GeneratorType or hasattr(kind, "__await__"):
        return _graphql_is_awaitable(value)
    if len(_NOT_AWAITABLE) < _NOT_AWAITABLE_MAX:
        _NOT_AWAITABLE.add(kind)
    return _graphql_is_awaitable(value)


class Run:
    """The state of one execution of a plan: variables, context, collected errors."""

    __slots__ = (
        "context",
        "error_positions",
        "errors",
        "fragments",
        "helpers",
        "is_awaitable",
        "operation",
        "schema",
        "variables",
    )

    def __init__(
        self,
        schema: GraphQLSchema,
        operation: OperationDefinitionNode,
        context: Any,
        variables: Any,
        is_awaitable: IsAwaitable,
    ) -> None:
        self.schema = schema
        self.operation = operation
        self.context = context
        self.variables = variables
        self.is_awaitable = is_awaitable
        self.errors: list[GraphQLError] = []
        self.error_positions: set[Path | None] = set()
        self.fragments: dict[str, Any] = {}  # plans have none; info.fragments is a dict
        self.helpers = _helpers(is_awaitable)

    # -------------------------------------------------------------- results and errors
    def result(self, data: dict[str, Any] | None) -> ExecutionResult:
        return ExecutionResult(data, self.errors or None)

    async def await_data(self, data: Awaitable[dict[str, Any]]) -> ExecutionResult:
        try:
            return self.result(await data)
        except GraphQLError as error:
            self.add_error(error, None)
            return self.result(None)

    def add_error(self, error: GraphQLError, path: Path | None) -> None:
        """Record an error unless its position (or an ancestor) was already nulled."""
        positions = self.error_positions
        if None in positions:
            return
        position = path
        while position is not None:
            if position in positions:
                return
            position = position.prev
        positions.add(path)
        self.errors.append(error)

    def field_error(
        self, raw: Exception, non_null: bool, nodes: list[FieldNode], path: Path
    ) -> None:
        error = located_error(raw, nodes, path.as_list())
        if non_null:
            raise error  # null propagates to the parent
        self.add_error(error, path)

    def settle_in_background(self, awaitables: list[Any]) -> None:
        _settle_in_background(awaitables)

    # -------------------------------------------------------------- fields
    def execute_fields(
        self,
        fields: list[FieldPlan],
        parent_type: GraphQLObjectType,
        source: Any,
        path: Path | None,
    ) -> dict[str, Any] | Awaitable[dict[str, Any]]:
        results: dict[str, Any] = {}
        pending: list[str] = []
        is_awaitable = self.is_awaitable
        type_name = parent_type.name
        try:
            for field in fields:
                value = self.execute_field(
                    field, parent_type, source, _new_tuple(Path, (path, field.key, type_name))
                )
                results[field.key] = value
                if is_awaitable(value):
                    pending.append(field.key)
        except Exception:
            if pending:
                self.settle_in_background([results[key] for key in pending])
            raise
        if not pending:
            return results
        return self._gather_fields(results, pending)

    async def _gather_fields(self, results: dict[str, Any], pending: list[str]) -> dict[str, Any]:
        if len(pending) == 1:
            key = pending[0]
            results[key] = await results[key]
        else:
            values = await gather_settled([results[key] for key in pending])
            results.update(zip(pending, values, strict=True))
        return results

    def info(
        self, field: FieldPlan, parent_type: GraphQLObjectType, path: Path
    ) -> GraphQLResolveInfo[Any]:
        return _new_tuple(
            GraphQLResolveInfo,
            (
                field.name,
                field.nodes,
                field.return_type,
                parent_type,
                path,
                self.schema,
                self.fragments,
                None,  # root value
                self.operation,
                self.variables,
                self.context,
                self.is_awaitable,
                None,  # abort signal
                self.helpers,
            ),
        )

    def execute_field(
        self, field: FieldPlan, parent_type: GraphQLObjectType, source: Any, path: Path
    ) -> Any:
        info: GraphQLResolveInfo[Any] | None = None
        try:
            if not field.has_args:
                args = _NO_ARGS
            elif field.fixed_args is not None:
                args = copy_args(field.fixed_args)
            else:
                args = get_argument_values(field.definition, field.node, self.variables)
            if field.by_default:  # graphql-core's default_field_resolver, inlined
                name = field.name
                result = (
                    source.get(name) if isinstance(source, Mapping) else getattr(source, name, None)
                )
                if callable(result):
                    info = self.info(field, parent_type, path)
                    result = result(info, **args)
            else:
                info = self.info(field, parent_type, path)
                result = field.resolve(source, info, **args)
            is_awaitable = self.is_awaitable
            leaf = field.leaf
            if leaf is not None and not isinstance(result, Exception) and not is_awaitable(result):
                return complete_leaf(leaf, field, parent_type, result)
            if info is None:
                info = self.info(field, parent_type, path)
            if is_awaitable(result):
                return self._complete_awaitable(field, info, path, result)
            completed = self.complete(field.shape, field, info, path, result)
            if is_awaitable(completed):
                return self._await_completed(field, path, completed)
        except Exception as raw:  # noqa: BLE001 - a field error, by the spec
            self.field_error(raw, field.non_null, field.nodes, path)
            return None
        return completed

    async def _complete_awaitable(
        self, field: FieldPlan, info: GraphQLResolveInfo[Any], path: Path, result: Any
    ) -> Any:
        try:
            completed = self.complete(field.shape, field, info, path, await result)
            if self.is_awaitable(completed):
                completed = await completed
        except Exception as raw:  # noqa: BLE001 - a field error, by the spec
            self.field_error(raw, field.non_null, field.nodes, path)
            return None
        return completed

    async def _await_completed(self, field: FieldPlan, path: Path, completed: Any) -> Any:
        try:
            return await completed
        except Exception as raw:  # noqa: BLE001 - a field error, by the spec
            self.field_error(raw, field.non_null, field.nodes, path)
            return None

    # -------------------------------------------------------------- completion
    def complete(
        self,
        shape: Shape,
        field: FieldPlan,
        info: GraphQLResolveInfo[Any],
        path: Path,
        result: Any,
    ) -> Any:
        if isinstance(result, Exception):
            raise result
        if isinstance(shape, NonNullShape):
            completed = self.complete(shape.inner, field, info, path, result)
            if completed is None:
                raise TypeError(
                    f"Cannot return null for non-nullable field"
                    f" {info.parent_type}.{info.field_name}."
                )
            return completed
        if result is None or result is Undefined:
            return None
        if isinstance(shape, LeafShape):
            coerced = shape.type.coerce_output_value(result)
            if coerced is Undefined or coerced is None:
                raise TypeError(
                    f"Expected `{inspect(shape.type)}.coerce_output_value("
                    f"{inspect(result)})` to return non-nullable value, returned:"
                    f" {inspect(coerced)}"
                )
            return coerced
        if isinstance(shape, ObjectShape):
            return self.complete_object(shape, field, info, path, result)
        return self.complete_list(shape, field, info, path, result)

    def complete_object(
        self,
        shape: ObjectShape,
        field: FieldPlan,
        info: GraphQLResolveInfo[Any],
        path: Path,
        result: Any,
    ) -> Any:
        type_ = shape.type
        if type_.is_type_of:
            is_type_of = type_.is_type_of(result, info)
            if self.is_awaitable(is_type_of):
                return self._complete_object_after(shape, field, path, result, is_type_of)
            if not is_type_of:
                raise _invalid_return_type(type_, result, field.nodes)
        return self.execute_fields(shape.fields, type_, result, path)

    async def _complete_object_after(
        self, shape: ObjectShape, field: FieldPlan, path: Path, result: Any, is_type_of: Any
    ) -> Any:
        if not await is_type_of:
            raise _invalid_return_type(shape.type, result, field.nodes)
        completed = self.execute_fields(shape.fields, shape.type, result, path)
        if self.is_awaitable(completed):
            return await completed
        return completed

    def complete_list(
        self,
        shape: ListShape,
        field: FieldPlan,
        info: GraphQLResolveInfo[Any],
        path: Path,
        result: Any,
    ) -> Any:
        if hasattr(result, "__aiter__"):
            return self._complete_async_list(shape, field, info, path, result)
        if not is_iterable(result):
            raise GraphQLError(
                "Expected Iterable, but did not find one for field"
                f" '{info.parent_type}.{info.field_name}'."
            )
        return self._complete_items(shape, field, info, path, result)

    async def _complete_async_list(
        self,
        shape: ListShape,
        field: FieldPlan,
        info: GraphQLResolveInfo[Any],
        path: Path,
        result: Any,
    ) -> list[Any]:
        items = [item async for item in result]
        completed = self._complete_items(shape, field, info, path, items)
        if self.is_awaitable(completed):
            return cast("list[Any]", await completed)
        return cast("list[Any]", completed)

    def _complete_items(
        self,
        shape: ListShape,
        field: FieldPlan,
        info: GraphQLResolveInfo[Any],
        path: Path,
        items: Any,
    ) -> list[Any] | Awaitable[list[Any]]:
        inner, non_null = shape.inner, shape.item_non_null
        is_awaitable = self.is_awaitable
        completed: list[Any] = []
        pending: list[int] = []
        iterator = iter(items)
        try:
            for index, item in enumerate(iterator):
                item_path = Path(path, index, None)
                if is_awaitable(item):
                    completed.append(
                        self._complete_item_awaitable(inner, field, info, item_path, item)
                    )
                    pending.append(index)
                    continue
                try:
                    value = self.complete(inner, field, info, item_path, item)
                    if is_awaitable(value):
                        value = self._await_item(non_null, field, item_path, value)
                        pending.append(index)
                except Exception as raw:  # noqa: BLE001 - a field error, by the spec
                    self.field_error(raw, non_null, field.nodes, item_path)
                    value = None
                completed.append(value)
        except Exception:
            leftovers = [completed[index] for index in pending]
            leftovers += [item for item in iterator if is_awaitable(item)]
            if leftovers:
                self.settle_in_background(leftovers)
            raise
        if not pending:
            return completed
        return self._gather_items(completed, pending)

    async def _gather_items(self, completed: list[Any], pending: list[int]) -> list[Any]:
        if len(pending) == 1:
            completed[pending[0]] = await completed[pending[0]]
        else:
            values = await gather_settled([completed[index] for index in pending])
            for index, value in zip(pending, values, strict=True):
                completed[index] = value
        return completed

    async def _complete_item_awaitable(
        self,
        inner: Shape,
        field: FieldPlan,
        info: GraphQLResolveInfo[Any],
        path: Path,
        item: Any,
    ) -> Any:
        try:
            completed = self.complete(inner, field, info, path, await item)
            if self.is_awaitable(completed):
                completed = await completed
        except Exception as raw:  # noqa: BLE001 - a field error, by the spec
            self.field_error(raw, isinstance(inner, NonNullShape), field.nodes, path)
            return None
        return completed

    async def _await_item(self, non_null: bool, field: FieldPlan, path: Path, value: Any) -> Any:
        try:
            return await value
        except Exception as raw:  # noqa: BLE001 - a field error, by the spec
            self.field_error(raw, non_null, field.nodes, path)
            return None


def complete_leaf(
    leaf: GraphQLLeafType, field: FieldPlan, parent_type: GraphQLObjectType, result: Any
) -> Any:
    """``complete`` for a (non-null) leaf field's value, inlined for the common case."""
    if result is None or result is Undefined:
        if field.non_null:
            raise TypeError(
                f"Cannot return null for non-nullable field {parent_type}.{field.name}."
            )
        return None
    coerced = leaf.coerce_output_value(result)
    if coerced is Undefined or coerced is None:
        raise TypeError(
            f"Expected `{inspect(leaf)}.coerce_output_value({inspect(result)})` to return"
            f" non-nullable value, returned: {inspect(coerced)}"
        )
    return coerced


async def gather_settled(awaitables: Sequence[Awaitable[Any]]) -> list[Any]:
    """The values of ``awaitables``, run concurrently; the first failure is raised once the
    others are cancelled and finished (graphql-core's ``gather_with_cancel``, but nothing is
    ever left un-awaited). ``asyncio.gather`` cancels its children as soon as the caller is
    cancelled, and a task cancelled before its first step never runs its coroutine, so the
    resolver coroutine that coroutine holds was "never awaited". Here a cancelled caller
    leaves the children to finish in the background instead (``_settle_in_background``); on a
    child's failure every sibling has already started (their first steps were scheduled
    before any child could finish), so cancelling them is safe."""
    futures = [asyncio.ensure_future(awaitable) for awaitable in awaitables]
    try:
        _, pending = await asyncio.wait(futures, return_when=asyncio.FIRST_EXCEPTION)
    except BaseException:
        _settle_in_background(futures)
        raise
    if pending:
        for future in pending:
            future.cancel()
        await asyncio.wait(pending)
    failure: BaseException | None = None
    for future in futures:
        if not future.cancelled():
            error = future.exception()  # retrieved: no "never retrieved" log
            if error is not None and failure is None:
                failure = error
    if failure is not None:
        raise failure
    return [future.result() for future in futures]


def _settle_in_background(awaitables: list[Any]) -> None:
    """Run awaitables nobody waits for any more to their end, errors swallowed (asyncio
    keeps only weak references to tasks, so the futures are held here until done)."""
    future = asyncio.gather(*awaitables, return_exceptions=True)
    _BACKGROUND.add(future)
    future.add_done_callback(_BACKGROUND.discard)


def _helpers(is_awaitable: IsAwaitable) -> Any:
    """``info.async_helpers``: ``gather`` (cancel the rest on the first failure) and
    ``track`` (settle possibly awaitable values in the background). They hold no
    reference to a run (no reference cycle per request), so one pair serves every run
    with the same ``is_awaitable``."""
    helpers = _HELPERS.get(is_awaitable)
    if helpers is None:
        helpers = _make_helpers(is_awaitable)
        if len(_HELPERS) < 8:  # callers pass one or two predicates; never grow unbounded
            _HELPERS[is_awaitable] = helpers
    return helpers


def _make_helpers(is_awaitable: IsAwaitable) -> Any:

    def gather(values: Sequence[Awaitable[Any]]) -> Awaitable[list[Any]]:
        return gather_settled(values)

    def track(values: Sequence[Any]) -> None:
        awaitables = [value for value in values if is_awaitable(value)]
        if awaitables:
            _settle_in_background(awaitables)

    return GraphQLResolveInfoHelpers(gather, track)


def _invalid_return_type(
    type_: GraphQLObjectType, result: Any, nodes: list[FieldNode]
) -> GraphQLError:
    return GraphQLError(f"Expected value of type '{type_}' but got: {inspect(result)}.", nodes)
