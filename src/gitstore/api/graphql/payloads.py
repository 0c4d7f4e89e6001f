"""Mutations the Relay way: ``name(input: NameInput!): NamePayload!``.

:func:`add_mutation` makes the input type (with ``clientMutationId``), the payload type (with
``clientMutationId`` and ``userErrors: [UserError!]!``) and a resolver around a plain async
function ``fn(info, input) -> dict`` of payload fields. The wrapper:

* echoes ``clientMutationId``;
* turns expected failures into ``userErrors`` with ``data`` fields null: every permanent
  project error (``InvalidArgument``, ``NotFound``, ``AlreadyExists``, ``FailedPrecondition``,
  ``PermissionDenied``, ``InvalidCredentials`` ...) and ``Aborted`` (a lost race);
* reports ``TooManyAttempts`` (a refused ``login``) as a user error too, its message saying
  how long to wait;
* lets other ``Unauthenticated`` errors through as a GraphQL error (HTTP 401) and
  ``Unavailable`` as a GraphQL error with its code (the request may be retried), and any
  other exception to the error formatter (``internal error``).

``userErrors[].field`` is the input field in GraphQL spelling (``expires_in_days`` in a domain
error becomes ``expiresInDays``); ``code`` is a ``UserErrorCode`` value (the error's own code
when the schema knows it, else the code of its error class).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from graphql import (
    GraphQLArgument,
    GraphQLField,
    GraphQLInputField,
    GraphQLInputObjectType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLString,
)

from gitstore.domain.errors import (
    Aborted,
    AlreadyExists,
    FailedPrecondition,
    GitStoreError,
    InvalidArgument,
    NotFound,
    PermanentError,
    PermissionDenied,
    TooManyAttempts,
    Unauthenticated,
)

from .builder import SchemaBuilder
from .execution.limits import ONCE_PER_OPERATION
from .info import ResolveInfo
from .input_text import check_input_text

MutationFn = Callable[[ResolveInfo, dict[str, Any]], Awaitable[dict[str, Any]]]

_FALLBACK_CODES: tuple[tuple[type[GitStoreError], str], ...] = (
    (InvalidArgument, "INVALID_ARGUMENT"),
    (NotFound, "NOT_FOUND"),
    (AlreadyExists, "ALREADY_EXISTS"),
    (FailedPrecondition, "FAILED_PRECONDITION"),
    (PermissionDenied, "PERMISSION_DENIED"),
    (Aborted, "ABORTED"),
)


def camel_case(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


def is_user_error(exc: BaseException) -> bool:
    """Does ``exc`` belong in a payload's ``userErrors`` (rather than ``errors``)?"""
    if isinstance(exc, TooManyAttempts):
        return True
    return isinstance(exc, PermanentError | Aborted) and not isinstance(exc, Unauthenticated)


def user_error(exc: GitStoreError, codes: frozenset[str]) -> dict[str, Any]:
    code = exc.code
    if code not in codes:
        code = next((c for cls, c in _FALLBACK_CODES if isinstance(exc, cls)), "INVALID_ARGUMENT")
    field = camel_case(exc.field.rsplit(".", 1)[-1]) if exc.field else None
    return {"field": field, "message": exc.message, "code": code}


def add_mutation(
    builder: SchemaBuilder,
    name: str,
    *,
    input_fields: Mapping[str, GraphQLInputField],
    payload_fields: Mapping[str, GraphQLField],
    resolve: MutationFn,
    description: str | None = None,
    once_per_operation: bool = False,
) -> None:
    """A Relay-style mutation ``name(input: <Name>Input!): <Name>Payload!``. With
    ``once_per_operation`` an operation may select it only once (``limits``)."""
    type_base = name[:1].upper() + name[1:]
    input_type = builder.add_type(
        GraphQLInputObjectType(
            f"{type_base}Input",
            {**input_fields, "clientMutationId": GraphQLInputField(GraphQLString)},
        )
    )
    payload_type = builder.add_type(
        GraphQLObjectType(
            f"{type_base}Payload",
            {
                **payload_fields,
                "clientMutationId": GraphQLField(
                    GraphQLString, description="Echo of the input's clientMutationId."
                ),
                "userErrors": GraphQLField(
                    GraphQLNonNull(GraphQLList(GraphQLNonNull(builder.user_error))),
                    description="Why the mutation did nothing (empty on success).",
                ),
            },
        )
    )

    async def resolver(_root: Any, info: ResolveInfo, input: dict[str, Any]) -> Any:
        echo = {"clientMutationId": input.get("clientMutationId")}
        try:
            check_input_text(input_type, input)
            result = await resolve(info, input)
        except GitStoreError as exc:
            if not is_user_error(exc):
                raise
            return {**echo, "userErrors": [user_error(exc, builder.user_error_codes)]}
        return {**result, **echo, "userErrors": []}

    builder.add_mutation_field(
        name,
        GraphQLField(
            GraphQLNonNull(payload_type),
            args={"input": GraphQLArgument(GraphQLNonNull(input_type))},
            resolve=resolver,
            description=description,
            extensions={ONCE_PER_OPERATION: True} if once_per_operation else None,
        ),
    )
