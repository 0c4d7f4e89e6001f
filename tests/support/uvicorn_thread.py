"""Serve an ASGI app with uvicorn on an ephemeral port, in a daemon thread, for a test.

``serve_in_thread(app, name=...)`` binds ``127.0.0.1:0`` itself (so the port is known before
uvicorn starts), runs ``server.serve`` on a fresh event loop in a thread and waits (30 s at
most) for ``server.started``; a server that dies or never starts raises ``RuntimeError`` with
the failure. It yields ``(base_url, client, loop)``: an ``httpx.Client`` on the base URL
(``client_timeout`` seconds), and the server's own loop, for work that must run on it
(loop-bound stores). On exit the server is told to stop,
the thread joined, ``before_close(loop)`` run if given (e.g. closing a store the app did not
own), then the loop and the socket are closed. Used by the API test harnesses.
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import uvicorn


@contextmanager
def serve_in_thread(
    app: Any,
    *,
    name: str,
    client_timeout: float = 30,
    before_close: Callable[[asyncio.AbstractEventLoop], None] | None = None,
) -> Iterator[tuple[str, httpx.Client, asyncio.AbstractEventLoop]]:
    """Run ``app`` until the ``with`` block ends; the thread is named ``{name}-{port}``."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(
        app,
        lifespan="on",
        log_config=None,
        access_log=False,
        ws="none",
        loop="asyncio",
        proxy_headers=False,  # as ``gitstore api``: X-Forwarded-For is the app's to judge
    )
    server = uvicorn.Server(config)
    loop = asyncio.new_event_loop()
    failure: list[BaseException] = []

    def serve() -> None:
        asyncio.set_event_loop(loop)
        try:
            loop.run_until_complete(server.serve(sockets=[sock]))
        except BaseException as exc:  # reported to the test below
            failure.append(exc)

    thread = threading.Thread(target=serve, name=f"{name}-{port}", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            server.should_exit = True
            thread.join(10)
            sock.close()
            raise RuntimeError(f"API server did not start: {failure or 'timeout'}")
        time.sleep(0.01)
    base_url = f"http://127.0.0.1:{port}"
    try:
        with httpx.Client(base_url=base_url, timeout=client_timeout) as client:
            yield base_url, client, loop
    finally:
        server.should_exit = True
        thread.join(30)
        if before_close is not None:
            before_close(loop)
        loop.close()
        sock.close()
