"""The worker feeds the resource store from the draft: real git service, SQLite KV, SQLite
resource store and the SQLite queue for the announcements."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator

import pytest

from gitstore.backends.kv import KvStore
from gitstore.backends.queue.base import Queue
from gitstore.backends.queue.factory import open_queue
from gitstore.backends.resources import ResourceStore, open_resource_store
from gitstore.config import Settings
from gitstore.domain.events import ResourceChangedEvent
from gitstore.domain.resources.rules import MetadataPatch
from gitstore.git.client import GitClient
from gitstore.git.kinds import KindsLoader
from gitstore.worker.handler import EventHandler
from gitstore.worker.projector import Projector
from gitstore.worker.resources import ResourceSync
from gitstore.worker.statuses import StatusRecorder
from tests.worker.harness import (
    commit,
    encode,
    event_of,
    files_of,
    head_of,
    path_of,
    product,
)


@pytest.fixture
async def store(settings: Settings) -> AsyncIterator[ResourceStore]:
    s = open_resource_store(settings.resources_url())
    await s.migrate()
    try:
        yield s
    finally:
        await s.close()


@pytest.fixture
async def pokes(settings: Settings) -> AsyncIterator[Queue]:
    q = await open_queue(settings.queue_url(), stream=settings.resources.stream)
    try:
        yield q
    finally:
        await q.close()


@pytest.fixture
def handler(
    git: GitClient, kv: KvStore, projector: Projector, store: ResourceStore, pokes: Queue
) -> EventHandler:
    sync = ResourceSync(git, kv, store, KindsLoader(git), announce_to=pokes)
    return EventHandler(projector, StatusRecorder(git, kv), None, sync)


async def announced(pokes: Queue) -> list[int]:
    messages = await pokes.fetch("test", "t", max_messages=100, timeout=0.2)
    for m in messages:
        await pokes.ack("test", m.id)
    return [ResourceChangedEvent.from_json(m.body).resource_version for m in messages]


async def test_commits_become_resources_with_versions_and_pokes(
    git: GitClient, repo: str, handler: EventHandler, store: ResourceStore, pokes: Queue
) -> None:
    await announced(pokes)  # creates the group before anything is published
    first = await commit(git, repo, files_of(product("a", labels={"tier": "gold"}), product("b")))
    assert await handler.handle(event_of(repo, first)) == "projected"
    objects, version = await store.list_resources(repo, "Product")
    assert version == 2 and await store.applied_commit(repo) == first.commit_sha
    a = next(o for o in objects if o["metadata"]["name"] == "a")
    assert a["spec"]["title"] == "A" and a["metadata"]["labels"] == {"tier": "gold"}
    assert a["spec"]["price"] == {"amount": "10.00", "currency": "EUR"}
    assert "path" not in a and a["metadata"]["generation"] == 1
    assert await announced(pokes) == [2]

    # a status survives the next spec change; generation and versions move
    await store.update_status(repo, "Product", "a", 1, {"observedGeneration": 1})
    second = await commit(
        git,
        repo,
        files_of(product("a", price="11.00", labels={"tier": "gold"})),
        deletes=[path_of(product("b"))],
    )
    await handler.handle(event_of(repo, second))
    got = await store.get(repo, "Product", "a")
    assert got is not None and got.generation == 2 and got.status == {"observedGeneration": 1}
    assert await store.get(repo, "Product", "b") is None
    assert await store.current_version(repo) == 5
    assert await announced(pokes) == [5]
    kinds = [(c.type, c.name) for c in await store.changes_since(repo, 3)]
    assert kinds == [("MODIFIED", "a"), ("DELETED", "b")]


async def test_redelivery_and_invalid_files_change_nothing(
    git: GitClient, repo: str, handler: EventHandler, store: ResourceStore, pokes: Queue
) -> None:
    await announced(pokes)
    first = await commit(git, repo, files_of(product("a", price="5.00")))
    event = event_of(repo, first)
    await handler.handle(event)
    await handler.handle(dataclasses.replace(event))  # redelivered
    assert await store.current_version(repo) == 1
    bad = encode(product("a", price="5.00")).replace(b"5.00", b"-5")
    second = await commit(git, repo, {"products/a.yaml": bad})
    await handler.handle(event_of(repo, second))
    got = await store.get(repo, "Product", "a")  # the last valid spec stays
    assert got is not None and got.spec["price"]["amount"] == "5.00"
    assert await store.current_version(repo) == 1
    assert await store.applied_commit(repo) == second.commit_sha
    assert await announced(pokes) == [1]


async def test_a_store_behind_the_draft_catches_up_fully(
    git: GitClient,
    kv: KvStore,
    repo: str,
    projector: Projector,
    handler: EventHandler,
    store: ResourceStore,
) -> None:
    # projected before the store existed (or with the store down): the sync resyncs fully
    first = await commit(git, repo, files_of(product("a"), product("b")))
    await EventHandler(projector, StatusRecorder(git, kv)).handle(event_of(repo, first))
    assert await store.current_version(repo) == 0
    assert await handler.handle(event_of(repo, first)) == "unchanged"
    names = [r.name for r in (await store.select(repo))[0]]
    assert names == ["a", "b"]


async def test_git_delete_waits_for_finalizers(
    git: GitClient, repo: str, handler: EventHandler, store: ResourceStore
) -> None:
    first = await commit(git, repo, files_of(product("a")))
    await handler.handle(event_of(repo, first))
    await store.update_metadata(repo, "Product", "a", 1, MetadataPatch(finalizers=["shop/x"]))
    gone = await commit(git, repo, deletes=[path_of(product("a"))])
    await handler.handle(event_of(repo, gone))
    got = await store.get(repo, "Product", "a")
    assert got is not None and got.deletion_timestamp is not None
    await store.update_metadata(repo, "Product", "a", 3, MetadataPatch(finalizers=[]))
    assert await store.get(repo, "Product", "a") is None


async def test_a_sync_that_lost_a_race_starts_over(
    git: GitClient, kv: KvStore, repo: str, projector: Projector, store: ResourceStore
) -> None:
    other = ResourceSync(git, kv, store, KindsLoader(git))
    plain = EventHandler(projector, StatusRecorder(git, kv))

    class Racing:
        """The real store; before this sync's first write, a newer commit is projected and
        another worker's sync applies it."""

        def __init__(self) -> None:
            self.raced = 0

        def __getattr__(self, name: str) -> object:
            return getattr(store, name)

        async def apply_commit(self, *args: object, **kwargs: object) -> object:
            if not self.raced:
                self.raced += 1
                newer = await commit(git, repo, files_of(product("a", price="13.00")))
                await plain.handle(event_of(repo, newer))
                assert (await other.sync(repo)) is not None
            return await store.apply_commit(*args, **kwargs)  # type: ignore[arg-type]

    first = await commit(git, repo, files_of(product("a")))
    await plain.handle(event_of(repo, first))
    await other.sync(repo)
    second = await commit(git, repo, files_of(product("a", price="12.00")))
    await plain.handle(event_of(repo, second))
    racing = Racing()
    mine = ResourceSync(git, kv, racing, KindsLoader(git))  # type: ignore[arg-type]
    # lost the race to the newer commit: starts over, finds it applied, writes nothing
    assert await mine.sync(repo) is None
    got = await store.get(repo, "Product", "a")
    assert racing.raced == 1 and got is not None
    assert got.spec["price"]["amount"] == "13.00" and got.generation == 2
    assert await store.applied_commit(repo) == await head_of(git, repo)
