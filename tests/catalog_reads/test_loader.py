"""The per-view loader: names asked for in the same tick become one ``get_many``; errors reach
every waiter. A counting subclass of the memory KV store is the unit double."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import UTC, datetime

import pytest

from gitstore.api.catalog.access import Channel
from gitstore.api.catalog.reads import CatalogView
from gitstore.backends.kv import Batch, Document
from gitstore.backends.kv.memory import MemoryKvStore
from gitstore.backends.metadata.base import PublishMode, RepositoryRecord, Visibility
from gitstore.domain.errors import Unavailable
from gitstore.domain.keys import ChannelScope

SCOPE = ChannelScope("acme/shop", "draft")


class CountingKv(MemoryKvStore):
    def __init__(self) -> None:
        super().__init__()
        self.calls: list[tuple[str, tuple[str, ...]]] = []
        self.fail = False

    async def get_many(
        self, scope: ChannelScope, kind: str, names: Sequence[str]
    ) -> list[Document | None]:
        self.calls.append((kind, tuple(names)))
        if self.fail:
            raise Unavailable("kv down")
        return await super().get_many(scope, kind, names)


def record() -> RepositoryRecord:
    now = datetime.now(UTC)
    return RepositoryRecord(
        "id",
        "ns-id",
        "acme",
        "shop",
        "",
        PublishMode.ON_COMMIT,
        "main",
        Visibility.PUBLIC,
        now,
        "x",
        now,
        "x",
    )


async def seeded() -> CountingKv:
    kv = CountingKv()
    batch = Batch(SCOPE, sequence=1, version="b" * 40)
    for name in ("a", "b", "c"):
        batch.upsert("product", name, {"kind": "Product", "metadata": {"name": name}})
    batch.upsert("category", "x", {"kind": "Category", "metadata": {"name": "x"}})
    await kv.apply(batch)
    return kv


async def test_one_get_many_per_kind_and_tick() -> None:
    kv = await seeded()
    view = CatalogView(kv, record(), Channel.LIVE, SCOPE)
    results = await asyncio.gather(
        view.load("product", "a"),
        view.load("product", "c"),
        view.load("product", "a"),
        view.load("product", "missing"),
        view.load("category", "x"),
    )
    assert [d.name if d else None for d in results] == ["a", "c", "a", None, "x"]
    assert sorted(kv.calls) == [("category", ("x",)), ("product", ("a", "c", "missing"))]
    kv.calls.clear()
    document = await view.load("product", "b")  # a later tick: a new batch
    assert document is not None and document.name == "b"
    assert kv.calls == [("product", ("b",))]
    assert view.resource(document).kind == "Product"


async def test_a_failed_batch_fails_every_waiter() -> None:
    kv = await seeded()
    kv.fail = True
    view = CatalogView(kv, record(), Channel.LIVE, SCOPE)
    results = await asyncio.gather(
        view.load("product", "a"), view.load("product", "b"), return_exceptions=True
    )
    assert all(isinstance(r, Unavailable) for r in results)
    kv.fail = False
    assert (await view.load("product", "a")) is not None


@pytest.mark.parametrize("channel", list(Channel))
async def test_head_is_read_once(channel: Channel) -> None:
    kv = await seeded()
    view = CatalogView(kv, record(), channel, SCOPE)
    first, second = await asyncio.gather(view.head(), view.head())
    assert first is second and first is not None and first.version == "b" * 40
