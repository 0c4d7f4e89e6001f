"""Turning execution errors into what a client may see.

* errors of the project's own types keep their message and get ``extensions.code`` (and
  ``extensions.field`` when the error names one), except those that are neither the caller's
  fault nor passing (plain ``GitStoreError``, e.g. a git service ``INTERNAL``), which are
  treated like bugs;
* errors graphql-core made (parse, validation, coercion) keep their message and code;
* anything else is a bug: the client gets ``"internal error"`` with code ``INTERNAL`` and the
  request id, and the full traceback goes to the server log under that request id. No
  exception text or traceback ever reaches a client.
"""

from __future__ import annotations

import logging
from typing import Any

from graphql import GraphQLError

from gitstore.domain.errors import (
    GitStoreError,
    InvalidArgument,
    NotFound,
    PermanentError,
    PermissionDenied,
    RetryableError,
    TooManyAttempts,
    Unauthenticated,
    Unavailable,
)

log = logging.getLogger("gitstore.api")

INTERNAL_MESSAGE = "internal error"
_HTTP_STATUS: tuple[tuple[type[GitStoreError], int], ...] = (
    (InvalidArgument, 400),
    (TooManyAttempts, 429),
    (Unauthenticated, 401),
    (PermissionDenied, 403),
    (NotFound, 404),
    (Unavailable, 503),
)


def http_status(exc: GitStoreError) -> int | None:
    """The HTTP status of an error the plain-HTTP routes (git Smart HTTP, the storefront
    floor) answer with its message; None for one that is to be logged and answered 500."""
    return next((status for kind, status in _HTTP_STATUS if isinstance(exc, kind)), None)


def format_error(error: GraphQLError, request_id: str) -> dict[str, Any]:
    original = error.original_error
    while isinstance(original, GraphQLError) and original.original_error is not None:
        original = original.original_error
    if original is None or isinstance(original, GraphQLError):
        formatted: dict[str, Any] = dict(error.formatted)
        given: dict[str, Any] = dict(error.extensions or {})
        given.setdefault("code", "BAD_REQUEST" if error.path is None else "INTERNAL")
        formatted["extensions"] = given
        return formatted
    if isinstance(original, PermanentError | RetryableError):
        extensions: dict[str, Any] = {"code": original.code}
        if original.field:
            extensions["field"] = original.field
        if isinstance(original, TooManyAttempts):
            extensions["retryAfter"] = original.retry_after
        return _shape(original.message, error, extensions)
    log.error(
        "request %s: unexpected error at %s",
        request_id,
        ".".join(str(p) for p in error.path or ()) or "(request)",
        exc_info=original,
    )
    return _shape(INTERNAL_MESSAGE, error, {"code": "INTERNAL", "requestId": request_id})


def internal_error(request_id: str) -> dict[str, Any]:
    return {
        "message": INTERNAL_MESSAGE,
        "extensions": {"code": "INTERNAL", "requestId": request_id},
    }


def request_error(message: str, code: str) -> dict[str, Any]:
    return {"message": message, "extensions": {"code": code}}


def _shape(message: str, error: GraphQLError, extensions: dict[str, Any]) -> dict[str, Any]:
    formatted: dict[str, Any] = {"message": message}
    if error.locations:
        formatted["locations"] = [loc.formatted for loc in error.locations]
    if error.path is not None:
        formatted["path"] = list(error.path)
    formatted["extensions"] = extensions
    return formatted
