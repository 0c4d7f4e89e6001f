"""One contract suite for every KV backend: memory, SQLite (a temp file) and Redis (the real
server from tests/servers.py, a unique key prefix per test, its keys deleted afterwards).

Plus the pure key rules (gitstore.domain.keys), batch validation, the URL factory and the
settings default, and per-backend checks that need backend internals (a failure injected in
the middle of a batch, reopening a SQLite file).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import sqlite3
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path

import pytest

from gitstore.backends.kv import encode_upsert, open_kv_store, sqlite_path
from gitstore.backends.kv.base import (
    MAX_PAGE_SIZE,
    Batch,
    Document,
    KvStore,
    Page,
    encode_cursor,
)
from gitstore.backends.kv.memory import MemoryKvStore
from gitstore.backends.kv.redis import RedisKvStore
from gitstore.backends.kv.sqlite import SqliteKvStore
from gitstore.config import load_settings
from gitstore.domain.errors import (
    FailedPrecondition,
    GitStoreError,
    InvalidArgument,
    Unavailable,
)
from gitstore.domain.keys import (
    DRAFT,
    LIVE,
    ChannelScope,
    document_key,
    parse_document_key,
)
from tests.servers import REDIS_URL, require_server

REPO = "acme/catalog"
LIVE_SCOPE = ChannelScope(REPO, LIVE)


def sha(n: int) -> str:
    return f"{n:040x}"


def batch(
    sequence: int,
    scope: ChannelScope = LIVE_SCOPE,
    *,
    advance_head: bool = True,
    expected_head_sequence: int | None = None,
) -> Batch:
    return Batch(
        scope,
        sequence=sequence,
        version=sha(sequence),
        advance_head=advance_head,
        expected_head_sequence=expected_head_sequence,
    )


Sabotage = Callable[[KvStore, ChannelScope, str, str], Awaitable[None]]


async def _sqlite_sabotage(store: KvStore, scope: ChannelScope, kind: str, name: str) -> None:
    """A trigger that aborts the transaction when the batch reaches one document."""
    assert isinstance(store, SqliteKvStore)
    conn = sqlite3.connect(store.path)
    conn.execute(
        "CREATE TRIGGER poison BEFORE INSERT ON kv_documents "
        f"WHEN NEW.name = '{name}' BEGIN SELECT RAISE(ABORT, 'injected failure'); END"
    )
    conn.commit()
    conn.close()


async def _redis_sabotage(store: KvStore, scope: ChannelScope, kind: str, name: str) -> None:
    """A foreign value of the wrong type where the batch's document would go."""
    assert isinstance(store, RedisKvStore)
    key = f"{store.prefix}{{{scope.repository}:{scope.channel}}}:{kind}:{name}"
    await store.client.set(key, b"x")


@asynccontextmanager
async def _open(backend: str, tmp_path: Path) -> AsyncIterator[KvStore]:
    if backend == "memory":
        yield MemoryKvStore()
    elif backend == "sqlite":
        store = await open_kv_store(f"sqlite:///{tmp_path / 'kv.sqlite3'}")
        try:
            yield store
        finally:
            await store.close()
    else:
        url = require_server(REDIS_URL, "Redis")
        prefix = f"gitstore-test-{uuid.uuid4().hex}:"
        redis_store = await open_kv_store(f"{url}?prefix={prefix}")
        assert isinstance(redis_store, RedisKvStore)
        try:
            yield redis_store
        finally:
            client = redis_store.client
            keys = [key async for key in client.scan_iter(match=f"{prefix}*", count=1000)]
            for start in range(0, len(keys), 1000):
                await client.delete(*keys[start : start + 1000])
            await redis_store.close()


@pytest.fixture(params=["memory", "sqlite", "redis"])
async def kv(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[KvStore]:
    async with _open(request.param, tmp_path) as store:
        yield store


@pytest.fixture(params=["sqlite", "redis"])
async def sabotaged(
    request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[tuple[KvStore, Sabotage]]:
    """Backends where a write can fail after the batch started (the memory store applies a
    batch only after all its checks, with dict operations that cannot fail half-way)."""
    sabotage = _sqlite_sabotage if request.param == "sqlite" else _redis_sabotage
    async with _open(request.param, tmp_path) as store:
        yield store, sabotage


async def names_of(kv: KvStore, scope: ChannelScope, kind: str) -> list[str]:
    page = await kv.list_documents(scope, kind, first=MAX_PAGE_SIZE)
    return [doc.name for doc in page.items]


async def lookup_names(
    kv: KvStore, index: str, value: str, scope: ChannelScope = LIVE_SCOPE
) -> list[str]:
    page = await kv.lookup(scope, "product", index, value, first=MAX_PAGE_SIZE)
    assert page.total_count == len(page.items)
    return [doc.name for doc in page.items]


# ---------------------------------------------------------------------- documents and versions
async def test_upsert_then_get(kv: KvStore) -> None:
    doc = {"title": "Blue shirt", "price": {"amount": "19.90", "currency": "EUR"}, "tags": ["ü"]}
    result = await kv.apply(batch(3).upsert("product", "blue-shirt", doc))
    assert (result.applied, result.skipped, result.head_advanced) == (1, 0, True)

    got = await kv.get(LIVE_SCOPE, "product", "blue-shirt")
    assert got is not None
    assert got.value() == doc
    assert (got.kind, got.name, got.version, got.sequence) == ("product", "blue-shirt", sha(3), 3)
    assert await kv.get(LIVE_SCOPE, "product", "missing") is None
    assert await kv.get(LIVE_SCOPE, "category", "blue-shirt") is None

    many = await kv.get_many(LIVE_SCOPE, "product", ["missing", "blue-shirt", "blue-shirt"])
    assert [d.name if d else None for d in many] == [None, "blue-shirt", "blue-shirt"]
    assert await kv.get_many(LIVE_SCOPE, "product", []) == []


async def test_stale_write_is_ignored_and_equal_sequence_reapplies(kv: KvStore) -> None:
    await kv.apply(batch(5).upsert("product", "p", {"title": "five"}))
    stale = await kv.apply(batch(3).upsert("product", "p", {"title": "three"}))
    assert (stale.applied, stale.skipped) == (0, 1)
    doc = await kv.get(LIVE_SCOPE, "product", "p")
    assert doc is not None and doc.value() == {"title": "five"} and doc.sequence == 5

    again = await kv.apply(batch(5).upsert("product", "p", {"title": "five again"}))
    assert (again.applied, again.skipped) == (1, 0)
    doc = await kv.get(LIVE_SCOPE, "product", "p")
    assert doc is not None and doc.value() == {"title": "five again"}


async def test_delete_leaves_tombstone_that_blocks_an_older_upsert(kv: KvStore) -> None:
    await kv.apply(batch(1).upsert("product", "p", {"title": "one"}, indexes={"category": "c"}))
    deleted = await kv.apply(batch(3).delete("product", "p"))
    assert deleted.applied == 1
    assert await kv.get(LIVE_SCOPE, "product", "p") is None
    assert await names_of(kv, LIVE_SCOPE, "product") == []
    assert await lookup_names(kv, "category", "c") == []

    late = await kv.apply(
        batch(2).upsert("product", "p", {"title": "two"}, indexes={"category": "c"})
    )
    assert (late.applied, late.skipped) == (0, 1)
    assert await kv.get(LIVE_SCOPE, "product", "p") is None
    assert await lookup_names(kv, "category", "c") == []

    # A delete that arrives before the (older) create also wins.
    await kv.apply(batch(7).delete("product", "never-created"))
    await kv.apply(batch(6).upsert("product", "never-created", {"title": "late"}))
    assert await kv.get(LIVE_SCOPE, "product", "never-created") is None

    newer = await kv.apply(batch(8).upsert("product", "p", {"title": "eight"}))
    assert newer.applied == 1
    doc = await kv.get(LIVE_SCOPE, "product", "p")
    assert doc is not None and doc.value() == {"title": "eight"}
    assert await names_of(kv, LIVE_SCOPE, "product") == ["p"]


async def test_prune_tombstones_forgets_only_older_ones(kv: KvStore) -> None:
    await kv.apply(batch(2).delete("product", "old"))
    await kv.apply(batch(9).delete("product", "recent"))
    await kv.apply(batch(10).upsert("product", "alive", {}))
    assert await kv.prune_tombstones(LIVE_SCOPE, below_sequence=5) == 1
    # The pruned tombstone no longer blocks; the recent one still does.
    assert (await kv.apply(batch(3).upsert("product", "old", {}))).applied == 1
    assert (await kv.apply(batch(4).upsert("product", "recent", {}))).skipped == 1
    assert await names_of(kv, LIVE_SCOPE, "product") == ["alive", "old"]


async def test_concurrent_batches_converge_to_the_highest_sequence(kv: KvStore) -> None:
    sequences = list(range(1, 21))
    random.Random(4).shuffle(sequences)
    await asyncio.gather(
        *(
            kv.apply(batch(s).upsert("product", "p", {"n": s}, indexes={"n": str(s)}))
            for s in sequences
        )
    )
    doc = await kv.get(LIVE_SCOPE, "product", "p")
    assert doc is not None and doc.value() == {"n": 20} and doc.version == sha(20)
    head = await kv.head(LIVE_SCOPE)
    assert head is not None and head.sequence == 20
    assert await lookup_names(kv, "n", "20") == ["p"]
    for s in range(1, 20):
        assert await lookup_names(kv, "n", str(s)) == []


# ---------------------------------------------------------------------- atomicity
async def _state(kv: KvStore) -> tuple[object, ...]:
    docs = await kv.list_documents(LIVE_SCOPE, "product", first=MAX_PAGE_SIZE)
    head = await kv.head(LIVE_SCOPE)
    return (
        [(d.name, d.body, d.sequence) for d in docs.items],
        docs.total_count,
        await lookup_names(kv, "category", "shoes"),
        await lookup_names(kv, "category", "hats"),
        head.sequence if head else None,
    )


async def _seed(kv: KvStore) -> None:
    seed = batch(1)
    for i in range(5):
        seed.upsert("product", f"p{i}", {"i": i}, indexes={"category": "shoes"})
    await kv.apply(seed)


def _big_change(sequence: int, expected_head_sequence: int | None = None) -> Batch:
    change = batch(sequence, expected_head_sequence=expected_head_sequence)
    for i in range(5):
        change.upsert("product", f"p{i}", {"i": -i}, indexes={"category": "hats"})
    for i in range(5, 300):
        change.upsert("product", f"q{i:03}", {"i": i}, indexes={"category": "hats"})
    change.delete("product", "p4x")
    return change


async def test_failed_head_precondition_applies_nothing(kv: KvStore) -> None:
    await _seed(kv)
    before = await _state(kv)
    with pytest.raises(FailedPrecondition, match="head is at sequence 1"):
        await kv.apply(_big_change(2, expected_head_sequence=7))
    assert await _state(kv) == before
    result = await kv.apply(_big_change(2, expected_head_sequence=1))
    assert result.applied == 301
    assert (await _state(kv))[1] == 300


async def test_batch_failing_half_way_applies_nothing(
    sabotaged: tuple[KvStore, Sabotage],
) -> None:
    kv, sabotage = sabotaged
    await _seed(kv)
    before = await _state(kv)
    await sabotage(kv, LIVE_SCOPE, "product", "q150")
    with pytest.raises(GitStoreError):
        await kv.apply(_big_change(2))
    assert await _state(kv) == before


async def test_cancelled_apply_is_all_or_nothing_and_the_store_stays_usable(kv: KvStore) -> None:
    big = batch(1)
    for i in range(3000):
        big.upsert("product", f"p{i:04}", {"i": i}, indexes={"category": "c"})
    task = asyncio.create_task(kv.apply(big))
    await asyncio.sleep(0)
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    await kv.apply(batch(2).upsert("product", "after", {}, indexes={"category": "c"}))
    listed = await kv.list_documents(LIVE_SCOPE, "product", first=0)
    indexed = await kv.lookup(LIVE_SCOPE, "product", "category", "c", first=0)
    assert listed.total_count in (1, 3001)
    assert indexed.total_count == listed.total_count
    assert await kv.get(LIVE_SCOPE, "product", "after") is not None


async def test_ten_thousand_document_batch(kv: KvStore) -> None:
    big = batch(1)
    for i in range(10_000):
        big.upsert(
            "product",
            f"product-{i:05}",
            {"title": f"Product {i}", "description": "x" * 200, "price": str(i)},
            indexes={"category": f"cat-{i % 10}", "handle": f"handle-{i}"},
        )
    result = await kv.apply(big)
    assert (result.applied, result.skipped) == (10_000, 0)
    page = await kv.list_documents(LIVE_SCOPE, "product", first=3)
    assert page.total_count == 10_000
    assert [d.name for d in page.items] == ["product-00000", "product-00001", "product-00002"]
    cat = await kv.lookup(LIVE_SCOPE, "product", "category", "cat-7", first=2)
    assert cat.total_count == 1000 and [d.name for d in cat.items] == [
        "product-00007",
        "product-00017",
    ]
    assert await lookup_names(kv, "handle", "handle-9999") == ["product-09999"]


async def test_a_batch_keeps_every_body_and_index_value_exact(kv: KvStore) -> None:
    """Bodies of varying length and multi-byte text, index values with quotes, backslashes
    and line separators: each document reads back exactly as written, in a first batch and
    in a second one that updates, re-indexes and deletes (SQLite writes a batch in one
    statement per table: bodies as slices of one BLOB, rows as JSON)."""
    texts = ["", "é", "✓✓", "😀 emoji", 'q"uote', "back\\slash", "line\u2028sep", "x" * 300]
    values = {
        f"p-{i:03}": {"title": texts[i % len(texts)] * (i % 5), "n": i, "nested": {"t": texts}}
        for i in range(120)
    }
    first = batch(1)
    for name, value in values.items():
        first.upsert("product", name, value, indexes={"tag": texts[int(name[2:]) % 7 + 1]})
    await kv.apply(first)
    for name, value in values.items():
        doc = await kv.get(LIVE_SCOPE, "product", name)
        assert doc is not None and doc.value() == value, name
    for text in texts[1:8]:
        names = await lookup_names(kv, "tag", text)
        assert names == sorted(n for n in values if texts[int(n[2:]) % 7 + 1] == text), text
    second = batch(2)
    for i in range(0, 120, 3):
        second.upsert("product", f"p-{i:03}", {"v": 2, "t": texts[i % 8]}, indexes={"tag": "é"})
    for i in range(1, 120, 3):
        second.delete("product", f"p-{i:03}")
    result = await kv.apply(second)
    assert (result.applied, result.skipped) == (80, 0)
    assert await kv.get(LIVE_SCOPE, "product", "p-001") is None
    doc = await kv.get(LIVE_SCOPE, "product", "p-003")
    assert doc is not None and doc.value() == {"v": 2, "t": texts[3]} and doc.sequence == 2
    kept = await kv.get(LIVE_SCOPE, "product", "p-002")
    assert kept is not None and kept.value() == values["p-002"] and kept.sequence == 1
    assert await lookup_names(kv, "tag", "é") == sorted(
        [f"p-{i:03}" for i in range(0, 120, 3)]
        + [n for i, n in enumerate(values) if i % 3 == 2 and texts[i % 7 + 1] == "é"]
    )
    assert await lookup_names(kv, "tag", 'q"uote') == [
        n for i, n in enumerate(values) if i % 3 == 2 and texts[i % 7 + 1] == 'q"uote'
    ]


# ---------------------------------------------------------------------- indexes
async def test_index_sets_are_the_entries_stored_with_each_document(kv: KvStore) -> None:
    await kv.apply(
        batch(1)
        .upsert("product", "p", {}, indexes={"collection": ["sale", "new"], "category": "shoes"})
        .upsert("product", "q", {})
        .upsert("product", "gone", {}, indexes={"category": "x"})
    )
    await kv.apply(batch(2).delete("product", "gone"))
    got = await kv.index_sets(LIVE_SCOPE, "product", ["q", "missing", "p", "gone"])
    assert got[1] is None and got[3] is None  # no document, or a tombstone
    assert json.loads(got[2] or "") == {"category": ["shoes"], "collection": ["new", "sale"]}
    assert json.loads(got[0] or "") == {}
    assert await kv.index_sets(LIVE_SCOPE, "product", []) == []
    assert await kv.index_sets(LIVE_SCOPE, "category", ["p"]) == [None]


async def test_index_entries_follow_the_document(kv: KvStore) -> None:
    await kv.apply(
        batch(1)
        .upsert("product", "p", {}, indexes={"category": "shoes", "collection": ["sale", "new"]})
        .upsert("product", "q", {}, indexes={"category": "shoes"})
    )
    assert await lookup_names(kv, "category", "shoes") == ["p", "q"]
    assert await lookup_names(kv, "collection", "new") == ["p"]

    await kv.apply(
        batch(2).upsert("product", "p", {}, indexes={"category": "hats", "collection": ["new"]})
    )
    assert await lookup_names(kv, "category", "shoes") == ["q"]
    assert await lookup_names(kv, "category", "hats") == ["p"]
    assert await lookup_names(kv, "collection", "sale") == []
    assert await lookup_names(kv, "collection", "new") == ["p"]

    # A stale upsert does not touch the index either.
    await kv.apply(batch(1).upsert("product", "p", {}, indexes={"category": "shoes"}))
    assert await lookup_names(kv, "category", "shoes") == ["q"]

    await kv.apply(batch(3).upsert("product", "p", {}))  # no index entries at all now
    assert await lookup_names(kv, "category", "hats") == []
    assert await lookup_names(kv, "collection", "new") == []
    await kv.apply(batch(4).delete("product", "q"))
    assert await lookup_names(kv, "category", "shoes") == []
    # Indexes are per kind.
    await kv.apply(batch(5).upsert("category", "c", {}, indexes={"category": "shoes"}))
    assert await lookup_names(kv, "category", "shoes") == []


# ---------------------------------------------------------------------- pagination
async def test_pages_are_stable_ordered_and_counted(kv: KvStore) -> None:
    names = [f"item-{i:02}" for i in range(25)]
    shuffled = names[:]
    random.Random(1).shuffle(shuffled)
    first_half, second_half = batch(1), batch(2)
    for i, name in enumerate(shuffled):
        (first_half if i % 2 else second_half).upsert(
            "product", name, {"n": name}, indexes={"status": "active"}
        )
    await kv.apply(first_half)
    await kv.apply(second_half)

    def by_kind(after: str | None) -> Awaitable[Page[Document]]:
        return kv.list_documents(LIVE_SCOPE, "product", first=10, after=after)

    def by_index(after: str | None) -> Awaitable[Page[Document]]:
        return kv.lookup(LIVE_SCOPE, "product", "status", "active", first=10, after=after)

    for pager in (by_kind, by_index):
        seen: list[str] = []
        after = None
        flags = []
        while True:
            page = await pager(after)
            assert page.total_count == 25
            seen += [d.name for d in page.items]
            flags.append(page.has_next_page)
            if not page.has_next_page:
                break
            assert page.end_cursor == page.items[-1].cursor
            after = page.end_cursor
        assert seen == names
        assert flags == [True, True, False]

    empty = await kv.list_documents(LIVE_SCOPE, "product", first=0)
    assert (empty.items, empty.total_count, empty.has_next_page, empty.end_cursor) == (
        [],
        25,
        True,
        None,
    )
    tail = await kv.list_documents(LIVE_SCOPE, "product", first=5, after=encode_cursor("item-24"))
    assert (tail.items, tail.has_next_page, tail.end_cursor) == ([], False, None)
    # A cursor need not name an existing document.
    mid = await kv.list_documents(LIVE_SCOPE, "product", first=2, after=encode_cursor("item-10x"))
    assert [d.name for d in mid.items] == ["item-11", "item-12"]
    nothing = await kv.list_documents(LIVE_SCOPE, "category", first=5)
    assert (nothing.items, nothing.total_count, nothing.has_next_page) == ([], 0, False)

    with pytest.raises(InvalidArgument, match="cursor"):
        await kv.list_documents(LIVE_SCOPE, "product", first=5, after="!!not a cursor!!")
    with pytest.raises(InvalidArgument, match="first"):
        await kv.list_documents(LIVE_SCOPE, "product", first=MAX_PAGE_SIZE + 1)
    with pytest.raises(InvalidArgument, match="first"):
        await kv.lookup(LIVE_SCOPE, "product", "status", "active", first=-1)


# ---------------------------------------------------------------------- heads, channels, aliases
async def test_channel_head_moves_with_batches_and_never_back(kv: KvStore) -> None:
    assert await kv.head(LIVE_SCOPE) is None
    await kv.apply(batch(4).upsert("product", "p", {}))
    head = await kv.head(LIVE_SCOPE)
    assert head is not None and (head.version, head.sequence) == (sha(4), 4) and head.updated_at > 0

    chunk = await kv.apply(batch(6, advance_head=False).upsert("product", "q", {}))
    assert chunk.head_advanced is False
    head = await kv.head(LIVE_SCOPE)
    assert head is not None and head.sequence == 4

    older = await kv.apply(batch(2).upsert("product", "r", {}))
    assert older.head_advanced is False and older.applied == 1
    head = await kv.head(LIVE_SCOPE)
    assert head is not None and head.sequence == 4

    empty = await kv.apply(batch(6))  # a commit that changed nothing projected still moves the head
    assert empty.head_advanced is True
    head = await kv.head(LIVE_SCOPE)
    assert head is not None and (head.version, head.sequence) == (sha(6), 6)


async def test_repositories_and_channels_are_isolated(kv: KvStore) -> None:
    scopes = [LIVE_SCOPE, ChannelScope(REPO, DRAFT), ChannelScope("acme/other", LIVE)]
    for n, scope in enumerate(scopes, start=1):
        await kv.apply(
            batch(n, scope).upsert("product", "p", {"in": str(scope)}, indexes={"category": "c"})
        )
    await kv.apply(batch(9, scopes[1]).upsert("product", "draft-only", {}))
    for n, scope in enumerate(scopes, start=1):
        doc = await kv.get(scope, "product", "p")
        assert doc is not None and doc.value() == {"in": str(scope)} and doc.sequence == n
        assert await lookup_names(kv, "category", "c", scope) == ["p"]
    assert await names_of(kv, scopes[0], "product") == ["p"]
    assert await names_of(kv, scopes[1], "product") == ["draft-only", "p"]
    heads = [await kv.head(scope) for scope in scopes]
    assert [h.sequence if h else None for h in heads] == [1, 9, 3]

    await kv.apply(batch(10, scopes[1]).delete("product", "p"))
    assert await kv.get(LIVE_SCOPE, "product", "p") is not None
    await kv.drop_channel(scopes[1])
    assert await names_of(kv, scopes[1], "product") == []
    assert await kv.head(scopes[1]) is None
    assert await names_of(kv, LIVE_SCOPE, "product") == ["p"]


async def test_alias_switches_a_channel_atomically(kv: KvStore) -> None:
    assert await kv.resolve(REPO, LIVE) == LIVE_SCOPE
    release_1, release_2 = ChannelScope(REPO, "rel-1"), ChannelScope(REPO, "rel-2")
    await kv.apply(batch(1, release_1).upsert("product", "p", {"release": 1}))
    await kv.apply(batch(1, release_2).upsert("product", "p", {"release": 2}))

    assert await kv.set_alias(REPO, LIVE, "rel-1", sequence=5) is True
    scope = await kv.resolve(REPO, LIVE)
    assert scope == release_1
    doc = await kv.get(scope, "product", "p")
    assert doc is not None and doc.value() == {"release": 1}

    assert await kv.set_alias(REPO, LIVE, "rel-2", sequence=6) is True
    assert await kv.set_alias(REPO, LIVE, "rel-1", sequence=5) is False  # a late, older switch
    assert await kv.resolve(REPO, LIVE) == release_2
    assert await kv.resolve("acme/other", LIVE) == ChannelScope("acme/other", LIVE)

    with pytest.raises(FailedPrecondition, match="alias"):
        await kv.drop_channel(release_2)
    await kv.drop_channel(release_1)  # no longer pointed at
    assert await kv.get(release_1, "product", "p") is None

    assert await kv.set_alias(REPO, LIVE, None, sequence=7) is True
    assert await kv.resolve(REPO, LIVE) == LIVE_SCOPE
    assert await kv.set_alias(REPO, LIVE, "rel-2", sequence=6) is False
    with pytest.raises(InvalidArgument):
        await kv.set_alias(REPO, LIVE, LIVE, sequence=8)
    with pytest.raises(InvalidArgument):
        await kv.set_alias(REPO, "Live!", "rel-2", sequence=8)


async def test_alias_fence_refuses_a_batch_into_the_scope_the_alias_points_at(
    kv: KvStore,
) -> None:
    buffer_a, buffer_b = ChannelScope(REPO, "live-a"), ChannelScope(REPO, "live-b")

    def fenced(sequence: int, scope: ChannelScope, value: int) -> Batch:
        return Batch(scope, sequence=sequence, version=sha(sequence), unless_alias=LIVE).upsert(
            "product", "p", {"v": value}, indexes={"category": "c"}
        )

    # No alias yet: a fenced batch applies.
    assert (await kv.apply(fenced(1, buffer_a, 1))).applied == 1
    assert await kv.set_alias(REPO, LIVE, "live-a", sequence=1) is True
    # live -> live-a: a fenced batch into live-b applies, into live-a it writes nothing.
    assert (await kv.apply(fenced(2, buffer_b, 2))).applied == 1
    with pytest.raises(FailedPrecondition) as refused:
        await kv.apply(fenced(3, buffer_a, 3).delete("product", "gone"))
    assert refused.value.field == "alias"
    doc = await kv.get(buffer_a, "product", "p")
    assert doc is not None and doc.value() == {"v": 1} and doc.sequence == 1
    head = await kv.head(buffer_a)
    assert head is not None and head.sequence == 1
    assert await lookup_names(kv, "category", "c", buffer_a) == ["p"]
    # Unfenced batches (the publisher's small diff into the live buffer) still apply.
    assert (await kv.apply(batch(3, buffer_a).upsert("product", "p", {"v": 4}))).applied == 1
    # The fence follows the alias: after the switch live-b is fenced, live-a open again.
    assert await kv.set_alias(REPO, LIVE, "live-b", sequence=2) is True
    with pytest.raises(FailedPrecondition, match="alias"):
        await kv.apply(fenced(5, buffer_b, 5))
    assert (await kv.apply(fenced(5, buffer_a, 5))).applied == 1
    # Another repository's alias does not fence this one.
    other = ChannelScope("acme/other", "live-b")
    assert (await kv.apply(fenced(1, other, 1))).applied == 1
    with pytest.raises(InvalidArgument):
        Batch(buffer_a, sequence=1, version=sha(1), unless_alias="live-a")
    with pytest.raises(InvalidArgument):
        Batch(buffer_a, sequence=1, version=sha(1), unless_alias="Live!")


async def test_switch_guarded_by_the_target_head_version(kv: KvStore) -> None:
    buffer_a = ChannelScope(REPO, "live-a")
    with pytest.raises(FailedPrecondition) as refused:  # no head yet
        await kv.set_alias(REPO, LIVE, "live-a", sequence=1, expected_target_version=sha(1))
    assert refused.value.field == "expected_target_version"
    assert await kv.resolve(REPO, LIVE) == LIVE_SCOPE
    await kv.apply(batch(1, buffer_a).upsert("product", "p", {}))
    assert (
        await kv.set_alias(REPO, LIVE, "live-a", sequence=1, expected_target_version=sha(1)) is True
    )
    assert await kv.resolve(REPO, LIVE) == buffer_a
    await kv.apply(batch(2, ChannelScope(REPO, "live-b")).upsert("product", "p", {}))
    with pytest.raises(FailedPrecondition, match="expected") as mismatch:
        await kv.set_alias(REPO, LIVE, "live-b", sequence=2, expected_target_version=sha(1))
    assert mismatch.value.field == "expected_target_version"
    assert await kv.resolve(REPO, LIVE) == buffer_a  # unchanged, sequence not taken
    assert (
        await kv.set_alias(REPO, LIVE, "live-b", sequence=2, expected_target_version=sha(2)) is True
    )
    assert await kv.resolve(REPO, LIVE) == ChannelScope(REPO, "live-b")
    # The sequence rule comes first: an older switch is just not applied.
    assert (
        await kv.set_alias(REPO, LIVE, "live-a", sequence=1, expected_target_version=sha(9))
        is False
    )
    assert await kv.resolve(REPO, LIVE) == ChannelScope(REPO, "live-b")
    with pytest.raises(InvalidArgument):
        await kv.set_alias(REPO, LIVE, None, sequence=3, expected_target_version=sha(1))
    with pytest.raises(InvalidArgument, match="expected_target_version"):
        await kv.set_alias(REPO, LIVE, "live-a", sequence=3, expected_target_version="abc")


async def test_a_fenced_writer_never_leaks_into_a_switched_buffer(kv: KvStore) -> None:
    """Two writers race: one switches live to live-b while the other keeps writing fenced
    batches into live-b. After the switch no fenced batch lands, whatever the interleaving."""
    buffer_b = ChannelScope(REPO, "live-b")
    await kv.apply(batch(1, buffer_b).upsert("product", "base", {}))
    switched = asyncio.Event()
    landed_after: list[int] = []

    async def stale_writer() -> None:
        for n in range(2, 60):
            was_switched = switched.is_set()
            try:
                await kv.apply(
                    Batch(
                        buffer_b, sequence=n, version=sha(n), advance_head=False, unless_alias=LIVE
                    ).upsert("product", f"stale-{n}", {})
                )
            except FailedPrecondition as exc:
                assert exc.field == "alias"
                continue
            if was_switched:
                landed_after.append(n)
            await asyncio.sleep(0)

    async def switcher() -> None:
        for _ in range(5):
            await asyncio.sleep(0)
        assert await kv.set_alias(REPO, LIVE, "live-b", sequence=1, expected_target_version=sha(1))
        switched.set()

    await asyncio.gather(stale_writer(), switcher())
    assert landed_after == []
    names = await names_of(kv, buffer_b, "product")
    assert "base" in names and len(names) < 59


# ---------------------------------------------------------------------- floor, input checks
async def test_raw_bulk_set_and_delete(kv: KvStore) -> None:
    pairs = [(f"bench/{i}", f"value-{i}".encode()) for i in range(2500)]
    await kv.raw_bulk_set(pairs)
    assert await kv.raw_get("bench/2499") == b"value-2499"
    await kv.raw_bulk_delete([key for key, _ in pairs[:2000]])
    assert await kv.raw_get("bench/0") is None
    assert await kv.raw_get("bench/2000") == b"value-2000"
    await kv.ping()


async def test_reads_reject_bad_input(kv: KvStore) -> None:
    with pytest.raises(InvalidArgument, match="kind"):
        await kv.get(LIVE_SCOPE, "no:colons", "p")
    with pytest.raises(InvalidArgument, match="name"):
        await kv.get(LIVE_SCOPE, "product", "a b")
    with pytest.raises(InvalidArgument, match="names"):
        await kv.get_many(LIVE_SCOPE, "product", "abc")
    with pytest.raises(InvalidArgument, match="index"):
        await kv.lookup(LIVE_SCOPE, "product", "Bad Index", "x", first=1)
    with pytest.raises(InvalidArgument, match="repository"):
        await kv.resolve("no-slash", LIVE)


def test_batch_validates_items_as_they_are_added() -> None:
    b = batch(1).upsert("product", "p", {"a": 1})
    with pytest.raises(InvalidArgument, match="twice"):
        b.delete("product", "p")
    with pytest.raises(InvalidArgument, match="not valid JSON"):
        b.upsert("product", "bad", {"a": {1, 2}})
    with pytest.raises(InvalidArgument, match="not valid JSON"):
        b.upsert("product", "bad", {"a": float("nan")})
    with pytest.raises(InvalidArgument, match="JSON object"):
        b.upsert("product", "bad", ["not", "an", "object"])  # type: ignore[arg-type]
    with pytest.raises(InvalidArgument, match="index"):
        b.upsert("product", "bad", {}, indexes={"category": ""})
    with pytest.raises(InvalidArgument, match="index"):
        b.upsert("product", "bad", {}, indexes={"category": 5})  # type: ignore[dict-item]
    with pytest.raises(InvalidArgument, match="name"):
        b.upsert("product", "has:colon", {})
    b.upsert("product", "bad", {})  # the failed attempts did not claim the name
    assert len(b) == 2
    for sequence in (0, -1, True, 2**53, "1"):
        with pytest.raises(InvalidArgument, match="sequence"):
            Batch(LIVE_SCOPE, sequence=sequence, version=sha(1))  # type: ignore[arg-type]
    for version in ("abc", "A" * 40, sha(1)[:-1], "g" * 40):
        with pytest.raises(InvalidArgument, match="version"):
            Batch(LIVE_SCOPE, sequence=1, version=version)
    Batch(LIVE_SCOPE, sequence=1, version="a" * 64)  # SHA-256 repositories


def test_keys_are_deterministic_and_parse_back() -> None:
    key = document_key(LIVE_SCOPE, "product", "blue-shirt")
    assert key == "acme/catalog:live:product:blue-shirt"
    assert LIVE_SCOPE.key("product", "blue-shirt") == key
    assert parse_document_key(key) == (LIVE_SCOPE, "product", "blue-shirt")
    for bad in ("acme/catalog:live:product", "acme:live:product:x", "acme/catalog:LIVE:product:x"):
        with pytest.raises(InvalidArgument):
            parse_document_key(bad)
    for repository, channel in (("Acme/catalog", LIVE), ("acme/catalog", "li:ve"), ("acme", LIVE)):
        with pytest.raises(InvalidArgument):
            ChannelScope(repository, channel)


# ---------------------------------------------------------------------- factory, settings, backends
async def test_factory_and_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GITSTORE_KV__URL", raising=False)
    settings = load_settings(data_dir=str(tmp_path / "data"))
    assert settings.kv_url() == f"sqlite:///{(tmp_path / 'data' / 'kv.sqlite3').resolve()}"
    assert sqlite_path(settings.kv_url()) == (tmp_path / "data" / "kv.sqlite3").resolve()
    assert sqlite_path("sqlite:///srv/kv.sqlite3") == Path("/srv/kv.sqlite3")
    assert sqlite_path("sqlite://rel/kv.sqlite3") == Path("rel/kv.sqlite3").absolute()
    monkeypatch.setenv("GITSTORE_KV__URL", "memory://")
    assert load_settings().kv_url() == "memory://"

    store = await open_kv_store(settings.kv_url())
    assert isinstance(store, SqliteKvStore) and store.path.exists()
    await store.close()
    assert isinstance(await open_kv_store("memory://"), MemoryKvStore)
    for bad in ("mongodb://x", "sqlite://", "no-scheme", "redis://h:1/0?prefix=a{b}"):
        with pytest.raises(InvalidArgument):
            await open_kv_store(bad)


async def test_unreachable_backends_are_unavailable(tmp_path: Path) -> None:
    store = await open_kv_store("redis://127.0.0.1:1/0")
    with pytest.raises(Unavailable):
        await store.ping()
    with pytest.raises(Unavailable):
        await store.apply(batch(1).upsert("product", "p", {}))
    await store.close()
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    with pytest.raises(Unavailable):
        await open_kv_store(f"sqlite:///{blocker / 'kv.sqlite3'}")


async def test_sqlite_store_survives_reopen(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'kv.sqlite3'}"
    store = await open_kv_store(url)
    await store.apply(batch(3).upsert("product", "p", {"t": 1}, indexes={"category": "c"}))
    await store.apply(batch(4).delete("product", "gone"))
    await store.set_alias(REPO, "live", "rel-1", sequence=1)
    await store.close()
    with pytest.raises(Unavailable):
        await store.get(LIVE_SCOPE, "product", "p")

    store = await open_kv_store(url)
    try:
        doc = await store.get(LIVE_SCOPE, "product", "p")
        assert doc is not None and doc.value() == {"t": 1} and doc.version == sha(3)
        assert await lookup_names(store, "category", "c") == ["p"]
        head = await store.head(LIVE_SCOPE)
        assert head is not None and head.sequence == 4
        assert (await store.apply(batch(2).upsert("product", "gone", {}))).skipped == 1
        assert await store.resolve(REPO, "live") == ChannelScope(REPO, "rel-1")
    finally:
        await store.close()


def test_encoded_index_sets_are_exactly_the_canonical_json() -> None:
    """``encode_upsert`` writes the index set as ``json.dumps`` of the sorted, de-duplicated
    entries would (stored bytes must not depend on how it is built)."""
    indexes = {
        "tag": ["b", 'q"uote', "a", "b", "back\\slash", "tab\there", "é ✓", "\u2028"],
        "handle": "h",
        "empty": [],
        "category": ("x",),
    }
    upsert = encode_upsert("product", "p", {"spec": {}}, indexes=indexes)
    expected = {
        "category": ["x"],
        "handle": ["h"],
        "tag": sorted(set(indexes["tag"])),
    }
    assert upsert.indexes == json.dumps(expected, separators=(",", ":"), ensure_ascii=False)
    assert json.loads(upsert.indexes) == expected
