"""ON_COMMIT readers see each commit of the default branch all or nothing, whatever its size.

A commit larger than one KV batch is written in chunks; a storefront reading between two
chunks, or after the worker died between them, must still see the previous commit complete
(its product count, its documents, and ``version`` naming it), then the new one complete.
Checked on every KV backend (memory, SQLite, Redis) with the real git service, a reader going
through the storefront's own channel resolution (``api.catalog.access.resolve_scope``) and
the KV read API, and a failure injected between two batches.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest

from gitstore.api.catalog.access import Channel, resolve_scope
from gitstore.api.catalog.writes.git import BranchView
from gitstore.api.catalog.writes.indexing import INDEXED, PENDING, IndexWatcher
from gitstore.backends.kv import ApplyResult, Batch, KvStore
from gitstore.backends.kv.base import MAX_PAGE_SIZE
from gitstore.backends.metadata.base import PublishMode, RepositoryRecord, Visibility
from gitstore.domain.content import KindRegistry
from gitstore.git.client import GitClient
from gitstore.worker.projector import Projector
from tests.test_kv_contract import _open
from tests.worker.harness import FaultyKv, commit, files_of, product

BATCH = 10
OLD, NEW = 25, 45  # products before / after the big commit (several chunks of BATCH)


def record(repository: str) -> RepositoryRecord:
    namespace, _, name = repository.partition("/")
    now = datetime.now(UTC)
    return RepositoryRecord(
        id="r1",
        namespace_id="n1",
        namespace=namespace,
        name=name,
        description="",
        publish_mode=PublishMode.ON_COMMIT,
        default_branch="main",
        visibility=Visibility.PUBLIC,
        created_at=now,
        created_by="test",
        updated_at=now,
        updated_by="test",
    )


def catalogue(n: int, title: str) -> dict[str, bytes]:
    return files_of(
        *(product(f"p{i:03d}", title=f"{title} {i}", categories=["all"]) for i in range(n))
    )


@dataclass(frozen=True)
class Seen:
    """What one storefront read saw: the version it reports and the documents it got."""

    version: str | None
    count: int
    versions: frozenset[str]
    titles: frozenset[str]


async def read_as_storefront(kv: KvStore, repository: str, channel: Channel) -> Seen:
    """One request: resolve the channel once, then the head and a full listing."""
    scope = await resolve_scope(kv, record(repository), channel)
    head = await kv.head(scope)
    page = await kv.lookup(scope, "product", "category", "all", first=MAX_PAGE_SIZE)
    listed = await kv.list_documents(scope, "product", first=MAX_PAGE_SIZE)
    assert listed.total_count == page.total_count
    return Seen(
        head.version if head is not None else None,
        page.total_count,
        frozenset(d.version for d in page.items),
        frozenset(d.value()["spec"]["title"].split()[0] for d in page.items),
    )


def assert_whole(seen: Seen, states: dict[str | None, tuple[int, str]]) -> None:
    """``seen`` is exactly one complete commit, and ``version`` names it."""
    assert seen.version in states, f"version {seen.version} is no complete commit"
    count, title = states[seen.version]
    assert seen.count == count, f"{seen.version}: {seen.count} products, expected {count}"
    if count:
        assert seen.versions == {seen.version}, f"documents of {seen.versions}"
        assert seen.titles == {title}, f"titles {seen.titles}"


class ReadBetweenBatches(FaultyKv):
    """Before every batch the projection writes, a storefront reads both channels."""

    def __init__(self, inner: KvStore, repository: str, *, fail_at: int | None = None) -> None:
        super().__init__(inner, fail_at=fail_at)
        self.repository = repository
        self.seen: list[Seen] = []

    async def apply(self, batch: Batch) -> ApplyResult:
        for channel in (Channel.LIVE, Channel.DRAFT):
            self.seen.append(await read_as_storefront(self.inner, self.repository, channel))
        return await super().apply(batch)


@pytest.fixture(params=["memory", "sqlite", "redis"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[KvStore]:
    async with _open(request.param, tmp_path) as opened:
        yield opened


@asynccontextmanager
async def nothing() -> AsyncIterator[None]:
    yield


async def test_a_big_commit_is_seen_all_or_nothing_through_a_crash(
    git: GitClient, store: KvStore, repo: str
) -> None:
    first = await commit(git, repo, catalogue(OLD, "v1"))
    await Projector(git, store, owner="w0", batch_size=BATCH).project(repo)
    second = await commit(git, repo, catalogue(NEW, "v2"))
    states = {first.commit_sha: (OLD, "v1"), second.commit_sha: (NEW, "v2")}

    # The worker dies after the third batch of the big commit (the fault: chunks visible).
    crashing = ReadBetweenBatches(store, repo, fail_at=4)
    with pytest.raises(RuntimeError, match="injected crash"):
        await Projector(git, crashing, owner="dead", batch_size=BATCH).project(repo)
    assert crashing.seen, "the reader never ran between batches"
    for seen in crashing.seen:
        assert_whole(seen, {first.commit_sha: states[first.commit_sha]})
    for channel in (Channel.LIVE, Channel.DRAFT):
        after_crash = await read_as_storefront(store, repo, channel)
        assert_whole(after_crash, {first.commit_sha: states[first.commit_sha]})

    # A restarted worker takes the dead one's work over and finishes it; readers between its
    # batches still see the first commit whole, then the second one whole.
    finishing = ReadBetweenBatches(store, repo)
    result = await Projector(
        git, finishing, owner="w1", batch_size=BATCH, claim_stale_seconds=0.05
    ).project(repo)
    assert result.version == second.commit_sha
    assert len(finishing.seen) > 2
    for seen in finishing.seen:
        assert_whole(seen, states)
    for channel in (Channel.LIVE, Channel.DRAFT):
        done = await read_as_storefront(store, repo, channel)
        assert done.version == second.commit_sha
        assert_whole(done, states)


async def test_small_commits_stay_one_batch_and_readers_follow(
    git: GitClient, store: KvStore, repo: str
) -> None:
    """After a big commit, the common case (a commit that fits one batch) is one batch of
    only its own changes into the buffer readers see."""
    await commit(git, repo, catalogue(OLD, "v1"))
    projector = Projector(git, store, owner="w0", batch_size=BATCH)
    await projector.project(repo)
    big = await commit(git, repo, catalogue(NEW, "v2"))
    await projector.project(repo)
    small = await commit(
        git, repo, files_of(product("p001", title="v2 changed", categories=["all"]))
    )

    counting = ReadBetweenBatches(store, repo)
    result = await Projector(git, counting, owner="w0", batch_size=BATCH).project(repo)

    assert (result.upserts, result.chunks, counting.applies) == (1, 1, 1)
    seen = await read_as_storefront(store, repo, Channel.LIVE)
    assert seen.version == small.commit_sha and seen.count == NEW
    assert seen.versions == {big.commit_sha, small.commit_sha}

    # waitForIndex follows readers to the buffer they see (the big commit switched them)
    watcher = IndexWatcher(store, BranchView(git, repo, "main", registry=KindRegistry.builtin()))
    assert await watcher.state(big.commit_sha) == INDEXED
    assert await watcher.state(small.commit_sha) == INDEXED
    later = await commit(git, repo, files_of(product("p002", title="v3", categories=["all"])))
    assert await watcher.state(later.commit_sha) == PENDING


class CountingGit:
    """The real git client, counting the diffs (``GetChangedPaths``) asked of the service."""

    def __init__(self, inner: GitClient) -> None:
        self.inner = inner
        self.diffs: list[tuple[str, str]] = []

    def __getattr__(self, name: str) -> object:
        return getattr(self.inner, name)

    async def get_changed_paths(self, request: object) -> object:
        self.diffs.append((request.from_revision, request.to_revision))  # type: ignore[attr-defined]
        return await self.inner.get_changed_paths(request)  # type: ignore[arg-type]


async def test_a_big_commit_is_planned_once_though_it_goes_to_the_standby(
    git: GitClient, store: KvStore, repo: str
) -> None:
    """The in-place attempt finds the change too large for one batch only after planning it;
    the standby round that follows reuses that plan instead of asking for the diff again."""
    await commit(git, repo, catalogue(OLD, "v1"))
    counting = CountingGit(git)
    projector = Projector(counting, store, owner="w0", batch_size=BATCH)  # type: ignore[arg-type]
    result = await projector.project(repo)

    assert result.switched and result.upserts == OLD
    assert len(counting.diffs) == 1, counting.diffs
    seen = await read_as_storefront(store, repo, Channel.LIVE)
    assert seen.count == OLD
