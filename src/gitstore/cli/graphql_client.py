"""A small GraphQL-over-HTTP client for CLI commands that talk to a running API.

Commands such as ``gitstore demo`` act as ordinary API clients: they never open a store or
the git service directly. This module turns every way a request can fail into the project's
error types, so ``cli.main`` prints one clear line:

* the server cannot be reached (refused, DNS, timeout while connecting) -> ``Unavailable``
  ("cannot reach the API at <url>; is `gitstore serve` running?");
* no answer in time, or an answer that is not GraphQL JSON -> ``Unavailable``;
* HTTP 401 or ``extensions.code: UNAUTHENTICATED`` -> ``Unauthenticated``; 413 ->
  ``InvalidArgument``; other GraphQL errors by ``extensions.code`` (first error's message);
* ``userErrors`` of a mutation payload -> :func:`raise_user_errors` (the first few, with
  their fields, in one message).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from types import TracebackType
from typing import Any

import httpx

from gitstore.domain.errors import (
    Aborted,
    AlreadyExists,
    FailedPrecondition,
    GitStoreError,
    InvalidArgument,
    NotFound,
    PermissionDenied,
    Unauthenticated,
    Unavailable,
)

_BY_CODE: dict[str, type[GitStoreError]] = {
    "UNAUTHENTICATED": Unauthenticated,
    "INVALID_CREDENTIALS": Unauthenticated,
    "TOO_MANY_ATTEMPTS": Unauthenticated,
    "PERMISSION_DENIED": PermissionDenied,
    "NOT_FOUND": NotFound,
    "ALREADY_EXISTS": AlreadyExists,
    "INVALID_ARGUMENT": InvalidArgument,
    "VALIDATION_FAILED": InvalidArgument,
    "MALFORMED_MANIFEST": InvalidArgument,
    "TOO_LARGE": InvalidArgument,
    "IDEMPOTENCY_KEY_REUSED": InvalidArgument,
    "CONFLICT": FailedPrecondition,
    "FAILED_PRECONDITION": FailedPrecondition,
    "ABORTED": Aborted,
    "UNAVAILABLE": Unavailable,
}


def error_for(code: str | None, message: str) -> GitStoreError:
    """The project error of a GraphQL error or user error code."""
    return _BY_CODE.get(code or "", GitStoreError)(message)


class GraphQLClient:
    """Synchronous client for ``<base_url>/graphql``; ``token`` is sent as a Bearer token."""

    def __init__(self, base_url: str, *, token: str | None = None, timeout: float = 120.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.endpoint = f"{self.base_url}/graphql"
        self.token = token
        self._http = httpx.Client(timeout=httpx.Timeout(timeout, connect=10.0))

    def __enter__(self) -> GraphQLClient:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    def execute(self, query: str, variables: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """Run one operation; its ``data``, or a project error."""
        headers = {"accept": "application/json"}
        if self.token:
            headers["authorization"] = f"Bearer {self.token}"
        body = {"query": query, "variables": dict(variables or {})}
        try:
            response = self._http.post(self.endpoint, json=body, headers=headers)
        except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
            raise Unavailable(
                f"cannot reach the API at {self.base_url}; is `gitstore serve` running?"
            ) from exc
        except httpx.TimeoutException as exc:
            raise Unavailable(f"the API at {self.base_url} did not answer in time") from exc
        except httpx.HTTPError as exc:
            raise Unavailable(f"request to {self.endpoint} failed: {exc}") from exc
        if response.status_code == 413:
            raise InvalidArgument(f"the API at {self.base_url} refused a request as too large")
        try:
            answer = response.json()
        except ValueError:
            answer = None
        if not isinstance(answer, dict) or not ("data" in answer or "errors" in answer):
            raise Unavailable(
                f"{self.endpoint} did not answer like a GitStore API (HTTP {response.status_code})"
            )
        errors = answer.get("errors") or []
        if response.status_code == 401 and not errors:
            raise Unauthenticated(f"the API at {self.base_url} refused the credentials")
        if errors:
            first = errors[0] if isinstance(errors[0], dict) else {}
            code = (first.get("extensions") or {}).get("code")
            message = str(first.get("message") or "request failed")
            if response.status_code == 401 or code == "UNAUTHENTICATED":
                raise Unauthenticated(
                    f"the API at {self.base_url} refused the credentials: {message}"
                )
            raise error_for(code, message)
        data = answer.get("data")
        if not isinstance(data, dict):
            raise Unavailable(f"{self.endpoint} answered without data")
        return data


def raise_user_errors(payload: Mapping[str, Any], what: str, *, limit: int = 3) -> None:
    """Raise the project error of a payload's ``userErrors`` (nothing if there are none)."""
    problems: Sequence[Mapping[str, Any]] = payload.get("userErrors") or []
    if not problems:
        return
    shown = "; ".join(
        f"{p.get('field')}: {p.get('message')}" if p.get("field") else str(p.get("message"))
        for p in problems[:limit]
    )
    more = f" (and {len(problems) - limit} more)" if len(problems) > limit else ""
    raise error_for(problems[0].get("code"), f"{what}: {shown}{more}")
