"""What a reconcile may raise, and what the runtime does with it.

* :class:`RetryableError` — try the key again later with per-key exponential backoff (or
  after ``after`` seconds if given). Any other unexpected exception is treated the same way.
* :class:`PermanentError` — do not retry: the object cannot be reconciled as it is (count
  it, log it, forget the key's backoff). A later change of the object reconciles it again.
* :class:`Conflict` — a status or metadata write lost a race (``CONFLICT``): retried after
  the key's backoff (the cache is behind the store; the watch brings the newer object).
"""

from __future__ import annotations


class ControllerError(Exception):
    """Base of the runtime's errors."""


class RetryableError(ControllerError):
    def __init__(self, message: str, *, after: float | None = None) -> None:
        super().__init__(message)
        self.after = after


class PermanentError(ControllerError):
    pass


class Conflict(RetryableError):
    def __init__(self, message: str) -> None:
        super().__init__(message)


class ApiError(ControllerError):
    """The API answered with an error (``code`` from ``extensions.code`` or a user error)."""

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.code = code


class WatchExpired(ControllerError):
    """The resourceVersion asked for is older than the server keeps: relist."""
