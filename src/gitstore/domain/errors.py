"""The project's error types.

Every layer raises these (or subclasses); backend libraries' errors are mapped into them at
the boundary. Two questions a caller asks of any error are explicit in the type:

* is it the caller's fault (``InvalidArgument``, ``NotFound``, ``AlreadyExists``,
  ``FailedPrecondition``, ``PermissionDenied``, ``ResourceExhausted``) — a permanent error,
  don't retry as is;
* or a passing condition (``Aborted``, ``Unavailable``) — a ``RetryableError``.
"""

from __future__ import annotations


class GitStoreError(Exception):
    """Base of all project errors. ``code`` is a stable machine-readable name."""

    code = "INTERNAL"

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class PermanentError(GitStoreError):
    """Retrying the same request will fail the same way."""


class RetryableError(GitStoreError):
    """The same request may succeed later."""


class InvalidArgument(PermanentError):
    code = "INVALID_ARGUMENT"


class NotFound(PermanentError):
    code = "NOT_FOUND"


class AlreadyExists(PermanentError):
    code = "ALREADY_EXISTS"


class FailedPrecondition(PermanentError):
    code = "FAILED_PRECONDITION"


class PermissionDenied(PermanentError):
    code = "PERMISSION_DENIED"


class Unauthenticated(PermanentError):
    code = "UNAUTHENTICATED"


class ResourceExhausted(PermanentError):
    """Something is larger than a fixed limit allows (e.g. a message over a queue's maximum
    payload); retrying the same thing fails again."""

    code = "RESOURCE_EXHAUSTED"


class Aborted(RetryableError):
    code = "ABORTED"


class Unavailable(RetryableError):
    code = "UNAVAILABLE"


class TooManyAttempts(Unauthenticated):
    """Credentials were not checked: too many failed attempts for the account or from the
    client's address (``domain.ratelimit``). ``retry_after`` is whole seconds to wait.
    HTTP 429 with ``Retry-After`` over git's Smart HTTP; a ``login`` user error in GraphQL."""

    code = "TOO_MANY_ATTEMPTS"

    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after
