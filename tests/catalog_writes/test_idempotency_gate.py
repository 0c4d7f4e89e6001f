"""The idempotency gate's lease on the memory store: the owner's heartbeat extends it, a
stalled owner's claim is taken over by a retry, and the stalled owner notices."""

from __future__ import annotations

import asyncio

from gitstore.api.catalog.writes.idempotency import IdempotencyGate
from gitstore.backends.metadata.memory import MemoryMetadataStore


async def record_of(store: MemoryMetadataStore, scope: str, key: str):  # type: ignore[no-untyped-def]
    seen = await store.claim_idempotency_key(scope, key, "h", owner="observer")
    assert seen is not None
    return seen


async def test_the_owner_extends_its_lease_while_it_works_and_a_stalled_one_is_taken_over() -> None:
    store = MemoryMetadataStore()
    first = IdempotencyGate(store, "s", "k", "h", lease_seconds=0.04)
    assert await first.begin() is None and first.owned and first.took_over is None
    start = await record_of(store, "s", "k")
    assert start.owner == first.owner
    while (await record_of(store, "s", "k")).lease_until == start.lease_until:
        await asyncio.sleep(0.005)  # the heartbeat moves the lease on
    # the owner stalls (its heartbeat stops, like a process that was killed)
    assert first._heartbeat is not None
    first._heartbeat.cancel()
    retry = IdempotencyGate(store, "s", "k", "h", lease_seconds=60)
    assert await retry.begin() is None  # waits for the lease to run out, then takes over
    assert retry.took_over is not None and retry.took_over.owner == first.owner
    assert (await record_of(store, "s", "k")).owner == retry.owner
    # the stalled owner wakes up: its next heartbeat finds the claim gone
    first._heartbeat = asyncio.ensure_future(first._extend_while_working())
    while not first.lost:
        await asyncio.sleep(0.005)
    await first.release()  # releases nothing of the new owner's
    assert (await record_of(store, "s", "k")).owner == retry.owner
    await retry.complete({"commit": "c"})
    assert (await record_of(store, "s", "k")).response == {"commit": "c"}
    third = IdempotencyGate(store, "s", "k", "h")
    assert await third.begin() == {"commit": "c"}


async def test_an_abandoned_claim_is_not_released() -> None:
    store = MemoryMetadataStore()
    gate = IdempotencyGate(store, "s", "k", "h", lease_seconds=60)
    assert await gate.begin() is None
    await gate.abandon()
    assert not gate.owned and gate._heartbeat is None
    kept = await record_of(store, "s", "k")
    assert kept.owner == gate.owner and kept.response is None and not kept.lease_expired
