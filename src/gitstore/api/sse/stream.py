"""One open ``text/event-stream`` response: an outbox, a writer, keep-alives and endings.

Producers (the operations a stream carries) ``put`` encoded SSE messages; the writer sends
everything waiting in one ASGI ``send`` (so a burst costs one write), or a keep-alive comment
(``:``) after ``keepalive`` idle seconds. ``put`` waits while more than ``OUTBOX_LIMIT``
messages are unsent — a client that reads slowly holds its producers back, which lets the
watch cache's bounded per-watcher buffer fill and cut the watcher off (``api/watch/cache``)
instead of this outbox growing.

The stream ends when ``finish()`` is called (its last operation completed in distinct
connections mode, or a single-connection stream was told to stop), when the client
disconnects, or when the server shuts down (``ApiServices.closing``); then its operation
tasks are cancelled, which ends their watches.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections import deque
from collections.abc import Callable
from typing import Any

from starlette.types import Receive, Send

OUTBOX_LIMIT = 256
KEEPALIVE = b":\n\n"
HEADERS = [
    (b"content-type", b"text/event-stream; charset=utf-8"),
    (b"cache-control", b"no-cache"),
    (b"connection", b"keep-alive"),
    (b"x-accel-buffering", b"no"),
]


def next_message(payload: bytes, operation_id: str | None = None) -> bytes:
    """``event: next`` with an encoded ExecutionResult (wrapped with its id in single mode)."""
    if operation_id is None:
        return b"event: next\ndata: " + payload + b"\n\n"
    return (
        b'event: next\ndata: {"id":' + _quoted(operation_id) + b',"payload":' + payload + b"}\n\n"
    )


def complete_message(operation_id: str | None = None) -> bytes:
    if operation_id is None:
        return b"event: complete\ndata:\n\n"
    return b'event: complete\ndata: {"id":' + _quoted(operation_id) + b"}\n\n"


def _quoted(text: str) -> bytes:
    return json.dumps(text).encode()


class StreamClosed(Exception):
    """``put`` on a stream that has ended: the producer stops."""


class EventStream:
    def __init__(self, keepalive: float, closing: asyncio.Event) -> None:
        self.keepalive = keepalive
        self.closing = closing
        self.tasks: set[asyncio.Task[Any]] = set()
        self._outbox: deque[bytes] = deque()
        self._wake = asyncio.Event()
        self._space = asyncio.Event()
        self._done = False
        self.on_end: Callable[[], None] | None = None

    @property
    def done(self) -> bool:
        return self._done

    async def put(self, message: bytes) -> None:
        while len(self._outbox) >= OUTBOX_LIMIT and not self._done:
            self._space.clear()
            await self._space.wait()
        if self._done:
            raise StreamClosed
        self._outbox.append(message)
        self._wake.set()

    def finish(self) -> None:
        self._done = True
        self._wake.set()
        self._space.set()

    def spawn(self, coroutine: Any) -> asyncio.Task[Any]:
        task: asyncio.Task[Any] = asyncio.create_task(coroutine)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)
        return task

    async def run(
        self, receive: Receive, send: Send, extra_headers: list[Any] | None = None
    ) -> None:
        """Send the response: headers, then messages until the stream ends."""
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": HEADERS + (extra_headers or []),
            }
        )
        await send({"type": "http.response.body", "body": KEEPALIVE, "more_body": True})
        loop = asyncio.get_running_loop()
        watchers = [
            asyncio.create_task(self._until_disconnect(receive)),
            asyncio.create_task(self._until_closing()),
        ]
        outbox, wake = self._outbox, self._wake
        try:
            while True:
                if outbox:
                    chunk = b"".join(outbox)
                    outbox.clear()
                    self._space.set()
                    await send({"type": "http.response.body", "body": chunk, "more_body": True})
                    continue
                if self._done:
                    break
                wake.clear()
                timer = loop.call_later(self.keepalive, wake.set)
                idle_since = loop.time()
                await wake.wait()
                timer.cancel()
                if not outbox and not self._done and loop.time() - idle_since >= self.keepalive:
                    await send({"type": "http.response.body", "body": KEEPALIVE, "more_body": True})
            await send({"type": "http.response.body", "body": b"", "more_body": False})
        except OSError:
            pass  # the client went away while we wrote
        finally:
            self._done = True
            self._space.set()
            for task in (*watchers, *self.tasks):
                task.cancel()
            for task in (*watchers, *list(self.tasks)):
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
            if self.on_end is not None:
                self.on_end()

    async def _until_disconnect(self, receive: Receive) -> None:
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                self._outbox.clear()
                self.finish()
                return

    async def _until_closing(self) -> None:
        await self.closing.wait()
        # let operations put their final events (the watch cache ended them) first
        await asyncio.sleep(0)
        if self.tasks:
            await asyncio.wait(set(self.tasks), timeout=1.0)
        self.finish()
