"""The controller runtime: write a reconciler in a few lines (docs/controllers.md).

``Controller`` / ``@controller`` (what to reconcile), ``Manager`` (informers, work queues,
leader election, metrics, bounded shutdown for one repository), ``ApiClient`` (GraphQL over
HTTP and graphql-sse), the error types that steer retries, and ``Result`` (requeue-after).
"""

from .client import ApiClient
from .controller import Context, Controller, KeyController, Result, controller
from .errors import ApiError, Conflict, PermanentError, RetryableError
from .manager import Manager

__all__ = [
    "ApiClient",
    "ApiError",
    "Conflict",
    "Context",
    "Controller",
    "KeyController",
    "Manager",
    "PermanentError",
    "Result",
    "RetryableError",
    "controller",
]
