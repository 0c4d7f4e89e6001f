"""``/admin``: the admin web interface, static files served from the package.

The interface is a small hand-written ES-module front end (``static/``) that talks to the
public GraphQL API only (``/graphql`` with the signed-in person's login token). The server
side is just this mount:

* ``GET /admin/`` → ``index.html``; ``GET /admin/<file>`` → the file (no directory listing,
  nothing outside ``static/``);
* ``GET /admin/builtin-kinds.json`` → the built-in kind definitions (Product, Category,
  Collection, KindDefinition) in the shape of a ``KindDefinition`` manifest's ``spec``. They
  are shipped with the package and public (docs/content-model.md); custom kinds come from the
  repository itself over GraphQL (``resources(kind: "KindDefinition")``);
* every response carries a strict Content-Security-Policy (scripts, styles, fetches from this
  origin only; no inline script or style, no frames, no plugins) and ``nosniff`` /
  ``no-referrer`` / ``DENY`` framing headers.
"""

from __future__ import annotations

import functools
import json
from importlib import resources
from typing import Any

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Mount, Route, Router
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Receive, Scope, Send

from gitstore.domain.content import builtin_definitions

ADMIN_PREFIX = "/admin"

CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "connect-src 'self'",
        "form-action 'self'",
        "base-uri 'none'",
        "frame-ancestors 'none'",
    ]
)
SECURITY_HEADERS: tuple[tuple[bytes, bytes], ...] = (
    (b"content-security-policy", CONTENT_SECURITY_POLICY.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
    (b"cache-control", b"no-cache"),
)


def static_directory() -> str:
    return str(resources.files("gitstore.api.admin").joinpath("static"))


@functools.cache
def builtin_kinds_json() -> bytes:
    """The built-in kinds as ``[{group, names, description, versions: [...]}]``."""
    kinds: list[dict[str, Any]] = []
    for definition in builtin_definitions():
        kinds.append(
            {
                "group": definition.group,
                "names": {
                    "kind": definition.names.kind,
                    "plural": definition.names.plural,
                    "singular": definition.names.singular,
                },
                "description": definition.description,
                "builtin": True,
                "versions": [
                    {"name": v.name, "served": v.served, "storage": v.storage, "schema": v.schema}
                    for v in definition.versions
                ],
            }
        )
    return json.dumps(kinds, separators=(",", ":")).encode()


class SecurityHeaders:
    """Adds :data:`SECURITY_HEADERS` to every response of the wrapped app."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def send_with_headers(message: Any) -> None:
            if message["type"] == "http.response.start":
                names = {name for name, _ in SECURITY_HEADERS}
                kept = [(k, v) for k, v in message.get("headers", []) if k.lower() not in names]
                message = {**message, "headers": [*kept, *SECURITY_HEADERS]}
            await send(message)

        await self.app(scope, receive, send_with_headers)


async def _builtin_kinds(_request: Request) -> Response:
    return Response(builtin_kinds_json(), media_type="application/json")


async def _to_slash(_request: Request) -> Response:
    return RedirectResponse(f"{ADMIN_PREFIX}/", status_code=308)


def admin_mount() -> list[Route | Mount]:
    """The routes to add to the API app: ``/admin`` (redirect) and ``/admin/...``."""
    files = StaticFiles(directory=static_directory(), html=True)
    inner = [
        Route("/builtin-kinds.json", _builtin_kinds, methods=["GET"]),
        Mount("/", app=files),
    ]
    return [
        Route(ADMIN_PREFIX, _to_slash, methods=["GET"]),
        Mount(ADMIN_PREFIX, app=SecurityHeaders(Router(routes=inner))),
    ]
