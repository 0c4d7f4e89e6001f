"""Idempotency keys of catalogue mutations: one commit per key, also under concurrent retries.

The metadata store's ``claim_idempotency_key(scope, key, request_hash)`` is the arbiter:
exactly one caller claims a ``(scope, key)``; the scope is ``<repository>:<actor>`` (a key
belongs to one caller in one repository). :class:`IdempotencyGate` runs the protocol:

1. **claim**. Won: this request does the work, then ``complete`` stores the JSON answer
   (enough to rebuild the payload: commit, changes, written documents) — or, if the work
   failed, ``release`` forgets the claim so that a retry can run.
2. **lost, same input** (equal ``request_hash``): the stored answer is returned as is — no
   second commit. While the first request is still working (no answer yet) the others poll
   (10 ms, growing to 200 ms) until it completes, for at most ``wait_seconds``; if the first
   one failed and released the key, the next poll claims it and that request does the work
   (one of the waiters, never several).
3. **lost, different input**: ``IDEMPOTENCY_KEY_REUSED`` naming ``idempotencyKey``.

A waiter that runs out of time gets ``ABORTED`` (retry later). Dry runs take no key.
Releasing is shielded from cancellation (a client hanging up must not leave the key
claimed). If storing the answer fails after the commit landed, the key is *not* released
(a retry must not commit again): it stays claimed and later retries answer ``ABORTED``.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from gitstore.backends.metadata.base import MetadataStore
from gitstore.domain.errors import Aborted

from .writes_problems import IdempotencyKeyReused

log = logging.getLogger("gitstore.api.catalog.writes")

DEFAULT_WAIT_SECONDS = 30.0
_FIRST_POLL = 0.01
_MAX_POLL = 0.2
_pending: set[asyncio.Task[None]] = set()


class IdempotencyGate:
    def __init__(
        self,
        store: MetadataStore,
        scope: str,
        key: str,
        request_hash: str,
        *,
        wait_seconds: float = DEFAULT_WAIT_SECONDS,
    ) -> None:
        self.store = store
        self.scope = scope
        self.key = key
        self.request_hash = request_hash
        self.wait_seconds = wait_seconds
        self.owned = False

    async def begin(self) -> dict[str, Any] | None:
        """None: this request owns the key and must do the work. A dict: the stored answer
        of the first request with this key."""
        deadline = time.monotonic() + self.wait_seconds
        delay = _FIRST_POLL
        while True:
            record = await self.store.claim_idempotency_key(self.scope, self.key, self.request_hash)
            if record is None:
                self.owned = True
                return None
            if record.request_hash != self.request_hash:
                raise IdempotencyKeyReused(
                    f"idempotencyKey {self.key!r} was already used with a different input;"
                    " use a new key for a new change",
                    field="idempotencyKey",
                )
            if record.response is not None:
                return record.response
            if time.monotonic() + delay > deadline:
                raise Aborted(
                    f"a request with idempotencyKey {self.key!r} is still in progress;"
                    " retry later with the same key",
                    field="idempotencyKey",
                )
            await asyncio.sleep(delay)
            delay = min(delay * 1.5, _MAX_POLL)

    async def complete(self, response: dict[str, Any]) -> None:
        if not self.owned:
            return
        try:
            await self.store.complete_idempotency_key(self.scope, self.key, response)
        except Exception:
            log.exception(
                "could not store the answer of idempotency key %r (%s); the key stays claimed",
                self.key,
                self.scope,
            )
        self.owned = False

    async def release(self) -> None:
        if not self.owned:
            return
        self.owned = False
        task = asyncio.ensure_future(self._release())
        _pending.add(task)  # keeps it alive if the caller is cancelled while waiting
        task.add_done_callback(_pending.discard)
        await asyncio.shield(task)

    async def _release(self) -> None:
        try:
            await self.store.release_idempotency_key(self.scope, self.key)
        except Exception:
            log.exception("could not release idempotency key %r (%s)", self.key, self.scope)
