"""The revalidation controller against a real ``gitstore serve`` and a real HTTP receiver:
an ON_COMMIT repository's changes reach the storefront as signed ``catalog.changed`` POSTs
(a full one at start, then batches naming what changed), and a failing receiver is retried."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from gitstore.controllers.builtin.revalidation import RevalidationController
from gitstore.controllers.manager import Manager

from .harness import Catalog, apply, category, eventually, good_spec, product

SECRET = "whsec_test"


class Receiver:
    def __init__(self, fail_first: int) -> None:
        self.fail_first = fail_first
        self.calls = 0
        self.received: list[tuple[dict[str, str], bytes]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.calls += 1
                if receiver.calls <= receiver.fail_first:
                    self.send_response(503)
                else:
                    receiver.received.append((dict(self.headers), body))
                    self.send_response(204)
                self.end_headers()

            def log_message(self, *_args: Any) -> None:
                return None

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/revalidate"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def payloads(self) -> list[dict[str, Any]]:
        return [json.loads(body) for _, body in self.received]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver(fail_first=1)
    yield r
    r.close()


async def test_on_commit_changes_are_posted_signed_and_retried(
    catalog: Catalog, receiver: Receiver
) -> None:
    repo = catalog.new_repository()
    owner, client = catalog.owner(), catalog.controller()
    sku = repo.replace("/", "-")
    await apply(owner, repo, [category("shirts"), product("first", **good_spec(f"{sku}-1"))])
    controller = RevalidationController([receiver.url], SECRET)
    manager = Manager(
        client, repo, [controller], lease_seconds=5, queue_options={"base_delay": 0.05}
    )
    await manager.start()
    try:

        async def full() -> Any:
            return [p for p in receiver.payloads() if p["full"]]

        [start] = await eventually(full, what="the full revalidation at start")
        assert receiver.calls >= 2  # the first POST got 503 and was retried
        assert start["repository"] == repo and start["event"] == "catalog.changed"
        assert "product/first" in start["changed"] and "category/shirts" in start["changed"]
        await apply(owner, repo, [product("second", **good_spec(f"{sku}-2"))])

        async def second() -> Any:
            return [p for p in receiver.payloads() if "product/second" in p["changed"]]

        [batch] = await eventually(second, what="the change of product/second")
        assert batch["full"] is False and batch["changed"] == ["product/second"]
        assert int(batch["resourceVersion"]) > int(start["resourceVersion"])
        for headers, body in receiver.received:
            expected = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
            assert headers["X-GitStore-Signature-256"] == expected
            assert headers["X-GitStore-Event"] == "catalog.changed"
    finally:
        await manager.stop(5)
        await owner.close()
        await client.close()


async def test_a_release_tag_repository_gets_no_revalidation(
    catalog: Catalog, receiver: Receiver
) -> None:
    repo = catalog.new_repository("ON_RELEASE_TAG")
    owner, client = catalog.owner(), catalog.controller()
    sku = repo.replace("/", "-")
    await apply(owner, repo, [category("shirts"), product("draft", **good_spec(f"{sku}-1"))])
    controller = RevalidationController([receiver.url], SECRET)
    manager = Manager(client, repo, [controller], lease_seconds=5)
    await manager.start()
    try:
        await manager.wait_synced()
        runner = manager.runner("revalidation")
        # the start's batch was reconciled (and dropped: releases have their own webhooks)
        await eventually(lambda: _value(runner.reconciled >= 1), what="a reconcile")
        assert controller.full is False and not controller.pending
        assert receiver.calls == 0
    finally:
        await manager.stop(5)
        await owner.close()
        await client.close()


async def _value(value: bool) -> bool:
    return value
