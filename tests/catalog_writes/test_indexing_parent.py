"""``IndexWatcher`` right after a write: a draft still at the commit's parent answers PENDING
without reading history (unit test: the KV and the branch view are in-memory doubles)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from gitstore.api.catalog.writes.indexing import INDEXED, PENDING, IndexWatcher
from gitstore.backends.kv.base import ChannelHead
from gitstore.domain.keys import ChannelScope

PARENT, COMMIT, OLDER = "a" * 40, "b" * 40, "c" * 40


@dataclass
class Kv:
    head_version: str

    async def resolve(self, repository: str, channel: str) -> ChannelScope:
        return ChannelScope(repository, "draft")

    async def head(self, scope: ChannelScope) -> ChannelHead:
        return ChannelHead(self.head_version, 1, 0.0)


@dataclass
class Info:
    sha: str


@dataclass
class View:
    repository_id: str = "acme/catalog"
    logs: list[str] = field(default_factory=list)

    async def log(self, revision: str, *, limit: int) -> list[Info]:
        self.logs.append(revision)
        return [Info(PARENT), Info(OLDER)] if revision == PARENT else [Info(COMMIT)]


def watcher(head: str) -> tuple[IndexWatcher, View]:
    view = View()
    kv: Any = Kv(head)
    return IndexWatcher(kv, view), view  # type: ignore[arg-type]


async def test_draft_at_the_parent_is_pending_without_reading_history() -> None:
    w, view = watcher(PARENT)
    assert await w.state(COMMIT, parent=PARENT) == PENDING
    assert view.logs == []


async def test_without_the_parent_history_is_read() -> None:
    w, view = watcher(PARENT)
    assert await w.state(COMMIT) == PENDING
    assert view.logs == [PARENT]


async def test_draft_past_the_commit_is_indexed() -> None:
    w, view = watcher(COMMIT)
    assert await w.state(COMMIT, parent=PARENT) == INDEXED
    w, view = watcher("d" * 40)  # a later head whose history holds the commit
    assert await w.state(COMMIT, parent=PARENT) == INDEXED
    assert view.logs == ["d" * 40]
