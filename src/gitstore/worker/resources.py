"""Feeding the resource store from the default branch (after the projection; docs/resources.md).

The store follows what the projection materialised, not the event: after ``projector``
made the visible draft equal to the branch head, :meth:`ResourceSync.sync`

1. reads the commit the store applied last (``base``), then the commit the draft holds
   (``target``); equal: nothing to do (a redelivered, duplicated or late event);
2. lists the resource identities that changed ``base -> target`` (``GetChangedPaths``, both
   sides of renames), or — no base, or a base Git no longer knows — every identity of the
   draft and of the store (a full resync);
3. reads those identities' documents from the draft: a document is the resource's spec in
   hub form, exactly as the projection stored it (an invalid file keeps its last valid
   document, so the store keeps the last valid spec too); no document means deleted;
4. applies them as the spec changes of ``target`` in one store transaction
   (``ResourceStore.apply_commit``, idempotent per commit and per unchanged resource),
   compare-and-set on ``base``: if another worker applied a commit meanwhile, this one
   starts over from 1 (so an older commit never overwrites a newer one), and announces the
   new resourceVersion on the ``resources`` stream.

If the draft moved on between steps 1 and 3, documents of a newer commit are applied under
``target``; the next event diffs ``target -> newer``, reads the same documents again and
changes nothing, so the store still converges to the branch head.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from gitstore.backends.kv import KvStore
from gitstore.backends.kv.base import MAX_PAGE_SIZE
from gitstore.backends.queue.base import Queue
from gitstore.backends.resources import ResourceStore, announce
from gitstore.domain.content import KindRegistry, ManifestError, identity_for_path
from gitstore.domain.errors import Aborted, NotFound
from gitstore.domain.keys import ChannelScope
from gitstore.domain.projection import DRAFT_VIEW, draft_view, materialised_version
from gitstore.domain.resources.model import SpecDelete, SpecUpsert
from gitstore.git.client import GitClient
from gitstore.git.kinds import KindsLoader
from gitstore.worker.changes import changed

log = logging.getLogger(__name__)

MAX_RACES = 8  # another worker applied a commit between our read and our write


@dataclass(frozen=True, slots=True)
class SyncResult:
    repository: str
    commit: str
    version: int  # the repository's resourceVersion after the sync
    changes: int
    full: bool = False


def spec_upsert(value: dict[str, Any]) -> SpecUpsert:
    """A projected document (``domain.projection.document_value``) as a spec upsert."""
    meta = value.get("metadata") or {}
    return SpecUpsert(
        value["kind"],
        meta["name"],
        value.get("apiVersion", ""),
        dict(value.get("spec") or {}),
        dict(meta.get("labels") or {}),
        dict(meta.get("annotations") or {}),
    )


class ResourceSync:
    def __init__(
        self,
        git: GitClient,
        kv: KvStore,
        store: ResourceStore,
        kinds: KindsLoader,
        *,
        announce_to: Queue | None = None,
    ) -> None:
        self.git = git
        self.kv = kv
        self.store = store
        self.kinds = kinds
        self.queue = announce_to

    async def sync(self, repository: str, *, correlation_id: str = "") -> SyncResult | None:
        """Bring the store to the commit the draft holds (see the module doc); None when it
        already is there or the draft holds nothing yet."""
        for attempt in range(1, MAX_RACES + 1):
            try:
                return await self._attempt(repository, correlation_id)
            except Aborted as exc:
                if exc.field != "base" or attempt == MAX_RACES:
                    raise
                log.info("%s [correlation_id=%s]", exc.message, correlation_id)
        raise AssertionError("unreachable")

    async def _attempt(self, repository: str, correlation_id: str) -> SyncResult | None:
        # base first: a target read after it is at least as new as any applied commit
        base = await self.store.applied_commit(repository)
        scope = draft_view(await self.kv.resolve(repository, DRAFT_VIEW))
        head = await self.kv.head(scope)
        target = materialised_version(head.version if head else None)
        if target is None or base == target:
            return None
        registry = await self.kinds.registry(repository, target)
        identities = await self._changed(repository, base, target, registry)
        full = identities is None
        if identities is None:
            identities = await self._everything(scope, registry)
        upserts, deletes = await self._read(scope, identities)
        outcome = await self.store.apply_commit(
            repository, target, upserts, deletes, base=base or ""
        )
        if outcome.changes:
            await announce(self.queue, repository, outcome.version)
        log.info(
            "resources of %s at %s: %d change(s), resourceVersion %d%s [correlation_id=%s]",
            repository,
            target[:12],
            outcome.changes,
            outcome.version,
            " (full resync)" if full else "",
            correlation_id,
        )
        return SyncResult(repository, target, outcome.version, outcome.changes, full)

    async def _changed(
        self, repository: str, base: str | None, target: str, registry: KindRegistry
    ) -> set[tuple[str, str]] | None:
        """Identities (kind, name) touched by ``base -> target``; None: resync everything."""
        if base is None:
            return None
        try:
            paths = await changed(self.git, repository, base, target)
        except NotFound as exc:
            log.warning("cannot diff %s from %s (%s): full resync", repository, base, exc)
            return None
        found: set[tuple[str, str]] = set()
        for item in paths:
            for path in (item.path, item.old_path):
                if not path:
                    continue
                try:
                    identity = identity_for_path(path, registry)
                except ManifestError:
                    continue  # breaks the path convention: never projected
                if identity is not None:
                    found.add((identity.kind, identity.name))
        return found

    async def _everything(
        self, scope: ChannelScope, registry: KindRegistry
    ) -> set[tuple[str, str]]:
        """Every identity the draft or the store holds."""
        found: set[tuple[str, str]] = set()
        stored, _ = await self.store.select(scope.repository)
        found.update((r.kind, r.name) for r in stored)
        for kind in registry.kinds():
            after: str | None = None
            while True:
                page = await self.kv.list_documents(
                    scope, kind.lower(), first=MAX_PAGE_SIZE, after=after
                )
                found.update((kind, d.name) for d in page.items)
                if not page.has_next_page:
                    break
                after = page.end_cursor
        return found

    async def _read(
        self, scope: ChannelScope, identities: Iterable[tuple[str, str]]
    ) -> tuple[list[SpecUpsert], list[SpecDelete]]:
        by_kind: dict[str, dict[str, None]] = defaultdict(dict)  # ordered, each name once
        spelling: dict[str, str] = {}
        for kind, name in sorted(set(identities)):
            key = kind.lower()
            by_kind[key][name] = None
            spelling.setdefault(key, kind)
        upserts: list[SpecUpsert] = []
        deletes: list[SpecDelete] = []
        for key, named in by_kind.items():
            names = list(named)
            for start in range(0, len(names), MAX_PAGE_SIZE):
                part = names[start : start + MAX_PAGE_SIZE]
                documents = await self.kv.get_many(scope, key, part)
                for name, document in zip(part, documents, strict=True):
                    if document is None:
                        deletes.append(SpecDelete(spelling[key], name))
                    else:
                        upserts.append(spec_upsert(document.value()))
        return upserts, deletes
