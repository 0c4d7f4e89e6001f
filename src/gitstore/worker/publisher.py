"""Publishing a release: make the ``live`` channel of a repository show a release's commit.

The API asks with a ``PublishEvent`` (sequence, tag, commit, kind ``PUBLISH`` or ``REPLAY``)
on the main event stream; the worker's consumer hands it here, under the same per-repository
lock as ref updates. The newest requested publication (highest sequence) must win, whatever
order the events arrive or are redelivered in, and readers must never see a mix of two
releases. The state, all in the KV store:

* **Intent**: document ``(intent, live)`` in scope ``(repo, "publish")``, written with the
  publication's sequence first. The KV's sequence rule skips an older write, so an event
  whose intent is older than the stored one is ``SUPERSEDED`` and changes nothing. The intent
  also records the commit ``live`` showed when the publication started (``previousCommit``),
  so a redelivered event reports the same ``previous_commit`` and ``changed`` again.
* **Two buffers** ``live-a`` / ``live-b`` (ordinary channel scopes, projected like ``draft``)
  and the **alias** ``live`` pointing at the active one; storefronts resolve it once per
  request, so a switch is atomic for them.

One attempt (restarted when it loses a race, at most ``MAX_ATTEMPTS`` times):

1. A newer intent stored? ``SUPERSEDED``.
2. **In place** (kind ``PUBLISH`` and ``live`` already points at a buffer): project the
   commit into the *active* buffer with ``single_only`` — the diff from the buffer's commit
   must fit ONE batch (``batch_size``), which is atomic for readers and costs
   O(changed files): ``GetChangedPaths`` plus the changed blobs, no listing of the catalogue.
   Then ``set_alias(live -> active, sequence, expected_target_version=commit)`` records the
   publication's sequence on the alias.
3. **Switch** (first release, a diff larger than a batch, or ``REPLAY``): except for a
   ``REPLAY``, first fill the *inactive* buffer by a KV copy of the draft, after waiting for a
   live draft projection of the commit (``release_copy``); then project into it — the
   convergent projector (``projector.project_into``) from whatever that buffer holds,
   chunked under a claim when large, a full resync for ``REPLAY`` (every document of the
   buffer the target lacks is deleted) — with the KV **alias fence** on every batch
   (``unless_alias="live"``: a writer that lost the race cannot write into the buffer readers
   see), then ``set_alias(live -> inactive, sequence, expected_target_version=commit)``: the
   switch happens only if the buffer holds exactly the commit (a claim hides the head version,
   so a half-written buffer never matches).
4. ``PublishedEvent`` (``PUBLISHED``, the channel, ``previous_commit``, ``changed`` = resource
   ids ``<kind>/<name>`` whose files differ between the previous live commit and the target,
   from ``GetChangedPaths`` and the path convention) on ``published_stream(stream)``.

**Sequences.** Writes into a buffer use sequences from ``sequence * STRIDE`` up (the
projector's ``floor``), so a buffer head at or above ``(sequence + 1) * STRIDE`` means a newer
publication wrote it (``Overtaken``: superseded). Together with the head compare-and-set of
every batch this orders concurrent publications across worker processes: an older one can
never write over a newer one's buffer, and its alias switch is refused by the alias's own
sequence rule. Losing a head race, the fence or the version check restarts the attempt,
which re-reads everything.

Errors: a missing repository or commit, or any other permanent error, ends the publication as
``FAILED`` (announced, then the message is acked); passing errors propagate to the consumer,
which retries with backoff.

**Stamping.** A projection that finds the buffer already at the commit writes nothing
(a rollback to the release the standby buffer still holds, or an in-place publication of
the commit ``live`` shows). Its head would then stay in an older publication's range, and an
older publication *m* still in flight that planned a batch against that head — in place,
into the buffer that was live when it looked, without the alias fence — would pass the head
compare-and-set *after* this publication made the buffer live, and readers would see *m*'s
commit. So such a publication first writes an empty batch at ``sequence * STRIDE`` (head
compare-and-set; the alias fence on the standby path) before switching: afterwards the
buffer ``live`` points at always has a head at or above the live publication's range.

**Pruning tombstones.** Deletes leave tombstones in the buffers. Once publication *n* has
made ``live`` point at its buffer (in place or by switching), :meth:`Publisher._prune` drops
the tombstones below ``n * STRIDE`` — everything older than *n*'s own range — in both
buffers. Why no write still in flight can need them: a tombstone only ever blocks a write
whose sequence is *below* it, and every write into a buffer is a projector batch that
compares-and-sets the buffer's head (``expected_head_sequence`` = the head its writer planned
against) with a sequence at or above that head (``max(head + 1, floor)``; the chunks of a
claim use the claim's sequence, which *is* the head). The head is at or above every
sequence stored in the buffer, tombstones included (a batch sets it to its own sequence and
heads never go down: the publisher never drops a buffer). So a batch that the KV applies
carries a sequence no tombstone in the buffer exceeds, and the sequence rule lets it
through with or without the tombstones; a batch planned against an older head is refused as
a whole by the compare-and-set, with or without them. The other fences rest on the head,
the alias and the intent, never on tombstones: older publications *m* < *n* are stopped by
the intent check (``SUPERSEDED`` before any write), by the alias fence on the standby path
(refused while ``live`` points at that buffer), by ``Overtaken`` (a head at or above
``(m + 1) * STRIDE``) and by the alias's sequence rule (their switch returns False). A
newer publication *p* > *n* running at the same time writes tombstones at or above
``p * STRIDE`` > ``n * STRIDE``, which the prune leaves alone. The bound ``n * STRIDE`` (not
the head) also keeps *n*'s own tombstones, so a redelivery of *n* finds the same state.
Pruning is idempotent and cumulative: a prune that fails (logged) is made up by the next
publication.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from gitstore.backends.kv import Batch, KvStore
from gitstore.domain.content import KindRegistry, ManifestError, identity_for_path
from gitstore.domain.errors import (
    Aborted,
    FailedPrecondition,
    InvalidArgument,
    NotFound,
    PermanentError,
)
from gitstore.domain.events import MAX_CHANGED_IDS, PublishedEvent, PublishEvent
from gitstore.domain.keys import LIVE, ChannelScope, validate_repository, validate_version
from gitstore.domain.projection import document_kind, materialised_version
from gitstore.git.client import GitClient
from gitstore.worker.changes import changed
from gitstore.worker.projector import (
    Overtaken,
    ProjectionResult,
    Projector,
    Target,
    TooLarge,
    prune_quietly,
)
from gitstore.worker.rekind import kind_files, kinds_to_redo
from gitstore.worker.release_copy import WAIT_CAP_SECONDS, copy_from_draft

log = logging.getLogger(__name__)

BUFFERS = ("live-a", "live-b")
PUBLISH_CHANNEL = "publish"
INTENT_KIND = "intent"
INTENT_NAME = LIVE
STRIDE = 2**20
MAX_PUBLICATION_SEQUENCE = (2**53 - 1) // STRIDE - 1
MAX_ATTEMPTS = 16

PUBLISHED = "PUBLISHED"
SUPERSEDED = "SUPERSEDED"
FAILED = "FAILED"
REPLAY = "REPLAY"
# Races that make an attempt start over (the KV refused a write or a switch).
_RACES = ("alias", "expected_target_version", "expected_head_sequence")

Announce = Callable[[PublishedEvent], Awaitable[None]]


def publish_scope(repository: str) -> ChannelScope:
    """Where the publication intent of ``repository`` lives."""
    return ChannelScope(repository, PUBLISH_CHANNEL)


def other_buffer(active: ChannelScope | None, repository: str) -> ChannelScope:
    """The buffer to fill when ``active`` is live (``live-a`` when nothing is)."""
    if active is None or active.channel == BUFFERS[1]:
        return ChannelScope(repository, BUFFERS[0])
    return ChannelScope(repository, BUFFERS[1])


@dataclass(slots=True)
class _Done:
    channel: str
    result: ProjectionResult
    in_place: bool


class Publisher:
    """Handles ``PublishEvent``s; ``announce`` publishes the ``PublishedEvent`` outcome."""

    def __init__(
        self,
        projector: Projector,
        *,
        announce: Announce | None = None,
        clock: Callable[[], float] = time.time,
        draft_wait: float = WAIT_CAP_SECONDS,
    ) -> None:
        self.projector = projector
        self.kv: KvStore = projector.kv
        self.git: GitClient = projector.git
        self.registry: KindRegistry = projector.registry
        self.announce = announce
        self.clock = clock
        self.draft_wait = draft_wait  # the longest wait for a draft of the commit to copy
        # repositories whose release is waiting for the draft or copying it: set when done
        self._copies: dict[str, asyncio.Event] = {}

    async def copied(self, repository: str) -> None:
        """Return once no release of ``repository`` is waiting for the draft or copying it
        (``release_copy``). The handler's resource sync after a projection yields to it: both
        are long passes over the catalogue in one process, and the copy is what ``live``
        waits for."""
        while (done := self._copies.get(repository)) is not None:
            await done.wait()

    async def publish(self, event: PublishEvent) -> PublishedEvent:
        """Make ``live`` show ``event``'s commit (or learn that a newer one wins); announce
        and return the outcome."""
        check_publish_event(event)
        try:
            outcome = await self._publish(event)
        except PermanentError as exc:
            log.error(
                "publication %d (%s) of %s failed: %s [correlation_id=%s]",
                event.sequence,
                event.tag,
                event.repository_id,
                exc.message,
                event.correlation_id,
            )
            outcome = self._outcome(event, FAILED, error=exc.message)
        if self.announce is not None:
            await self.announce(outcome)
        return outcome

    async def _publish(self, event: PublishEvent) -> PublishedEvent:
        repository = event.repository_id
        await self.git.resolve_revision(repository, event.commit)  # NotFound: FAILED
        newest, previous = await self._record_intent(event)
        if not newest:
            return self._superseded(event, "a newer publication was requested")
        for attempt in range(1, MAX_ATTEMPTS + 1):
            try:
                done = await self._attempt(event)
            except Overtaken as exc:
                return self._superseded(event, exc.message)
            except FailedPrecondition as exc:
                if exc.field not in _RACES:
                    raise
                log.info(
                    "publication %d of %s lost a race (%s); attempt %d starts over "
                    "[correlation_id=%s]",
                    event.sequence,
                    repository,
                    exc.message,
                    attempt,
                    event.correlation_id,
                )
                continue
            if done is None:
                return self._superseded(event, "a newer publication switched live first")
            await self._prune(event)
            changes = await self._changed(repository, previous, event.commit)
            log.info(
                "published %s %s (publication %d) into %s %s: %d upserts, %d deletes, "
                "%d changed resources [correlation_id=%s]",
                repository,
                event.tag,
                event.sequence,
                done.channel,
                "in place" if done.in_place else "by switching",
                done.result.upserts,
                done.result.deletes,
                len(changes),
                event.correlation_id,
            )
            return self._outcome(
                event,
                PUBLISHED,
                channel=done.channel,
                previous=previous or "",
                changed=changes,
            )
        raise Aborted(
            f"publication {event.sequence} of {repository} lost the race {MAX_ATTEMPTS} times"
        )

    # ------------------------------------------------------------------ steps

    async def _record_intent(self, event: PublishEvent) -> tuple[bool, str | None]:
        """Write the intent: (False, None) when a newer intent is stored, else (True, the
        commit ``live`` showed before the publication started; None for nothing)."""
        scope = publish_scope(event.repository_id)
        stored = await self.kv.get(scope, INTENT_KIND, INTENT_NAME)
        if stored is not None and stored.sequence > event.sequence:
            return False, None
        previous: str | None
        if stored is not None and stored.sequence == event.sequence:  # a redelivery
            previous = str(stored.value().get("previousCommit") or "") or None
        else:
            previous = await self._live_commit(event.repository_id)
        batch = Batch(scope, event.sequence, event.commit)
        batch.upsert(
            INTENT_KIND,
            INTENT_NAME,
            {
                "sequence": event.sequence,
                "tag": event.tag,
                "commit": event.commit,
                "kind": event.kind,
                "eventId": event.event_id,
                "previousCommit": previous or "",
                "requestedAt": event.timestamp,
            },
        )
        result = await self.kv.apply(batch)
        return (False, None) if result.skipped else (True, previous)

    async def _newer_intent(self, event: PublishEvent) -> bool:
        stored = await self.kv.get(publish_scope(event.repository_id), INTENT_KIND, INTENT_NAME)
        return stored is not None and stored.sequence > event.sequence

    async def _live_commit(self, repository: str) -> str | None:
        live = await self.kv.resolve(repository, LIVE)
        if live.channel not in BUFFERS:
            return None
        head = await self.kv.head(live)
        return materialised_version(head.version if head else None)

    async def _attempt(self, event: PublishEvent) -> _Done | None:
        """One try; None when a newer publication won."""
        if await self._newer_intent(event):
            return None
        repository, commit, sequence = event.repository_id, event.commit, event.sequence
        live = await self.kv.resolve(repository, LIVE)
        active = live if live.channel in BUFFERS else None
        floor = sequence * STRIDE
        ceiling = floor + STRIDE
        correlation_id = event.correlation_id
        if active is not None and event.kind != REPLAY:
            try:
                result = await self.projector.project_into(
                    Target(
                        active,
                        commit,
                        floor=floor,
                        ceiling=ceiling,
                        hide_claims=True,
                        single_only=True,
                    ),
                    correlation_id=correlation_id,
                )
            except TooLarge as exc:
                log.info(
                    "publication %d of %s: %s; projecting into the other buffer",
                    sequence,
                    repository,
                    exc.message,
                )
            else:
                if not result.changed:
                    await self._stamp(active, commit, floor, fence=None)
                switched = await self.kv.set_alias(
                    repository,
                    LIVE,
                    active.channel,
                    sequence=sequence,
                    expected_target_version=commit,
                )
                return _Done(active.channel, result, in_place=True) if switched else None
        standby = other_buffer(active, repository)
        if event.kind != REPLAY:  # the draft usually holds the commit already: copy it
            done = self._copies[repository] = asyncio.Event()
            try:
                await copy_from_draft(
                    self.projector,
                    standby,
                    floor,
                    ceiling,
                    commit,
                    correlation_id,
                    wait_cap=self.draft_wait,
                )
            finally:
                done.set()
                if self._copies.get(repository) is done:
                    del self._copies[repository]
        result = await self.projector.project_into(
            Target(
                standby,
                commit,
                floor=floor,
                ceiling=ceiling,
                fence=LIVE,
                hide_claims=True,
                full=event.kind == REPLAY,
            ),
            correlation_id=correlation_id,
        )
        if not result.changed:
            await self._stamp(standby, commit, floor, fence=LIVE)
        switched = await self.kv.set_alias(
            repository, LIVE, standby.channel, sequence=sequence, expected_target_version=commit
        )
        return _Done(standby.channel, result, in_place=False) if switched else None

    async def _stamp(
        self, scope: ChannelScope, commit: str, floor: int, *, fence: str | None
    ) -> None:
        """The buffer already held ``commit`` (nothing was written): move its head into this
        publication's range anyway — an empty batch, compare-and-set on the head — so that a
        batch an older publication planned against the buffer's earlier head is refused
        once this publication has made the buffer live (see "Stamping" in the module doc)."""
        head = await self.kv.head(scope)
        if head is None or head.sequence >= floor:
            return  # nothing to stamp, or already in this publication's range (a redelivery)
        await self.kv.apply(
            Batch(scope, floor, commit, expected_head_sequence=head.sequence, unless_alias=fence)
        )

    async def _prune(self, event: PublishEvent) -> int:
        """After ``event``'s publication is live: drop the tombstones below its range in both
        buffers (why that is safe: the module doc). Returns how many; a KV error is logged,
        not raised — the next publication prunes them."""
        below = event.sequence * STRIDE
        pruned = 0
        for buffer in BUFFERS:
            scope = ChannelScope(event.repository_id, buffer)
            pruned += await prune_quietly(self.kv, scope, below, event.correlation_id)
        if pruned:
            log.info(
                "publication %d of %s pruned %d tombstone(s) below sequence %d [correlation_id=%s]",
                event.sequence,
                event.repository_id,
                pruned,
                below,
                event.correlation_id,
            )
        return pruned

    async def _changed(self, repository: str, previous: str | None, target: str) -> list[str]:
        """Resource ids ``<kind>/<name>`` whose files differ between ``previous`` and
        ``target`` (every resource of the target when there was nothing before), and those
        of every kind whose definition or hook module changed (``rekind``: re-converted)."""
        if previous == target:
            return []
        base = previous
        try:
            paths = await changed(self.git, repository, previous, target)
        except NotFound as exc:
            log.warning("cannot diff %s from %s (%s): all resources", repository, previous, exc)
            paths = await changed(self.git, repository, None, target)
            base = None
        registry = await self.projector.kinds.registry(repository, target)  # the target's kinds
        every = [p for c in paths for p in (c.path, c.old_path) if p]
        if base is not None:
            kinds = self.projector.kinds
            redo = await kinds_to_redo(registry, every, lambda: kinds.registry(repository, base))
            every += list(await kind_files(self.git, repository, target, redo))
        ids: set[str] = set()
        for path in every:
            try:
                identity = identity_for_path(path, registry)
            except ManifestError:
                continue
            if identity is not None:
                ids.add(f"{document_kind(identity.kind)}/{identity.name}")
        return sorted(ids)

    # ------------------------------------------------------------------ outcomes

    def _superseded(self, event: PublishEvent, why: str) -> PublishedEvent:
        log.info(
            "publication %d (%s) of %s superseded: %s [correlation_id=%s]",
            event.sequence,
            event.tag,
            event.repository_id,
            why,
            event.correlation_id,
        )
        return self._outcome(event, SUPERSEDED)

    def _outcome(
        self,
        event: PublishEvent,
        state: str,
        *,
        channel: str = "",
        previous: str = "",
        changed: list[str] | None = None,
        error: str = "",
    ) -> PublishedEvent:
        return PublishedEvent(
            event_id=f"{event.event_id}:{state.lower()}",
            repository_id=event.repository_id,
            sequence=event.sequence,
            tag=event.tag,
            commit=event.commit,
            state=state,
            channel=channel,
            previous_commit=previous,
            changed=tuple((changed or [])[:MAX_CHANGED_IDS]),
            changed_count=len(changed or ()),
            error=error,
            correlation_id=event.correlation_id,
            timestamp=self.clock(),
        )


def check_publish_event(event: PublishEvent) -> None:
    """``InvalidArgument`` naming the field of a ``PublishEvent`` that cannot be published."""
    validate_repository(event.repository_id)
    if (
        isinstance(event.sequence, bool)
        or not isinstance(event.sequence, int)
        or not 1 <= event.sequence <= MAX_PUBLICATION_SEQUENCE
    ):
        raise InvalidArgument(
            f"publication sequence {event.sequence!r} must be an integer from 1 to "
            f"{MAX_PUBLICATION_SEQUENCE}",
            field="sequence",
        )
    validate_version(event.commit)
    if event.kind not in ("PUBLISH", REPLAY):
        raise InvalidArgument(
            f"publication kind {event.kind!r} must be PUBLISH or REPLAY", field="kind"
        )
    if not isinstance(event.tag, str):
        raise InvalidArgument("publication tag must be a string", field="tag")
