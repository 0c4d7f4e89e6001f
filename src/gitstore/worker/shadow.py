"""Shadow re-indexing: re-project a repository into a spare buffer, compare, switch atomically.

When the projection code or the indexes change (an upgrade, a new filter, a changed kind), the
documents already in the KV were written by the old code. A re-index projects the repository
again **from Git**, with the code this worker runs, into a *shadow* channel that no reader
sees, while readers keep reading the current buffers; compares the two (``shadow_compare``);
and makes readers see the shadow's content only when the comparison is equal or an operator
accepted the differences. ``ReindexEvent``s on the main queue drive it (``START``, ``ACCEPT``,
``ABANDON``), under the consumer lock ``<repo>#reindex`` (not the repository's: projections of
new commits go on meanwhile).

**What "a repository" covers: its views.** ``draft`` — the default branch head, behind alias
``draft-view`` (buffers ``draft``/``draft-b``; also what ``LIVE`` of an ``ON_COMMIT``
repository reads) — and ``live`` — the published release, behind alias ``live`` (buffers
``live-a``/``live-b``), only when a release was published. Each view has its own shadow
channel (``shadow-draft``, ``shadow-live``), is re-projected at the commit its visible buffer
holds, compared and switched on its own; the state (one document in scope
``(repo, "reindex")``) holds every view's comparison, and the re-index is equal when all are.

**Build** (per view): ``project_into(Target(shadow, commit))`` with the prepared-file cache
off (it holds what the old code prepared), chunked under a claim like any projection, so a
crashed build is resumed by the redelivered event (the claim is taken over). Then both
buffers are summarised and compared. If the visible buffer moved meanwhile (a commit landed
and was projected in place or switched), the shadow **catches up**: it is projected to the
new commit (the diff only, with the new code) and compared again, so a write landing during
the build is never lost by the switch.

**Switch** (per view), the rules of ``draft_switch`` / ``publisher``: the shadow is copied at
the KV level into the view's *standby* buffer (``copy_step`` under a hidden claim, every step
fenced by the view's alias and compare-and-setting the standby's head, sequences from the
visible head + 1 up), the projector finishes the claim (an empty plan: the head takes the
commit), the visible head is read again (moved: catch up and compare again), and the alias is
switched with ``expected_target_version=commit`` and a forward sequence (``draft-view``: the
standby's head; ``live``: the current publication's sequence, the standby's sequences staying
inside that publication's range so a newer publication still wins). Readers go from the old
buffer to the re-indexed one in one alias write. The shadow channel is then dropped.

**States**: ``BUILDING`` → ``DIFFERENT`` (waits for ``ACCEPT`` or ``ABANDON``) or straight on
→ ``SWITCHING`` → ``SWITCHED``; ``ABANDONED``; ``FAILED`` (a permanent error; the message says
why). ``ABANDON`` (or a failure) drops the shadow channels; the visible buffers were never
written. A worker killed anywhere leaves readers on the previous buffers; the queue redelivers
the event and the next worker resumes from the stored state (a new ``START`` with another id
is refused while one is unfinished).
"""

from __future__ import annotations

import copy
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from gitstore.backends.kv import Batch
from gitstore.backends.kv.base import COPY_START
from gitstore.domain.errors import Aborted, FailedPrecondition, PermanentError
from gitstore.domain.events import ReindexEvent
from gitstore.domain.keys import LIVE, ChannelScope
from gitstore.domain.projection import (
    DRAFT_VIEW,
    NO_VERSION,
    PROJECTION_KIND,
    PROJECTION_MARKER,
    document_kind,
    draft_view,
    materialised_version,
    standby_draft,
)
from gitstore.domain.reindex import (
    ABANDONED,
    BUILDING,
    BUSY,
    DIFFERENT,
    FAILED,
    STATE_KIND,
    STATE_NAME,
    SWITCHED,
    SWITCHING,
    TERMINAL,
    reindex_scope,
)
from gitstore.worker.claims import Claim
from gitstore.worker.projector import Projector, Target
from gitstore.worker.publisher import (
    BUFFERS,
    INTENT_KIND,
    INTENT_NAME,
    STRIDE,
    other_buffer,
    publish_scope,
)
from gitstore.worker.shadow_compare import compare, summarize

log = logging.getLogger(__name__)

MAX_ROUNDS = 8
# Races that make a switch start over (another writer moved a head, the alias, the buffer).
_RACES = ("alias", "expected_target_version", "expected_head_sequence")


@dataclass(frozen=True, slots=True)
class View:
    name: str
    alias: str
    shadow: str
    visible: Callable[[ChannelScope], ChannelScope | None]
    standby: Callable[[ChannelScope], ChannelScope]


def _live_visible(resolved: ChannelScope) -> ChannelScope | None:
    return resolved if resolved.channel in BUFFERS else None  # no release published yet


VIEWS = (
    View("draft", DRAFT_VIEW, "shadow-draft", draft_view, standby_draft),
    View("live", LIVE, "shadow-live", _live_visible, lambda v: other_buffer(v, v.repository)),
)


class _Abandoned(Exception):
    """An ``ABANDON`` was handled while this worker built or switched."""


class _Moved(Exception):
    """The visible buffer moved since the comparison: catch the shadow up first."""


class ShadowReindexer:
    """Runs re-index requests (module doc) with ``projector``'s git, KV and settings."""

    def __init__(self, projector: Projector) -> None:
        self.projector = projector
        self.kv = projector.kv
        # the same projector without its prepared-file cache (what the old code prepared)
        self.builder = copy.copy(projector)
        self.builder.cache = None

    # ------------------------------------------------------------------ state

    async def state(self, repository: str) -> dict[str, Any] | None:
        """The stored state of ``repository``'s latest re-index (None: never re-indexed)."""
        doc = await self.kv.get(reindex_scope(repository), STATE_KIND, STATE_NAME)
        return doc.value() if doc is not None else None

    async def _save(self, repository: str, value: dict[str, Any]) -> None:
        """Store ``value`` (compare-and-set on the scope's head); ``_Abandoned`` if the
        re-index was abandoned meanwhile (by an ``ABANDON`` handled elsewhere)."""
        scope = reindex_scope(repository)
        head = await self.kv.head(scope)
        seq = head.sequence if head else 0
        stored = await self.state(repository)
        if (
            stored is not None
            and stored.get("id") == value.get("id")
            and stored.get("state") == ABANDONED
            and value.get("state") != ABANDONED
        ):
            raise _Abandoned(f"re-index {value.get('id')} of {repository} was abandoned")
        value["updatedAt"] = time.time()
        batch = Batch(scope, seq + 1, NO_VERSION, expected_head_sequence=seq)
        batch.upsert(STATE_KIND, STATE_NAME, value)
        await self.kv.apply(batch)

    # ------------------------------------------------------------------ events

    async def handle(self, event: ReindexEvent) -> str:
        """Do what ``event`` asks; the state the re-index is in afterwards."""
        repository = event.repository_id
        current = await self.state(repository)
        ours = current is not None and current.get("id") == event.reindex_id
        if event.action == "START":
            if current is not None and not ours and current.get("state") not in TERMINAL:
                log.warning(
                    "re-index %s of %s refused: re-index %s is %s",
                    event.reindex_id,
                    repository,
                    current.get("id"),
                    current.get("state"),
                )
                return BUSY
            if current is None or not ours:
                for view in VIEWS:  # leftovers of an earlier re-index, if any
                    await self.kv.drop_channel(ChannelScope(repository, view.shadow))
                current = {
                    "id": event.reindex_id,
                    "repository": repository,
                    "state": BUILDING,
                    "acceptDifferences": event.accept_differences,
                    "requestedBy": event.requested_by,
                    "startedAt": time.time(),
                    "views": {},
                    "message": "",
                }
                await self._save(repository, current)
        elif not ours or current is None:
            log.warning(
                "%s of re-index %s of %s ignored: not the current re-index",
                event.action,
                event.reindex_id,
                repository,
            )
            return str(current.get("state", FAILED)) if current else FAILED
        elif event.action == "ACCEPT" and current["state"] == DIFFERENT:
            current["acceptDifferences"] = True
        elif event.action == "ABANDON" and current["state"] not in TERMINAL:
            await self._clean(repository, current, ABANDONED, "abandoned by request")
            return ABANDONED
        state = str(current["state"])
        if state in TERMINAL or (state == DIFFERENT and not current["acceptDifferences"]):
            return state
        try:
            return await self._run(repository, current, event.correlation_id)
        except _Abandoned:
            for view in VIEWS:  # what this worker wrote after the abandon
                await self.kv.drop_channel(ChannelScope(repository, view.shadow))
            return ABANDONED
        except PermanentError as exc:
            await self._clean(repository, current, FAILED, exc.message)
            return FAILED

    async def _clean(
        self, repository: str, current: dict[str, Any], state: str, message: str
    ) -> None:
        for view in VIEWS:
            await self.kv.drop_channel(ChannelScope(repository, view.shadow))
        current["state"], current["message"] = state, message
        await self._save(repository, current)
        log.info("re-index %s of %s %s: %s", current["id"], repository, state.lower(), message)

    # ------------------------------------------------------------------ the work

    async def _run(self, repository: str, current: dict[str, Any], correlation_id: str) -> str:
        views: dict[str, Any] = current["views"]
        for _ in range(MAX_ROUNDS):
            for view in VIEWS:
                if views.get(view.name, {}).get("switched"):
                    continue
                outcome = await self._build(repository, view, correlation_id)
                if outcome is None:
                    views.pop(view.name, None)
                else:
                    views[view.name] = outcome
                current["state"] = BUILDING
                await self._save(repository, current)
            pending = [v for v in VIEWS if v.name in views and not views[v.name].get("switched")]
            equal = all(views[v.name]["comparison"]["equal"] for v in pending)
            if not equal and not current["acceptDifferences"]:
                current["state"] = DIFFERENT
                await self._save(repository, current)
                return DIFFERENT
            current["state"] = SWITCHING
            await self._save(repository, current)
            try:
                for view in pending:
                    await self._switch(repository, view, views[view.name]["commit"])
                    views[view.name]["switched"] = True
                    await self._save(repository, current)
            except _Moved as exc:
                log.info("re-index of %s: %s; catching the shadow up", repository, exc)
                continue
            except FailedPrecondition as exc:
                if exc.field not in _RACES:
                    raise
                log.info("re-index of %s lost a race (%s); again", repository, exc.message)
                continue
            await self._clean(repository, current, SWITCHED, "switched")
            return SWITCHED
        raise Aborted(
            f"re-index of {repository} did not settle in {MAX_ROUNDS} rounds (the repository "
            "keeps moving); the event is retried"
        )

    async def _kinds(self, repository: str, commit: str) -> list[str]:
        registry = await self.projector.kinds.registry(repository, commit)
        return [document_kind(k) for k in registry.kinds()]

    async def _build(
        self, repository: str, view: View, correlation_id: str
    ) -> dict[str, Any] | None:
        """Bring the shadow of ``view`` to the commit its visible buffer holds and compare;
        None when the view shows nothing (no release published)."""
        kv = self.kv
        shadow = ChannelScope(repository, view.shadow)
        for _ in range(MAX_ROUNDS):
            visible = view.visible(await kv.resolve(repository, view.alias))
            shown = await kv.head(visible) if visible is not None else None
            commit = materialised_version(shown.version if shown else None)
            if visible is None or shown is None or commit is None:
                return None
            result = await self.builder.project_into(
                Target(shadow, commit), correlation_id=correlation_id
            )
            kinds = await self._kinds(repository, commit)
            live = await summarize(kv, visible, kinds)
            again = await kv.head(visible)
            if again is None or again.sequence != shown.sequence:
                continue  # moved while compared: catch up
            comparison = compare(live, await summarize(kv, shadow, kinds))
            log.info(
                "re-index of %s %s at %s: %d document(s) projected, %s [correlation_id=%s]",
                repository,
                view.name,
                commit[:12],
                result.upserts,
                "equal" if comparison["equal"] else f"{comparison['differing']} differ",
                correlation_id,
            )
            return {
                "commit": commit,
                "visible": visible.channel,
                "shadow": shadow.channel,
                "comparison": comparison,
                "switched": False,
            }
        raise _Moved(f"{view.name} of {repository} kept moving while compared")

    async def _switch(self, repository: str, view: View, commit: str) -> None:
        """Copy the shadow into the view's standby and switch the alias to it (module doc)."""
        kv, projector = self.kv, self.projector
        visible = view.visible(await kv.resolve(repository, view.alias))
        shown = await kv.head(visible) if visible is not None else None
        if visible is None or shown is None or shown.version != commit:
            raise _Moved(f"{view.name} of {repository} no longer shows {commit[:12]}")
        floor, ceiling, alias_sequence = shown.sequence + 1, None, None
        if view.alias == LIVE:
            intent = await kv.get(publish_scope(repository), INTENT_KIND, INTENT_NAME)
            n = intent.sequence if intent is not None else 0
            floor, ceiling, alias_sequence = max(floor, n * STRIDE), (n + 1) * STRIDE, n
        standby = view.standby(visible)
        await self._copy(ChannelScope(repository, view.shadow), standby, view.alias, floor)
        result = await projector.project_into(
            Target(
                standby, commit, floor=floor, ceiling=ceiling, fence=view.alias, hide_claims=True
            )
        )
        again = await kv.head(visible)
        if again is None or again.sequence != shown.sequence:
            raise _Moved(f"{visible} moved while {standby} was filled")
        switched = await kv.set_alias(
            repository,
            view.alias,
            standby.channel,
            sequence=alias_sequence if alias_sequence is not None else result.sequence,
            expected_target_version=commit,
        )
        if not switched:
            raise _Moved(f"a newer switch of {view.alias} of {repository} is stored")
        log.info(
            "re-index of %s: %s switched to %s at %s", repository, view.alias, standby, commit[:12]
        )

    async def _copy(
        self, shadow: ChannelScope, standby: ChannelScope, alias: str, floor: int
    ) -> int:
        """Replace the standby's content by the shadow's, under a hidden claim (``draft_copy``
        rules: fenced by ``alias``, compare-and-set on the standby's head)."""
        kv, projector = self.kv, self.projector
        head = await kv.head(standby)
        seq = head.sequence if head else 0
        c = max(seq + 1, floor)
        built = await kv.head(shadow)
        base = materialised_version(built.version if built else None)
        if base is None:
            raise FailedPrecondition(f"{shadow} holds no commit", field="shadow")

        def marker(claim: Claim, *, first: bool = False) -> Batch:
            batch = Batch(
                standby,
                c,
                NO_VERSION,
                advance_head=first,
                expected_head_sequence=seq if first else c,
                unless_alias=alias,
            )
            return batch.upsert(PROJECTION_KIND, PROJECTION_MARKER, claim.value())

        claim = Claim(base, (), projector.owner, projector.clock(), c, full=True, copying=True)
        await kv.apply(marker(claim, first=True))
        cursor: str | None = COPY_START
        copied = 0
        while cursor is not None:
            step = await kv.copy_step(
                shadow,
                standby,
                cursor=cursor,
                sequence=c,
                expected_head_sequence=c,
                unless_alias=alias,
                keep_kind=PROJECTION_KIND,
                limit=projector.batch_size,
            )
            if step.source is None or step.source.version != base:
                raise FailedPrecondition(f"{shadow} changed during the copy", field="shadow")
            copied, cursor = copied + step.copied, step.cursor
            claim = claim.beat(projector.clock())
            await kv.apply(marker(claim))
        await kv.apply(marker(Claim(base, (), projector.owner, projector.clock(), c)))
        projector.metrics.documents.labels("copy").inc(copied)
        return copied
