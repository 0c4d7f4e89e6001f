"""An async GraphQL client of the GitStore API for controllers: queries and mutations over
GraphQL-over-HTTP, subscriptions over graphql-sse's *distinct connections* mode (one
``POST /graphql`` with ``Accept: text/event-stream`` per subscription; docs/watch.md).

Errors: a transport failure (refused, timeout, 5xx) raises :class:`RetryableError`; a GraphQL
error raises :class:`ApiError` with its ``extensions.code`` (``UNAVAILABLE`` and
``RESOURCE_EXHAUSTED`` are retryable); :func:`payload_of` turns ``userErrors`` into
:class:`Conflict` (``CONFLICT``) or :class:`ApiError`.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Mapping
from typing import Any

import httpx

from .errors import ApiError, Conflict, RetryableError

RETRYABLE_CODES = frozenset({"UNAVAILABLE", "RESOURCE_EXHAUSTED", "ABORTED", "INTERNAL"})


class ApiClient:
    """``ApiClient(url, token)``: ``url`` is the API's base (``http://127.0.0.1:8080``) or
    its ``/graphql`` endpoint."""

    def __init__(self, url: str, token: str | None = None, *, timeout: float = 30.0) -> None:
        url = url.rstrip("/")
        self.endpoint = url if url.endswith("/graphql") else url + "/graphql"
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self._http = httpx.AsyncClient(
            headers=headers, timeout=httpx.Timeout(timeout, read=None, connect=timeout)
        )
        self._timeout = timeout

    async def close(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> ApiClient:
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self.close()

    async def execute(self, query: str, variables: Mapping[str, Any] | None = None) -> Any:
        """The ``data`` of one query or mutation."""
        body = {"query": query, "variables": dict(variables or {})}
        try:
            response = await self._http.post(
                self.endpoint,
                json=body,
                headers={"Accept": "application/graphql-response+json, application/json"},
                timeout=self._timeout,
            )
        except httpx.HTTPError as exc:
            raise RetryableError(f"cannot reach the API at {self.endpoint}: {exc}") from exc
        if response.status_code >= 500:
            raise RetryableError(f"the API answered HTTP {response.status_code}")
        try:
            result = response.json()
        except ValueError as exc:
            raise RetryableError(f"the API answered HTTP {response.status_code}, not JSON") from exc
        return _data(result)

    async def subscribe(
        self, query: str, variables: Mapping[str, Any] | None = None
    ) -> AsyncIterator[Any]:
        """The ``data`` of each ``next`` event until ``complete`` (or the connection ends:
        :class:`RetryableError`)."""
        body = {"query": query, "variables": dict(variables or {})}
        try:
            async with self._http.stream(
                "POST", self.endpoint, json=body, headers={"Accept": "text/event-stream"}
            ) as response:
                if response.status_code != 200:
                    await response.aread()
                    code = "UNAVAILABLE" if response.status_code >= 500 else None
                    raise ApiError(f"subscription refused: HTTP {response.status_code}", code=code)
                event, data = "", ""
                async for line in response.aiter_lines():
                    if line.startswith(":"):
                        continue
                    if line.startswith("event:"):
                        event = line[6:].strip()
                    elif line.startswith("data:"):
                        data += line[5:].strip()
                    elif line == "":
                        if event == "complete":
                            return
                        if event == "next" and data:
                            yield _data(json.loads(data))
                        event, data = "", ""
        except httpx.HTTPError as exc:
            raise RetryableError(f"watch connection to {self.endpoint} lost: {exc}") from exc
        raise RetryableError("the watch stream ended without 'complete'")


def _data(result: Any) -> Any:
    if not isinstance(result, Mapping):
        raise RetryableError("the API answered something that is not a GraphQL result")
    errors = result.get("errors")
    if errors:
        first = errors[0] if isinstance(errors[0], Mapping) else {}
        code = (first.get("extensions") or {}).get("code")
        message = str(first.get("message", "GraphQL error"))
        if code in RETRYABLE_CODES:
            raise RetryableError(f"{code}: {message}")
        raise ApiError(message, code=code)
    return result.get("data")


def payload_of(data: Any, field: str) -> Any:
    """A mutation payload; its ``userErrors`` raised (``CONFLICT`` -> :class:`Conflict`)."""
    payload = data[field]
    errors = payload.get("userErrors") or []
    if errors:
        first = errors[0]
        message = f"{field}: {first.get('message')} (field {first.get('field')})"
        if first.get("code") == "CONFLICT":
            raise Conflict(message)
        if first.get("code") in RETRYABLE_CODES:
            raise RetryableError(message)
        raise ApiError(message, code=first.get("code"))
    return payload
