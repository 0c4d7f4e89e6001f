"""What a projection is asked to do and what it reports (``projector``): the ``Target`` of a
projection, its ``ProjectionResult``, the two refusals (``Overtaken``, ``TooLarge``), the
prepared chunk a writer fills a batch from (``Ready``), and the quiet tombstone prune."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from gitstore.backends.kv import KvStore, Upsert
from gitstore.domain.content import ContentError
from gitstore.domain.errors import Aborted, FailedPrecondition, GitStoreError
from gitstore.domain.keys import ChannelScope
from gitstore.worker.changes import FileAt
from gitstore.worker.claims import Claim
from gitstore.worker.parsing import Prepared

log = logging.getLogger(__name__)

Work = tuple[str, str] | FileAt  # a delete (kv kind, name) or a file to upsert


@dataclass(frozen=True, slots=True)
class Target:
    """What to project where. ``commit`` None = the default branch head (the draft path)."""

    scope: ChannelScope
    commit: str | None = None
    floor: int = 0
    ceiling: int | None = None
    fence: str | None = None
    hide_claims: bool = False
    single_only: bool = False
    full: bool = False


class Overtaken(Aborted):
    """The scope's head is at or above the target's ``ceiling``: a newer writer owns it."""


class TooLarge(FailedPrecondition):
    """A ``single_only`` projection needs more than one batch; nothing was written."""


@dataclass(slots=True)
class ProjectionResult:
    repository: str
    version: str  # the commit the channel now holds
    previous: str | None  # what it held before
    sequence: int  # the head sequence now
    changed: bool = False  # whether anything was written
    upserts: int = 0
    deletes: int = 0
    chunks: int = 0
    full: bool = False  # a full resync (base unknown to Git)
    took_over: bool = False  # finished an unfinished claim
    reindexed: int = 0  # products re-indexed for rule-based collections (``collections``)
    relocated: int = 0  # of the upserts: moved files whose KV document only changed path
    pruned: int = 0  # tombstones dropped after the projection (``draft`` only)
    channel: str = ""  # the draft buffer written (``draft_switch``; ``draft`` only)
    switched: bool = False  # readers were switched to that buffer (``draft_switch``)
    copied: int = 0  # documents copied from the visible buffer first (``draft_copy``)
    seconds: float = 0.0
    invalid: list[ContentError] = field(default_factory=list)
    # (path, blob id) -> errors ([] = valid) of every file parsed, for commit statuses.
    checked: dict[tuple[str, str], tuple[ContentError, ...]] = field(default_factory=dict)

    @property
    def invalid_files(self) -> int:
        """Files skipped as invalid (or in conflict) by this projection."""
        return len({e.path for e in self.invalid})


@dataclass(slots=True)
class Ready:
    """A chunk of work made ready to write: its deletes and its prepared files."""

    deletes: list[tuple[str, str]] = field(default_factory=list)
    files: list[Prepared] = field(default_factory=list)
    extra: list[Upsert] = field(default_factory=list)  # re-indexed products (``collections``)
    moved: int = 0  # of ``files``: relocated documents (``changes.relocate``)


@dataclass(frozen=True, slots=True)
class Again:
    """The attempt waited for another owner's claim; ``stale`` if it never moved."""

    stale: Claim | None = None


async def prune_quietly(kv: KvStore, scope: ChannelScope, below: int, correlation_id: str) -> int:
    """``kv.prune_tombstones`` below sequence ``below``; a KV error is logged, not raised (the
    next projection or publication prunes them), and counts as nothing pruned."""
    try:
        return await kv.prune_tombstones(scope, below_sequence=below)
    except GitStoreError as exc:
        log.warning(
            "could not prune the tombstones of %s below %d: %s [correlation_id=%s]",
            scope,
            below,
            exc.message,
            correlation_id,
        )
        return 0


def plan_key(
    repository: str, base: str | None, target: str, claim: Claim | None, suspect: bool
) -> tuple[object, ...]:
    """What ``Projector._plan`` plans from: equal keys (and one registry), the same plan."""
    return (
        repository,
        base,
        target,
        suspect,
        claim.base if claim else None,
        claim and claim.full,
        tuple(claim.targets) if claim else (),
    )
