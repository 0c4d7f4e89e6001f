"""The client's address, for the per-address sign-in limits (``domain.ratelimit``).

By default the client is the TCP peer, ASGI ``scope["client"]``: ``X-Forwarded-For`` is
ignored, since anyone can send it (uvicorn's own proxy-header handling, which trusts it from
127.0.0.1, is turned off by ``gitstore api``). Behind a reverse proxy every request then
comes from the proxy, and all clients share one address allowance: name the proxy in
``GITSTORE_API__TRUSTED_PROXIES`` ("127.0.0.1", "10.0.0.0/8, 192.0.2.7"). A request from a
trusted peer is attributed to the right-most ``X-Forwarded-For`` entry that is not itself a
trusted proxy (entries to its left were written by the client and prove nothing).

:class:`ClientAddressMiddleware` works this out once per HTTP request, rewrites
``scope["client"]`` when a proxy vouched for another address (so push audit entries name
the real client too) and publishes it to code that has no request at hand (GraphQL
resolvers) through :func:`current_client_address`.
"""

from __future__ import annotations

import contextvars
import ipaddress
from collections.abc import Sequence

from starlette.types import ASGIApp, Receive, Scope, Send

from gitstore.domain.errors import InvalidArgument

Network = ipaddress.IPv4Network | ipaddress.IPv6Network

_CURRENT: contextvars.ContextVar[str] = contextvars.ContextVar(
    "gitstore_client_address", default=""
)


def current_client_address() -> str:
    """The address of the HTTP request being served ("" outside one)."""
    return _CURRENT.get()


def parse_trusted_proxies(text: str) -> tuple[Network, ...]:
    networks: list[Network] = []
    for word in (w.strip() for w in text.replace(";", ",").split(",")):
        if not word:
            continue
        try:
            networks.append(ipaddress.ip_network(word, strict=False))
        except ValueError:
            raise InvalidArgument(
                f"api.trusted_proxies: {word!r} is not an IP address or network",
                field="api.trusted_proxies",
            ) from None
    return tuple(networks)


def _trusted(address: str, trusted: Sequence[Network]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    mapped = getattr(ip, "ipv4_mapped", None)
    return any(ip in net or (mapped is not None and mapped in net) for net in trusted)


def client_address(peer: str, forwarded_for: Sequence[str], trusted: Sequence[Network]) -> str:
    """The client of a request from ``peer`` carrying these ``X-Forwarded-For`` values."""
    if not trusted or not _trusted(peer, trusted):
        return peer
    hops = [h.strip() for value in forwarded_for for h in value.split(",") if h.strip()]
    for hop in reversed(hops):
        if not _trusted(hop, trusted):
            return hop[:64]
    return hops[0][:64] if hops else peer


class ClientAddressMiddleware:
    def __init__(self, app: ASGIApp, trusted: Sequence[Network] = ()) -> None:
        self.app = app
        self.trusted = tuple(trusted)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        client = scope.get("client")
        peer = str(client[0]) if client else ""
        address = peer
        if self.trusted:
            forwarded = [
                value.decode("latin-1")
                for name, value in scope["headers"]
                if name == b"x-forwarded-for"
            ]
            address = client_address(peer, forwarded, self.trusted)
            if address != peer:
                scope = {**scope, "client": (address, 0)}
        token = _CURRENT.set(address)
        try:
            await self.app(scope, receive, send)
        finally:
            _CURRENT.reset(token)
