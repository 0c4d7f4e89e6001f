"""``GraphQLEndpoint`` as a plain ASGI app (what ``Route("/graphql", endpoint)`` mounts
without Starlette's per-request endpoint wrapper): the same answers as the route, status,
media type, request id and errors included. Driven with ASGI messages on the running
server's event loop (its services live there)."""

from __future__ import annotations

import json
from collections.abc import MutableMapping
from typing import Any

from gitstore.api.graphql_http import GraphQLEndpoint

from .server import ApiServer


def _endpoint(api_server: ApiServer) -> GraphQLEndpoint:
    route = next(r for r in api_server.app.routes if getattr(r, "path", None) == "/graphql")
    endpoint = getattr(route, "endpoint", None)
    endpoint = getattr(endpoint, "http", endpoint)  # the SSE front (api/sse) delegates to it
    owner = endpoint if isinstance(endpoint, GraphQLEndpoint) else endpoint.__self__  # type: ignore[union-attr]
    assert isinstance(owner, GraphQLEndpoint)
    return owner


def _call(
    api_server: ApiServer, body: bytes, headers: list[tuple[bytes, bytes]]
) -> tuple[int, dict[bytes, bytes], Any]:
    endpoint = _endpoint(api_server)
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/graphql",
        "raw_path": b"/graphql",
        "root_path": "",
        "query_string": b"",
        "headers": [(b"content-length", str(len(body)).encode()), *headers],
        "server": ("127.0.0.1", 8080),
        "client": ("127.0.0.1", 5555),
    }
    chunks = [body[:10], body[10:]]  # the body in two messages

    async def run() -> list[dict[str, Any]]:
        sent: list[dict[str, Any]] = []

        async def receive() -> dict[str, Any]:
            chunk = chunks.pop(0)
            return {"type": "http.request", "body": chunk, "more_body": bool(chunks)}

        async def send(message: MutableMapping[str, Any]) -> None:
            sent.append(dict(message))

        await endpoint(scope, receive, send)
        return sent

    start, *rest = api_server.run(run())
    payload = b"".join(m.get("body", b"") for m in rest)
    return start["status"], dict(start["headers"]), json.loads(payload)


def test_a_query_through_the_asgi_interface(api_server: ApiServer) -> None:
    body = json.dumps({"query": "{ viewer { username } }"}).encode()
    status, headers, payload = _call(
        api_server,
        body,
        [
            (b"content-type", b"application/json"),
            (b"accept", b"application/graphql-response+json"),
            (b"x-request-id", b"asgi-1"),
        ],
    )
    assert status == 200
    assert payload == {"data": {"viewer": None}}
    assert headers[b"content-type"] == b"application/graphql-response+json; charset=utf-8"
    assert headers[b"x-request-id"] == b"asgi-1"
    assert int(headers[b"content-length"]) == len(json.dumps(payload, separators=(",", ":")))


def test_a_request_error_through_the_asgi_interface(api_server: ApiServer) -> None:
    status, _headers, payload = _call(
        api_server,
        json.dumps({"query": "{ nope }"}).encode(),
        [(b"content-type", b"application/json"), (b"accept", b"application/graphql-response+json")],
    )
    assert status == 400
    assert payload["errors"][0]["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"
    assert "data" not in payload
