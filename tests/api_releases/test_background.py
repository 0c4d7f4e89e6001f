"""``ReleaseBackground.stop``: the loops are asked to finish, cancelling is only the fallback.

A queue whose ``fetch`` waits its whole timeout stands in for NATS JetStream's long poll; the
stop must not cancel it mid-fetch (a task cancelled inside nats-py's ``next_msg`` was seen to
never finish, which kept the API from exiting). One that never returns and swallows
cancellation shows the bound: the stop still returns and says what it left behind.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time

import pytest

from gitstore.api.webhooks import background
from gitstore.api.webhooks.background import ReleaseBackground
from gitstore.backends.metadata.memory import MemoryMetadataStore
from gitstore.backends.queue.base import Message
from gitstore.backends.queue.memory import MemoryQueue
from gitstore.config import WebhookSettings


class LongPoll(MemoryQueue):
    """``fetch`` waits its whole timeout and records whether it was cancelled."""

    def __init__(self) -> None:
        super().__init__(stream="published")
        self.cancelled = 0
        self.fetches = 0

    async def fetch(
        self, group: str, consumer: str, *, max_messages: int = 10, timeout: float = 1.0
    ) -> list[Message]:
        self.fetches += 1
        try:
            await asyncio.sleep(timeout)
        except asyncio.CancelledError:
            self.cancelled += 1
            raise
        return []


class Stubborn(MemoryQueue):
    """``fetch`` ignores being cancelled until ``release`` (the hang, made on purpose; released
    at the end so the test's own event loop can close)."""

    def __init__(self) -> None:
        super().__init__(stream="published")
        self.release = asyncio.Event()

    async def fetch(
        self, group: str, consumer: str, *, max_messages: int = 10, timeout: float = 1.0
    ) -> list[Message]:
        while not self.release.is_set():
            with contextlib.suppress(asyncio.CancelledError):
                await self.release.wait()
        return []


async def test_stop_lets_a_long_poll_finish_instead_of_cancelling_it() -> None:
    queue = LongPoll()
    jobs = ReleaseBackground(MemoryMetadataStore(), queue, WebhookSettings())
    jobs.start()
    await asyncio.sleep(0.2)
    started = time.monotonic()
    await jobs.stop()
    assert time.monotonic() - started < background.STOP_WAIT
    assert queue.fetches >= 1 and queue.cancelled == 0


async def test_stop_is_bounded_even_when_a_loop_never_ends(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(background, "STOP_WAIT", 0.3)
    queue = Stubborn()
    jobs = ReleaseBackground(MemoryMetadataStore(), queue, WebhookSettings())
    jobs.start()
    await asyncio.sleep(0.1)
    started = time.monotonic()
    with caplog.at_level(logging.WARNING, logger="gitstore.api.webhooks.background"):
        await jobs.stop()
    assert time.monotonic() - started < 2.0
    assert "gitstore-publication-results did not stop" in caplog.text
    queue.release.set()  # let the abandoned task end with the test
    await asyncio.sleep(0.05)
