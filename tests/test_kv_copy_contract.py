"""The KV contract of ``copy_step`` (``backends/kv/base.py``, "Copies"), on every backend:
memory, SQLite (a temp file) and the real Redis server (``test_kv_contract._open``)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from gitstore.backends.kv.base import COPY_START, MAX_PAGE_SIZE, Batch, CopyStep, KvStore
from gitstore.domain.errors import FailedPrecondition, InvalidArgument
from gitstore.domain.keys import ChannelScope
from tests.test_kv_contract import _open, sha

REPO = "acme/catalog"
SOURCE = ChannelScope(REPO, "draft")
TARGET = ChannelScope(REPO, "draft-b")
KEEP = "gitstore.projection"


@pytest.fixture(params=["memory", "sqlite", "redis"])
async def kv(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[KvStore]:
    async with _open(request.param, tmp_path) as store:
        yield store


async def copy_all(
    kv: KvStore, *, sequence: int, expected: int, limit: int, fence: str | None = None
) -> list[CopyStep]:
    steps: list[CopyStep] = []
    cursor: str | None = COPY_START
    while cursor is not None:
        step = await kv.copy_step(
            SOURCE,
            TARGET,
            cursor=cursor,
            sequence=sequence,
            expected_head_sequence=expected,
            unless_alias=fence,
            keep_kind=KEEP,
            limit=limit,
        )
        steps.append(step)
        cursor = step.cursor
        assert len(steps) < 100, "the copy does not end"
    return steps


async def fill(kv: KvStore) -> None:
    """Source: 7 products and 2 categories at sequences 1-2, one deleted product.
    Target: other and overlapping documents, a tombstone, index entries, a kept document."""
    first = Batch(SOURCE, 1, sha(1))
    for i in range(8):
        first.upsert("product", f"p{i}", {"n": i}, indexes={"category": ["shoes", f"c{i % 2}"]})
    first.upsert("category", "shoes", {"title": "Shoes"}, indexes={"parent": "root"})
    await kv.apply(first)
    second = Batch(SOURCE, 2, sha(2)).delete("product", "p7")
    second.upsert("category", "hats", {"title": "Hats"})
    await kv.apply(second)
    old = Batch(TARGET, 5, sha(5))
    old.upsert("product", "p0", {"n": "old"}, indexes={"category": ["boots"]})
    old.upsert("product", "zz", {"n": "gone"}, indexes={"category": ["shoes"]})
    old.upsert("brand", "acme", {"n": "gone"}, indexes={"country": ["fr"]})
    old.delete("product", "p3")
    await kv.apply(old)
    claim = Batch(TARGET, 6, sha(6), advance_head=True, expected_head_sequence=5)
    claim.upsert(KEEP, "pending", {"owner": "me"})
    await kv.apply(claim)


async def names(kv: KvStore, scope: ChannelScope, kind: str) -> list[str]:
    return [d.name for d in (await kv.list_documents(scope, kind, first=MAX_PAGE_SIZE)).items]


async def lookup(kv: KvStore, scope: ChannelScope, index: str, value: str) -> list[str]:
    page = await kv.lookup(scope, "product", index, value, first=MAX_PAGE_SIZE)
    return [d.name for d in page.items]


async def test_copy_replaces_the_target_in_steps(kv: KvStore) -> None:
    await fill(kv)

    steps = await copy_all(kv, sequence=6, expected=6, limit=3)

    assert len(steps) >= 4  # clear and copy, in steps of at most 3
    assert all(step.removed <= 3 * 3 for step in steps)  # SQLite: up to limit per table
    assert all(step.copied <= 3 for step in steps)
    assert sum(s.copied for s in steps) == 9  # 7 products, 2 categories
    assert sum(s.removed for s in steps) >= 4  # 3 documents and a tombstone at least
    assert await names(kv, TARGET, "product") == [f"p{i}" for i in range(7)]
    assert await names(kv, TARGET, "category") == ["hats", "shoes"]
    assert await names(kv, TARGET, "brand") == []  # the target's own kinds are gone
    doc = await kv.get(TARGET, "product", "p0")
    assert doc is not None and doc.value() == {"n": 0}
    assert (doc.version, doc.sequence) == (sha(1), 6)  # own version, the step's sequence
    hats = await kv.get(TARGET, "category", "hats")
    assert hats is not None and hats.version == sha(2)
    # index entries came along, the target's old ones went
    assert await lookup(kv, TARGET, "category", "c1") == ["p1", "p3", "p5"]
    assert await lookup(kv, TARGET, "category", "shoes") == [f"p{i}" for i in range(7)]
    assert await lookup(kv, TARGET, "category", "boots") == []
    brands = await kv.lookup(TARGET, "brand", "country", "fr", first=10)
    assert brands.total_count == 0
    parents = await kv.lookup(TARGET, "category", "parent", "root", first=10)
    assert [d.name for d in parents.items] == ["shoes"]
    # the kept kind stays, the head is untouched, the source is unchanged
    assert await kv.get(TARGET, KEEP, "pending") is not None
    head = await kv.head(TARGET)
    assert head is not None and (head.version, head.sequence) == (sha(6), 6)
    assert await names(kv, SOURCE, "product") == [f"p{i}" for i in range(7)]
    # every step read the source head
    assert {(s.source.version, s.source.sequence) for s in steps if s.source} == {(sha(2), 2)}
    assert all(s.source is not None for s in steps)


async def test_the_old_tombstones_of_the_target_are_gone_and_copies_obey_sequences(
    kv: KvStore,
) -> None:
    await fill(kv)
    await copy_all(kv, sequence=6, expected=6, limit=1000)

    # p3 was a tombstone at 5 in the target: the copy (at 6) holds the source's p3
    p3 = await kv.get(TARGET, "product", "p3")
    assert p3 is not None and p3.value() == {"n": 3}
    # a later write at the stamped sequence or above applies, a lower one is skipped
    late = Batch(TARGET, 5, sha(9), advance_head=False).upsert("product", "p1", {"n": "late"})
    assert (await kv.apply(late)).skipped == 1
    newer = Batch(TARGET, 7, sha(7)).upsert("product", "p1", {"n": "new"})
    assert (await kv.apply(newer)).applied == 1
    p1 = await kv.get(TARGET, "product", "p1")
    assert p1 is not None and p1.value() == {"n": "new"}
    assert await lookup(kv, TARGET, "category", "c1") == ["p3", "p5"]  # p1's entries went


async def test_a_copy_step_checks_the_fence_and_the_target_head(kv: KvStore) -> None:
    await fill(kv)
    with pytest.raises(FailedPrecondition) as stale:
        await kv.copy_step(SOURCE, TARGET, cursor=COPY_START, sequence=6, expected_head_sequence=5)
    assert stale.value.field == "expected_head_sequence"
    await kv.set_alias(REPO, "draft-view", TARGET.channel, sequence=9)
    with pytest.raises(FailedPrecondition) as fenced:
        await copy_all(kv, sequence=6, expected=6, limit=2, fence="draft-view")
    assert fenced.value.field == "alias"
    # nothing was written: the target still holds its own documents
    assert await names(kv, TARGET, "product") == ["p0", "zz"]
    assert await lookup(kv, TARGET, "category", "boots") == ["p0"]


async def test_each_step_reports_the_source_head_it_copied_from(kv: KvStore) -> None:
    await fill(kv)
    cursor: str | None = COPY_START
    seen = []
    while cursor is not None:
        step = await kv.copy_step(
            SOURCE, TARGET, cursor=cursor, sequence=6, expected_head_sequence=6, limit=2
        )
        assert step.source is not None
        seen.append(step.source.version)
        if len(seen) == 3:  # the source moves mid-copy
            await kv.apply(Batch(SOURCE, 3, sha(3)).upsert("product", "p9", {"n": 9}))
        cursor = step.cursor
    assert seen[0] == sha(2) and seen[-1] == sha(3)
    assert "p9" in await names(kv, TARGET, "product")


async def test_copy_rejects_bad_input(kv: KvStore) -> None:
    ok = {"sequence": 1, "expected_head_sequence": 0}
    with pytest.raises(InvalidArgument) as itself:
        await kv.copy_step(SOURCE, SOURCE, cursor=COPY_START, **ok)
    assert itself.value.field == "target"
    with pytest.raises(InvalidArgument) as limit:
        await kv.copy_step(SOURCE, TARGET, cursor=COPY_START, limit=0, **ok)
    assert limit.value.field == "limit"
    with pytest.raises(InvalidArgument) as cursor:
        await kv.copy_step(SOURCE, TARGET, cursor="not json", **ok)
    assert cursor.value.field == "cursor"
    with pytest.raises(InvalidArgument) as fence:
        await kv.copy_step(SOURCE, TARGET, cursor=COPY_START, unless_alias="draft-b", **ok)
    assert fence.value.field == "unless_alias"
    with pytest.raises(InvalidArgument) as sequence:
        await kv.copy_step(SOURCE, TARGET, cursor=COPY_START, sequence=0, expected_head_sequence=0)
    assert sequence.value.field == "sequence"
