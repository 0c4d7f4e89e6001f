"""Filling the standby draft buffer by a KV copy of the visible one (``draft_switch``).

A commit too large for one batch is projected into the standby buffer, from whatever that
buffer holds. When it holds nothing (the first large commit of a repository), or a commit so
far behind that catching up would rewrite much more than the commit's own changes, projecting
from it means re-projecting most of the catalogue from Git (fetch, parse, validate every
file: minutes at 100,000 products). Instead the standby is first made a **copy of the visible
buffer** at the KV level (``KvStore.copy_step``: ``INSERT … SELECT`` on SQLite, a Lua script
on Redis, dict copies in memory; chunks of ``batch_size`` rows), and then the projector
catches up only the diff from the visible buffer's commit to the target.

The copy runs under the same rules as a chunked projection (``claims``):

1. **Claim** the standby: one batch (compare-and-set on its head, fenced by ``draft-view``)
   moves its head to ``c`` = max(head + 1, ``floor``) with the version hidden (``NO_VERSION``)
   and writes a claim marked ``copying`` (and ``full``: a projector that takes it over
   without knowing about copies does a full resync, which is correct, only slow).
2. **Copy** in steps; every step is atomic with the alias fence and ``expected_head_sequence
   = c``, so it never writes into a buffer readers see, and a stalled copier whose claim was
   taken over writes nothing more. Each step stamps what it copies with ``c`` and reports the
   visible buffer's head at that moment; the claim's heartbeat is refreshed between steps
   (every quarter of ``claim_stale_seconds``).
3. **Hand over**: the claim is rewritten as an ordinary one: ``base`` = the last commit
   copied from, ``targets`` = the earlier ones (when in-place commits moved the visible buffer
   during the copy, the chunks copied before hold documents of those commits; the diffs
   ``base -> t`` name every document that can differ, and the projector re-reads those paths
   at the target, as after a crashed chunked projection).

While the copy runs, the commit's files (the plan from the visible commit to the target)
are fetched and prepared into the projector's prepared-file cache (``Projector.warm``; no
cache: skipped), so the projection after the copy mostly only writes: the copy is KV work
(SQLite's thread, the Redis server) and preparing is parsing, so the two overlap.

The projector (``project_into``) then finds its own claim and writes the plan ``base ->
target`` plus those dirty paths, and ``draft_switch`` switches readers as before. Readers never
see the standby during any of this (the head version is hidden until the projection's last
batch), so a crash anywhere leaves them on the previous commit; the next round finds a
``copying`` claim and redoes the copy (at once when it is its own or stale, after waiting
while another live worker's heartbeat moves).

When to copy (:func:`prepare_standby`): never when the visible buffer has no commit yet or the
standby holds an ordinary unfinished claim (the projector finishes that); always when the
standby is empty or holds no commit; otherwise when the diff from the standby's commit to the
target exceeds the diff from the visible buffer's commit by more than ``batch_size`` paths
(a copied row costs a small fraction of a projected one: ``docs/benchmarks.md``).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

from gitstore.backends.kv import Batch, ChannelHead
from gitstore.backends.kv.base import COPY_START
from gitstore.domain.errors import FailedPrecondition, GitStoreError, NotFound
from gitstore.domain.keys import ChannelScope
from gitstore.domain.projection import (
    DRAFT_VIEW,
    NO_VERSION,
    PROJECTION_KIND,
    PROJECTION_MARKER,
    materialised_version,
)
from gitstore.worker.changes import changed
from gitstore.worker.claims import Claim, read_claim
from gitstore.worker.projector import Overtaken, Projector
from gitstore.worker.staging import warm

log = logging.getLogger(__name__)


async def prepare_standby(
    projector: Projector,
    visible: ChannelScope,
    standby: ChannelScope,
    shown: ChannelHead | None,
    floor: int,
    target: str,
    correlation_id: str = "",
    *,
    fence: str = DRAFT_VIEW,
    ceiling: int | None = None,
) -> int:
    """Copy the visible buffer into the standby when that is cheaper than catching the
    standby up (module doc); return the documents copied (0: no copy). ``fence``: the alias
    that must not point at ``standby`` while it is written (the publisher copies the draft
    into a release buffer under ``live``); a standby head at or above ``ceiling`` belongs to
    a newer writer (``Overtaken``)."""
    kv = projector.kv
    source = materialised_version(shown.version if shown else None)
    if source is None:
        return 0  # nothing to copy from
    stale: Claim | None = None
    while True:
        head = await kv.head(standby)
        if ceiling is not None and head is not None and head.sequence >= ceiling:
            raise Overtaken(f"{standby} is at sequence {head.sequence}: a newer writer owns it")
        claim = await read_claim(kv, standby)
        if claim is not None and not claim.copying:
            return 0  # an unfinished projection: the projector finishes it
        if (
            claim is not None
            and claim.owner != projector.owner
            and claim != stale
            and projector.clock() - claim.heartbeat < projector.claim_stale_seconds
        ):
            stale = await _wait(projector, standby, claim)
            continue
        if claim is None and not await _far_behind(projector, standby, head, source, target):
            return 0
        return await _copy(projector, visible, standby, head, floor, target, correlation_id, fence)


async def _far_behind(
    projector: Projector,
    standby: ChannelScope,
    head: ChannelHead | None,
    source: str,
    target: str,
) -> bool:
    held = materialised_version(head.version if head else None)
    if held is None:
        return True
    if held == source:
        return False
    try:
        behind = await changed(projector.git, standby.repository, held, target)
    except NotFound:
        return True  # its commit is unknown to Git (history rewritten): a full resync else
    ahead = await changed(projector.git, standby.repository, source, target)
    return len(behind) - len(ahead) > projector.batch_size


async def _wait(projector: Projector, standby: ChannelScope, claim: Claim) -> Claim | None:
    """Wait while another worker's copy claim is alive; return it if it stopped moving."""
    seen, since = claim, time.monotonic()
    while True:
        await asyncio.sleep(projector.poll_interval)
        now = await read_claim(projector.kv, standby)
        if now is None or (now.owner, now.sequence, now.copying) != (
            seen.owner,
            seen.sequence,
            True,
        ):
            return None  # finished, handed over or taken over: look again
        if now.heartbeat != seen.heartbeat:
            seen, since = now, time.monotonic()
        stale = projector.claim_stale_seconds
        if time.monotonic() - since >= stale or projector.clock() - now.heartbeat >= stale:
            log.warning("copy claim of %s by %s looks abandoned: redoing it", standby, now.owner)
            return now


async def _copy(
    projector: Projector,
    visible: ChannelScope,
    standby: ChannelScope,
    head: ChannelHead | None,
    floor: int,
    target: str,
    correlation_id: str,
    fence: str,
) -> int:
    kv, started = projector.kv, time.monotonic()
    seq = head.sequence if head else 0
    c = max(seq + 1, floor)

    def marker(claim: Claim, *, first: bool = False) -> Batch:
        batch = Batch(
            standby,
            c,
            NO_VERSION,
            advance_head=first,
            expected_head_sequence=seq if first else c,
            unless_alias=fence,
        )
        return batch.upsert(PROJECTION_KIND, PROJECTION_MARKER, claim.value())

    shown = await kv.head(visible)
    source = materialised_version(shown.version if shown else None)
    ahead = asyncio.ensure_future(_warm(projector, visible.repository, source, target))
    try:
        copied, base = await _copy_steps(projector, visible, standby, c, marker, source, fence)
    except BaseException:
        ahead.cancel()
        raise
    warmed = await ahead  # the projection would prepare the same files: no time lost
    log.info(
        "copied %d document(s) of %s at %s into %s in %.3fs; %d file(s) of the commit "
        "prepared meanwhile [correlation_id=%s]",
        copied,
        visible,
        base[:12],
        standby,
        time.monotonic() - started,
        warmed,
        correlation_id,
    )
    return copied


async def _warm(projector: Projector, repository: str, base: str | None, target: str) -> int:
    """``staging.warm`` of the commit while the copy runs; a failure only costs the time it
    would have saved (the projection prepares what is missing)."""
    if base is None:
        return 0
    try:
        return await warm(projector, repository, base, target)
    except GitStoreError as exc:
        log.warning("could not prepare %s ahead of projecting it: %s", target[:12], exc.message)
        return 0


async def _copy_steps(
    projector: Projector,
    visible: ChannelScope,
    standby: ChannelScope,
    c: int,
    marker: Callable[..., Batch],
    source: str | None,
    fence: str,
) -> tuple[int, str]:
    """Claim, copy in steps, hand over (module doc); the documents copied and the base."""
    kv = projector.kv
    claim = Claim(
        source,
        (),
        projector.owner,
        projector.clock(),
        c,
        full=True,
        copying=True,
    )
    await kv.apply(marker(claim, first=True))
    versions: list[str] = []  # the visible commits chunks were copied from
    last = ""
    cursor: str | None = COPY_START
    copied = removed = 0
    while cursor is not None:
        step = await kv.copy_step(
            visible,
            standby,
            cursor=cursor,
            sequence=c,
            expected_head_sequence=c,
            unless_alias=fence,
            keep_kind=PROJECTION_KIND,
            limit=projector.batch_size,
        )
        version = materialised_version(step.source.version if step.source else None)
        if version is None:
            raise FailedPrecondition(
                f"{visible} has no commit to copy from", field="expected_head_sequence"
            )
        if step.copied and version not in versions:
            versions.append(version)
        last = version
        copied, removed, cursor = copied + step.copied, removed + step.removed, step.cursor
        if projector.clock() - claim.heartbeat >= projector.claim_stale_seconds / 4:
            claim = claim.beat(projector.clock())
            await kv.apply(marker(claim))
    base = last  # the visible commit at the last step; the chunks of any other are dirty
    dirty = tuple(v for v in versions if v != base)
    handed = Claim(base, dirty, projector.owner, projector.clock(), c)
    await kv.apply(marker(handed))
    projector.metrics.documents.labels("copy").inc(copied)
    if removed or dirty:
        log.info(
            "copy into %s removed %d row(s) first; chunks came from %d commit(s)",
            standby,
            removed,
            len(dirty) + 1,
        )
    return copied, base
