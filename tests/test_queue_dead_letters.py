"""The queue contract, continued: the payload limit and dead letters, on every backend.

Same targets and fixture as ``test_queue_contract`` (memory, SQLite, real Redis and real NATS
JetStream; each test on a fresh stream, dropped afterwards).

The first test reproduces the fault behind "one oversized event stops projection on NATS": a
body over NATS' 1 MiB maximum payload used to fail with ``Unavailable`` (retryable), so the
outbox relay retried it forever. Every backend now refuses it with the permanent
``MessageTooLarge`` before anything is stored.
"""

from __future__ import annotations

import time

import pytest

from gitstore.backends.queue.base import DEFAULT_MAX_PAYLOAD, MessageTooLarge
from gitstore.domain.errors import InvalidArgument, PermanentError, ResourceExhausted
from gitstore.domain.events import MAX_EVENT_BYTES
from tests.test_queue_contract import PATIENCE, SHORT, Target, collect, target

__all__ = ["target"]  # the fixture, shared with the contract suite


async def test_a_body_over_max_payload_is_refused_with_a_permanent_error(target: Target) -> None:
    queue = await target.open()
    assert MAX_EVENT_BYTES * 2 <= queue.max_payload <= DEFAULT_MAX_PAYLOAD
    fits = b"x" * queue.max_payload
    too_big = b"y" * (DEFAULT_MAX_PAYLOAD + 1)  # over NATS' default 1 MiB max_payload
    with pytest.raises(MessageTooLarge) as caught:
        await queue.publish(too_big, key="acme/shop")
    assert isinstance(caught.value, ResourceExhausted | PermanentError)
    assert caught.value.limit == queue.max_payload and caught.value.size == len(too_big)
    with pytest.raises(MessageTooLarge):
        await queue.publish(b"z" * (queue.max_payload + 1))
    message_id = await queue.publish(fits, key="acme/shop")
    [message] = await collect(queue, "workers", "c1", 1)
    assert (message.id, message.body) == (message_id, fits)  # the refused ones left no trace
    assert await queue.pending("workers") == 0


async def test_dead_letter_acks_the_message_and_keeps_it_for_the_group(target: Target) -> None:
    queue = await target.open()
    first = await queue.publish(b"poison", key="acme/shop")
    await queue.publish(b"fine", key="acme/other")
    [poison, fine] = await collect(queue, "workers", "c1", 2, ack=False)
    await queue.dead_letter("workers", poison, "handler said no\nsecond line")
    await queue.ack("workers", fine.id)
    assert await queue.pending("workers") == 0
    assert await queue.fetch("workers", "c1", timeout=0.2) == []
    [letter] = await queue.dead_letters("workers")
    assert letter.message_id == first
    assert (letter.body, letter.key, letter.delivery_count) == (b"poison", "acme/shop", 1)
    assert letter.reason == "handler said no second line"
    assert letter.dead_at >= poison.published_at - 5
    assert await queue.dead_letter_count("workers") == 1
    assert await queue.dead_letter_count("others") == 0  # per group
    assert await queue.dead_letters("others") == []


async def test_fetch_dead_letters_a_message_over_its_delivery_budget(target: Target) -> None:
    queue = await target.open(ack_wait=SHORT)
    poison_id = await queue.publish(b"crashes its consumer", key="acme/shop")
    for delivery in (1, 2):
        [message] = await collect(queue, "workers", "c1", 1, ack=False)
        assert (message.id, message.delivery_count) == (poison_id, delivery)
        await queue.nack("workers", message.id)  # or its consumer died: the lease runs out
    good_id = await queue.publish(b"next", key="acme/other")
    # the third delivery would exceed the budget of 2: set aside, the next message comes
    got = []
    deadline = time.monotonic() + PATIENCE
    while not got and time.monotonic() < deadline:
        got = await queue.fetch("workers", "c1", timeout=1.0, max_deliveries=2)
    assert [m.id for m in got] == [good_id]
    [letter] = await queue.dead_letters("workers")
    assert (letter.message_id, letter.body, letter.delivery_count) == (
        poison_id,
        b"crashes its consumer",
        3,
    )
    assert "budget of 2" in letter.reason
    await queue.ack("workers", good_id)
    assert await queue.pending("workers") == 0


async def test_replay_publishes_again_and_drop_forgets(target: Target) -> None:
    queue = await target.open()
    for body in (b"a", b"b", b"c"):
        await queue.publish(body, key=f"k/{body.decode()}")
    messages = await collect(queue, "workers", "c1", 3, ack=False)
    for message in messages:
        await queue.dead_letter("workers", message, f"bad {message.body!r}")
    letters = await queue.dead_letters("workers")
    assert [d.body for d in letters] == [b"a", b"b", b"c"]  # oldest first
    assert [d.body for d in await queue.dead_letters("workers", limit=2)] == [b"a", b"b"]
    new_id = await queue.replay_dead_letter("workers", letters[1].id)
    assert new_id is not None and new_id not in {m.id for m in messages}
    [again] = await collect(queue, "workers", "c1", 1)
    assert (again.id, again.body, again.key, again.delivery_count) == (new_id, b"b", "k/b", 1)
    assert await queue.drop_dead_letter("workers", letters[0].id) is True
    assert await queue.drop_dead_letter("workers", letters[0].id) is False
    assert await queue.replay_dead_letter("workers", letters[0].id) is None
    assert await queue.replay_dead_letter("others", letters[2].id) is None  # another group's
    assert [d.body for d in await queue.dead_letters("workers")] == [b"c"]
    assert await queue.dead_letter_count("workers") == 1


async def test_dead_letters_survive_reopening(target: Target) -> None:
    """(memory: a queue lives as long as its process, shared by name, so it holds too)"""
    queue = await target.open()
    await queue.publish(b"keep me")
    [message] = await collect(queue, "workers", "c1", 1, ack=False)
    await queue.dead_letter("workers", message, "kept")
    await queue.close()
    again = await target.open()
    [letter] = await again.dead_letters("workers")
    assert (letter.body, letter.reason) == (b"keep me", "kept")


async def test_dead_letter_bad_arguments(target: Target) -> None:
    queue = await target.open()
    with pytest.raises(InvalidArgument):
        await queue.dead_letters("bad group")
    with pytest.raises(InvalidArgument):
        await queue.dead_letters("workers", limit=0)
    with pytest.raises(InvalidArgument):
        await queue.replay_dead_letter("workers", "not-an-id")
    with pytest.raises(InvalidArgument):
        await queue.fetch("workers", "c1", timeout=0, max_deliveries=-1)
