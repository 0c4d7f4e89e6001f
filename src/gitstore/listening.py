"""Listening on TCP ports, with one clear error when an address cannot be had.

Every listener of the process (the API's HTTP, the git service's gRPC and SSH, the API's
hook gRPC) fails the same way when its address is taken or unusable: an
``errors.Unavailable`` whose message is ``cannot listen on HOST:PORT (WHAT: reason)``, which
the CLI prints as its one error line.

gRPC servers report a failed bind only as "Failed to bind" (and gRPC's C core writes its own
line to stderr), so :func:`ensure_free` tries the address with a plain socket first, the way
the gRPC server will bind it (``SO_REUSEADDR``, no ``SO_REUSEPORT``), and reports the
operating system's reason. :func:`bind_sockets` gives the HTTP server its sockets already
bound, so a taken port is found before the application starts.
"""

from __future__ import annotations

import os
import socket

from gitstore.domain.errors import Unavailable


def address(host: str, port: int) -> str:
    """``host:port`` as written in an error or a log line (``[::1]:80`` for IPv6)."""
    shown = f"[{host}]" if ":" in host and not host.startswith("[") else host
    return f"{shown}:{port}"


def cannot_listen(host: str, port: int, what: str, reason: str) -> Unavailable:
    """The error of a listener that could not bind ``host:port``."""
    return Unavailable(f"cannot listen on {address(host, port)} ({what}: {reason})")


def reason_of(exc: OSError) -> str:
    """The operating system's short reason (``address already in use``), else the message."""
    if isinstance(exc, socket.gaierror):
        return str(exc.strerror or exc)
    if exc.errno:
        return os.strerror(exc.errno).lower()
    return str(exc)


def bind_sockets(host: str, port: int, what: str) -> list[socket.socket]:
    """TCP sockets bound (not yet listening) to every address ``host`` resolves to, set up as
    asyncio's ``create_server`` would (``SO_REUSEADDR``; IPv6 sockets IPv6-only). Raises
    :func:`cannot_listen`'s error, with nothing left open, if any of them cannot be bound."""
    bare = host.strip("[]") or None
    try:
        infos = socket.getaddrinfo(bare, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except OSError as exc:
        raise cannot_listen(host, port, what, reason_of(exc)) from None
    sockets: list[socket.socket] = []
    seen: set[tuple[int, object]] = set()
    try:
        for family, kind, proto, _name, sockaddr in infos:
            if (family, sockaddr) in seen:
                continue
            seen.add((family, sockaddr))
            sock = socket.socket(family, kind, proto)
            sockets.append(sock)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if family == socket.AF_INET6:
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            sock.bind(sockaddr)
    except OSError as exc:
        for sock in sockets:
            sock.close()
        raise cannot_listen(host, port, what, reason_of(exc)) from None
    return sockets


def ensure_free(host: str, port: int, what: str) -> None:
    """Raise :func:`cannot_listen`'s error now if ``host:port`` cannot be bound (port 0, any
    free port, always can). A moment later another process may still take it; the caller's
    own bind then reports that."""
    if port == 0:
        return
    for sock in bind_sockets(host, port, what):
        sock.close()
