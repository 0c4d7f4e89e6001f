"""Domain errors <-> canonical gRPC status codes, for every gRPC boundary of the project.

Servers (the git service, the API's hook service) answer a ``GitStoreError`` with
``status_of(exc)`` (matched along the exception's class hierarchy; anything else is
``INTERNAL``); clients turn a status back with ``error_class(code)`` (None for codes that
carry no domain meaning, e.g. ``INTERNAL``, which each client words itself).
"""

from __future__ import annotations

import grpc

from gitstore.domain import errors

_STATUS_OF: dict[type[errors.GitStoreError], grpc.StatusCode] = {
    errors.InvalidArgument: grpc.StatusCode.INVALID_ARGUMENT,
    errors.NotFound: grpc.StatusCode.NOT_FOUND,
    errors.AlreadyExists: grpc.StatusCode.ALREADY_EXISTS,
    errors.FailedPrecondition: grpc.StatusCode.FAILED_PRECONDITION,
    errors.Aborted: grpc.StatusCode.ABORTED,
    errors.PermissionDenied: grpc.StatusCode.PERMISSION_DENIED,
    errors.Unauthenticated: grpc.StatusCode.UNAUTHENTICATED,
    errors.Unavailable: grpc.StatusCode.UNAVAILABLE,
}

_ERROR_OF: dict[grpc.StatusCode, type[errors.GitStoreError]] = {
    **{code: kind for kind, code in _STATUS_OF.items()},
    grpc.StatusCode.DEADLINE_EXCEEDED: errors.Unavailable,
    grpc.StatusCode.RESOURCE_EXHAUSTED: errors.Unavailable,
}


def status_of(exc: errors.GitStoreError) -> grpc.StatusCode:
    """The status code a server answers ``exc`` with (``INTERNAL`` if it has none)."""
    for kind in type(exc).__mro__:
        if kind in _STATUS_OF:
            return _STATUS_OF[kind]
    return grpc.StatusCode.INTERNAL


def error_class(code: grpc.StatusCode) -> type[errors.GitStoreError] | None:
    """The domain error a client raises for ``code``; None when the code has no meaning."""
    return _ERROR_OF.get(code)
