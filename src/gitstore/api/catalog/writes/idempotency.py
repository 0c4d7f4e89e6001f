"""Idempotency keys of catalogue mutations: one commit per key, also under concurrent retries
and after the process doing the work died.

The metadata store's ``claim_idempotency_key(scope, key, request_hash, owner=, lease_seconds=)``
is the arbiter: exactly one caller claims a ``(scope, key)``; the scope is
``<repository>:<actor>`` (a key belongs to one caller in one repository). A claim carries
its owner (a random token of this request) and a **lease** (``LEASE_SECONDS``, 20 s) that
the owner extends every ``lease / 4`` (5 s) while it works, however long that takes.
:class:`IdempotencyGate` runs the protocol:

1. **claim**. Won: this request does the work, then ``complete`` stores the JSON answer
   (enough to rebuild the payload: commit, changes, written documents) — or, if the work
   failed, ``release`` forgets the claim so that a retry can run.
2. **lost, same input** (equal ``request_hash``): the stored answer is returned as is — no
   second commit. While the owner is still working (no answer yet, lease alive) the others
   poll (10 ms, growing to 200 ms) until it completes, for at most ``wait_seconds`` (30 s,
   more than a lease); if the owner failed and released the key, the next poll claims it
   and that request does the work (one of the waiters, never several).
3. **lost, owner dead**: a claim whose lease ran out (its process was killed, or hung for
   a whole lease) is taken over (``take_over_idempotency_key``: one of the waiters wins).
   The new owner does not know whether the dead one committed, so ``took_over`` is set and
   the writer first looks for a commit carrying the key (``writer``) — found: that is
   the answer, stored as the key's response; not found: it does the work itself.
4. **lost, different input**: ``IDEMPOTENCY_KEY_REUSED`` naming ``idempotencyKey``.

A waiter that runs out of time gets ``ABORTED`` (retry later). Dry runs take no key.
Releasing is shielded from cancellation (a client hanging up must not leave the key
claimed). If storing the answer fails after the commit landed, the key is *not* released
(a retry must not commit again): its lease runs out and the next retry takes it over and
finds the commit. A claim taken over from a dead owner is never released after its search
failed (``abandon``): the next retry must search again.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from typing import Any

from gitstore.backends.metadata.base import (
    DEFAULT_IDEMPOTENCY_LEASE_SECONDS,
    IdempotencyRecord,
    MetadataStore,
)
from gitstore.domain.errors import Aborted

from .problems import IdempotencyKeyReused

log = logging.getLogger("gitstore.api.catalog.writes")

DEFAULT_WAIT_SECONDS = 30.0
LEASE_SECONDS = DEFAULT_IDEMPOTENCY_LEASE_SECONDS
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
        lease_seconds: float = LEASE_SECONDS,
    ) -> None:
        self.store = store
        self.scope = scope
        self.key = key
        self.request_hash = request_hash
        self.wait_seconds = wait_seconds
        self.lease_seconds = lease_seconds
        self.owner = uuid.uuid4().hex
        self.owned = False
        # The expired claim of a presumed-dead owner this request took over (None: a fresh
        # claim). Its work may have landed: look for it before doing it again.
        self.took_over: IdempotencyRecord | None = None
        # Set when the heartbeat found the claim no longer ours (taken over after a stall).
        self.lost = False
        self._heartbeat: asyncio.Task[None] | None = None

    async def begin(self) -> dict[str, Any] | None:
        """None: this request owns the key and must do the work (first check ``took_over``).
        A dict: the stored answer of the first request with this key."""
        deadline = time.monotonic() + self.wait_seconds
        delay = _FIRST_POLL
        while True:
            record = await self.store.claim_idempotency_key(
                self.scope,
                self.key,
                self.request_hash,
                owner=self.owner,
                lease_seconds=self.lease_seconds,
            )
            if record is None:
                self._own()
                return None
            if record.request_hash != self.request_hash:
                raise IdempotencyKeyReused(
                    f"idempotencyKey {self.key!r} was already used with a different input;"
                    " use a new key for a new change",
                    field="idempotencyKey",
                )
            if record.response is not None:
                return record.response
            if record.lease_expired:
                if await self.store.take_over_idempotency_key(
                    self.scope,
                    self.key,
                    expired_owner=record.owner,
                    owner=self.owner,
                    lease_seconds=self.lease_seconds,
                ):
                    log.warning(
                        "idempotency key %r (%s): took over the claim of %s, whose lease ran"
                        " out at %s",
                        self.key,
                        self.scope,
                        record.owner or "an unknown owner",
                        record.lease_until,
                    )
                    self.took_over = record
                    self._own()
                    return None
                continue  # another retry took it over first: look again at once
            if time.monotonic() + delay > deadline:
                raise Aborted(
                    f"a request with idempotencyKey {self.key!r} is still in progress;"
                    " retry later with the same key",
                    field="idempotencyKey",
                )
            await asyncio.sleep(delay)
            delay = min(delay * 1.5, _MAX_POLL)

    def _own(self) -> None:
        self.owned = True
        self._heartbeat = asyncio.ensure_future(self._extend_while_working())

    async def _extend_while_working(self) -> None:
        interval = max(self.lease_seconds / 4, 0.001)
        while True:
            await asyncio.sleep(interval)
            try:
                kept = await self.store.extend_idempotency_lease(
                    self.scope, self.key, owner=self.owner, lease_seconds=self.lease_seconds
                )
            except Exception:
                log.exception("could not extend the lease of idempotency key %r", self.key)
                continue
            if not kept:
                self.lost = True
                log.warning(
                    "idempotency key %r (%s): the claim was taken over while this request"
                    " worked on it",
                    self.key,
                    self.scope,
                )
                return

    async def _stop_heartbeat(self) -> None:
        task, self._heartbeat = self._heartbeat, None
        if task is not None:
            task.cancel()
            await asyncio.wait([task])

    async def complete(self, response: dict[str, Any]) -> None:
        if not self.owned:
            return
        await self._stop_heartbeat()
        try:
            await self.store.complete_idempotency_key(self.scope, self.key, response)
        except Exception:
            log.exception(
                "could not store the answer of idempotency key %r (%s); the key stays claimed"
                " until its lease runs out, then a retry finds the commit",
                self.key,
                self.scope,
            )
        self.owned = False

    async def abandon(self) -> None:
        """Stop working on the key without releasing it: its lease runs out and a retry takes
        it over (and searches for the commit again)."""
        if not self.owned:
            return
        self.owned = False
        await asyncio.shield(self._stop_heartbeat())

    async def release(self) -> None:
        if not self.owned:
            return
        self.owned = False
        task = asyncio.ensure_future(self._release())
        _pending.add(task)  # keeps it alive if the caller is cancelled while waiting
        task.add_done_callback(_pending.discard)
        await asyncio.shield(task)

    async def _release(self) -> None:
        await self._stop_heartbeat()
        try:
            await self.store.release_idempotency_key(self.scope, self.key, owner=self.owner)
        except Exception:
            log.exception("could not release idempotency key %r (%s)", self.key, self.scope)
