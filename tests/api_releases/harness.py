"""A real API + git service stack for the release tests, plus the pieces that stand in for
the rest of the system: the worker's side of the queue and webhook receivers.

* :func:`start_stack` is the catalogue-write harness (``tests.catalog_writes.harness``) with
  this package's settings: SQLite metadata and the SQLite queue in the data dir, small webhook
  retry settings so a failing receiver is given up on quickly.
* :class:`QueueView` reads and writes the stack's queue file from the test thread (its own
  event loop per call): ``publish_requests(group)`` drains the ``PublishEvent``s the API
  published (as the worker would; ``requests(repository)`` keeps them and
  filters) and ``report(event)`` publishes a ``PublishedEvent`` on the
  published stream (as the worker does when it has switched ``live``).
* :class:`Receiver` is a real HTTP server on 127.0.0.1 (a thread) recording every request and
  answering with ``status``.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, TypeVar

from gitstore.backends.queue.factory import open_queue
from gitstore.config import Settings
from gitstore.domain.events import (
    PUBLISH_REQUESTED,
    PublishedEvent,
    PublishEvent,
    published_stream,
)
from tests.catalog_writes.harness import Stack
from tests.catalog_writes.harness import start_stack as start_catalog_stack

T = TypeVar("T")

_ids = itertools.count(1)

SETTINGS: dict[str, Any] = {
    "webhook.max_attempts": 3,
    "webhook.backoff_seconds": 0.05,
    "webhook.timeout_seconds": 5,
}


@contextmanager
def start_stack(data_dir: Path, **overrides: Any) -> Iterator[Stack]:
    with start_catalog_stack(data_dir, **{**SETTINGS, **overrides}) as stack:
        yield stack


def wait_for(predicate: Callable[[], T | None], what: str, timeout: float = 30) -> T:
    """Poll until ``predicate`` returns something truthy (the outcome is asynchronous)."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


@dataclass
class QueueView:
    settings: Settings
    seen: list[PublishEvent] = field(default_factory=list)

    def requests(self, repository: str) -> list[PublishEvent]:
        """Every PublishEvent the API published for ``repository`` so far, oldest first."""
        self.seen.extend(self.publish_requests("tests"))
        return [event for event in self.seen if event.repository_id == repository]

    def _open(self, stream: str) -> Any:
        return open_queue(self.settings.queue_url(), stream=stream, ack_wait=30)

    def publish_requests(self, group: str) -> list[PublishEvent]:
        """Every PublishEvent on the main stream not yet read by ``group`` (acked)."""

        async def drain() -> list[PublishEvent]:
            queue = await self._open(self.settings.queue.stream)
            try:
                found: list[PublishEvent] = []
                while batch := await queue.fetch(group, "test", max_messages=50, timeout=0):
                    for message in batch:
                        if json.loads(message.body).get("type") == PUBLISH_REQUESTED:
                            found.append(PublishEvent.from_json(message.body))
                        await queue.ack(group, message.id)  # RefUpdateEvents share it
                return found
            finally:
                await queue.close()

        return asyncio.run(drain())

    def report(self, event: PublishEvent, **changes: Any) -> PublishedEvent:
        """Publish the worker's answer to ``event`` (PUBLISHED unless ``state=`` says)."""
        values: dict[str, Any] = {
            "event_id": f"published-{next(_ids)}",
            "repository_id": event.repository_id,
            "sequence": event.sequence,
            "tag": event.tag,
            "commit": event.commit,
            "state": "PUBLISHED",
            "channel": "live-a",
            "previous_commit": "",
            "changed": ("product/p",),
            "correlation_id": event.correlation_id,
            "timestamp": time.time(),
        }
        values.update(changes)
        published = PublishedEvent(**values)

        async def send() -> None:
            queue = await self._open(published_stream(self.settings.queue.stream))
            try:
                await queue.publish(published.to_json(), key=event.repository_id)
            finally:
                await queue.close()

        asyncio.run(send())
        return published


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    at: float


@dataclass
class Receiver:
    status: int = 200
    requests: list[Received] = field(default_factory=list)
    url: str = ""

    def count(self) -> int:
        return len(self.requests)


@contextmanager
def receiver(status: int = 200) -> Iterator[Receiver]:
    """A webhook receiver on 127.0.0.1 answering ``status`` to every POST."""
    state = Receiver(status=status)
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            body = self.rfile.read(length)
            with lock:
                state.requests.append(
                    Received(self.path, dict(self.headers.items()), body, time.monotonic())
                )
            self.send_response(state.status)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{server.server_address[1]}/hooks/gitstore"
    thread = threading.Thread(target=server.serve_forever, name="webhook-receiver", daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join(10)
