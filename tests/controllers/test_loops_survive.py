"""The controller runtime's loops outlive answers they cannot read (unit tests: an API client
double). Before, an unexpected exception ended the lease loop (a leader kept leading on a
lease that had lapsed, or a replica never led) or the informer (its controller stalled for
good); now each is logged and retried."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any, cast

from gitstore.controllers.client import ApiClient
from gitstore.controllers.informer import Informer
from gitstore.controllers.leader import LeaderElector


class Double:
    """Answers ``execute`` from a list (an exception in it is raised); watches never end."""

    def __init__(self, answers: list[Any]) -> None:
        self.answers = answers
        self.calls = 0

    async def execute(self, _query: str, _variables: Any = None) -> Any:
        self.calls += 1
        answer = self.answers[min(self.calls, len(self.answers)) - 1]
        if isinstance(answer, Exception):
            raise answer
        return answer

    async def subscribe(self, _query: str, _variables: Any = None) -> AsyncIterator[Any]:
        await asyncio.Event().wait()
        yield {}


def lease(holder: Any) -> dict[str, Any]:
    return {"acquireControllerLease": {"held": True, "lease": holder, "userErrors": []}}


def test_the_lease_loop_survives_an_answer_it_cannot_read() -> None:
    async def go() -> None:
        client = Double([lease(None), ValueError("not JSON"), lease({"holder": "me"})])
        elector = LeaderElector(
            cast(ApiClient, client), "ns/repo", "builtin", "me", lease_seconds=1, renew_every=0.01
        )
        task = asyncio.create_task(elector.run())
        await asyncio.wait_for(elector.leading.wait(), 10)
        assert client.calls >= 3 and elector.holder == "me"
        task.cancel()

    asyncio.run(go())


def test_the_informer_relists_after_an_answer_it_cannot_read() -> None:
    good = {
        "resources": {
            "items": [{"object": {"metadata": {"name": "a", "resourceVersion": "1"}}}],
            "resourceVersion": "1",
        }
    }
    bad = {"resources": {"items": [{"object": {}}], "resourceVersion": "1"}}  # no metadata

    async def go() -> None:
        client = Double([bad, good])
        informer = Informer(cast(ApiClient, client), "ns/repo", "Product", retry_delay=0.01)
        task = asyncio.create_task(informer.run())
        await asyncio.wait_for(informer.synced.wait(), 10)
        assert set(informer.cache) == {"a"} and informer.resource_version == "1"
        task.cancel()

    asyncio.run(go())
