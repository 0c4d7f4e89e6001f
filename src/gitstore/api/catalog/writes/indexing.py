"""The indexing handle of a write, and ``waitForIndex`` (read-your-writes for agents).

A commit is *indexed* once the draft buffer storefronts read has reached it: the head of the
buffer the ``draft-view`` alias names (``draft`` or ``draft-b``, resolved at every poll: a
large commit switches readers to the other buffer, ``domain.projection.draft_view``) is the
commit itself or a descendant of it. That is what DRAFT reads, and LIVE reads of an
``ON_COMMIT`` repository, see.

:class:`IndexWatcher` answers ``state(commit)`` once (``INDEXED`` / ``PENDING``) and
``wait(commit, timeout)``: poll the head every 20 ms; when it moved to another commit, ask
the git service once per new head whether ``commit`` is among its last
``ANCESTRY_DEPTH`` ancestors (``CommitLog(revision=head, limit=...)``). A timeout is not an
error: the payload answers ``indexing { state: PENDING }`` and the caller may poll
``commitStatus`` or read again later. KV or git trouble while checking also just means
``PENDING`` (the write itself succeeded). Only the default branch is projected: a write to
another branch stays ``PENDING`` and is not waited for.
"""

from __future__ import annotations

import asyncio
import logging
import time

from gitstore.backends.kv import KvStore
from gitstore.domain.errors import GitStoreError
from gitstore.domain.projection import DRAFT_VIEW, draft_view

from .git import BranchView

log = logging.getLogger("gitstore.api.catalog.writes")

INDEXED = "INDEXED"
PENDING = "PENDING"
POLL_SECONDS = 0.02
ANCESTRY_DEPTH = 200


class IndexWatcher:
    def __init__(self, kv: KvStore, view: BranchView) -> None:
        self.kv = kv
        self.view = view
        self._checked: dict[tuple[str, str], bool] = {}  # (head, commit) -> head has commit

    async def state(self, commit: str, *, parent: str | None = None) -> str:
        """``INDEXED`` once the draft holds ``commit``. ``parent``: the head ``commit`` was
        made on, if known — a draft still at it cannot hold ``commit``, which saves reading
        up to ``ANCESTRY_DEPTH`` commits of history right after every write."""
        try:
            return INDEXED if await self._reached(commit, parent) else PENDING
        except GitStoreError as exc:
            log.warning("indexing state of %s unknown: %s", commit, exc)
            return PENDING

    async def wait(self, commit: str, timeout: float, *, parent: str | None = None) -> str:
        deadline = time.monotonic() + timeout
        while True:
            state = await self.state(commit, parent=parent)
            if state == INDEXED:
                return state
            left = deadline - time.monotonic()
            if left <= 0:
                return PENDING
            await asyncio.sleep(min(POLL_SECONDS, left))

    async def _reached(self, commit: str, parent: str | None = None) -> bool:
        scope = draft_view(await self.kv.resolve(self.view.repository_id, DRAFT_VIEW))
        head = await self.kv.head(scope)
        if head is None:
            return False
        if head.version == commit:
            return True
        if parent is not None and head.version == parent:
            return False
        known = self._checked.get((head.version, commit))
        if known is None:
            log_ = await self.view.log(head.version, limit=ANCESTRY_DEPTH)
            known = any(info.sha == commit for info in log_)
            self._checked[head.version, commit] = known
        return known
