"""``draft`` seen all or nothing: two buffers and a guarded switch, as for releases.

Readers of the default branch (DRAFT, and LIVE of an ``ON_COMMIT`` repository) must see a
commit whole — its documents, indexes, counts and the head ``version`` that names it — or not
at all, whatever its size and whatever crashes. One KV batch is atomic, so a commit whose
changes fit one batch (``batch_size``, the common case) is simply that batch. A larger one
cannot be one batch, so the draft is double-buffered like ``live-a`` / ``live-b``
(``publisher``): channels ``draft`` and ``draft-b``, and the alias ``draft-view`` naming the
one readers see (no alias: ``draft``; ``domain.projection.draft_view``). Readers resolve the
alias once per request.

One round (``project_draft`` runs rounds until the buffer readers see holds the branch head):

1. ``target`` = the branch head; ``visible`` = ``draft_view(resolve(repo, "draft-view"))``.
2. **In place**: ``project_into(Target(visible, target, single_only=True))`` — the diff from
   the visible buffer's commit, when it fits ONE batch, written as that batch (head
   compare-and-set). Readers go from the old commit to the new one in one step.
3. **Switch** (``TooLarge``: the changes need several batches): when the standby is empty or
   far behind, first make it a KV-level copy of the visible buffer (``draft_copy``: chunked
   ``copy_step`` under a hidden claim, same fence and compare-and-set rules as below), so
   what follows costs the commit's own changes, not the catalogue. Then project into the
   *standby* buffer with the convergent projector — from whatever it holds, in chunks under a claim
   whose head version is hidden (``hide_claims``), every batch fenced by the alias
   (``unless_alias="draft-view"``: never written while readers see it) and with sequences
   from ``floor`` = the visible buffer's head sequence + 1 up — then ``set_alias(draft-view
   -> standby, sequence=its head sequence, expected_target_version=target)``: the switch
   happens only if the standby holds exactly ``target``. If the standby already held it (no
   batch written), an empty fenced batch at ``floor`` is written first (the *stamp*: the
   standby's head moves above everything a writer planned against, so a stalled in-place
   batch can no longer land in it once it is visible, and the alias's sequence rule holds).
   Just before switching, the visible buffer's head is read again: if a newer commit was
   written in place meanwhile (a stalled switcher resuming), the round starts over instead
   of showing an older commit.
4. **Check**: the alias and the visible head are read again with a fresh branch head; if
   readers do not see that head (another worker switched to an older commit meanwhile, or
   wrote into the buffer that just stopped being visible), another round.

Why it converges and never shows a partial commit:

* Chunks are only ever written into a buffer readers do not see (the fence, checked
  atomically with each batch), and the switch only exposes a buffer whose head version is
  the target, which a claimed buffer never has (``NO_VERSION`` while the claim is open). So
  the visible buffer changes only by one atomic batch or one atomic alias write, and its
  head always names its content: ``version`` is what is shown.
* A worker killed anywhere leaves the alias on the previous complete commit; the next
  projection (redelivery, or any later event) takes the dead worker's claim over in the
  standby (``claims``) and finishes or redoes it while readers stay on the previous commit.
* Alias writes only move forward: a switch carries the standby's head sequence, which is
  above the visible buffer's head (``floor``), which is at or above the sequence of the
  switch that made it visible (in-place batches only raise it). A switch that lost to a
  newer one returns False and the round starts over.
* Every worker ends only after step 4 saw the visible buffer at the branch head it resolved
  *after* its last write. Any write after that check is another worker's, which makes its own
  check later; so when the workers are done, readers see the branch head. (Two workers racing
  on one repository can still, in the short window between that re-read and the switch, make
  readers see an older *complete* commit for a moment before the newer one again; never a
  partial one.)

Cost: a commit that fits one batch costs what it did (one diff, one batch) plus the alias
read, and the check (alias, head, branch head) when it wrote something. A large commit is
written once into the standby, then one alias write. The standby first catches up from the
commit it held when that is close (the diff from it is at most ``batch_size`` paths longer
than the commit's own), else it is refilled by a KV copy of the visible buffer (a cheap
per-row copy of the catalogue, in short chunks) and catches up from the visible commit: a
large commit costs its own changes plus at most one copy, never a re-projection of the
catalogue from Git. The standby is not kept warm after a switch (``docs/projection.md``,
"Atomic commits": warming would cost every large commit a second projection of its changes,
and small commits written in place would make it fall behind again anyway). Tombstones are
pruned in the buffer written, below its new head (``projector``, "Pruning tombstones": the
same argument holds per buffer).
"""

from __future__ import annotations

import logging

from gitstore.backends.kv import Batch
from gitstore.domain.content import ContentError
from gitstore.domain.errors import Aborted, FailedPrecondition
from gitstore.domain.keys import ChannelScope
from gitstore.domain.projection import (
    DRAFT_VIEW,
    draft_view,
    materialised_version,
    standby_draft,
)
from gitstore.worker.draft_copy import prepare_standby
from gitstore.worker.projector import ProjectionResult, Projector, Target, TooLarge

log = logging.getLogger(__name__)

MAX_ROUNDS = 32
# Races that make a round start over: another writer moved a head, the alias, or the buffer.
_RACES = ("alias", "expected_target_version", "expected_head_sequence")


async def project_draft(
    projector: Projector, repository: str, *, correlation_id: str = ""
) -> ProjectionResult:
    """Make the draft buffer readers see hold the default branch head (module doc)."""
    # Noted before the first await, so a release of the same commit handled next in this
    # process knows the draft is on its way (``release_copy.wait_for_draft``).
    projector.drafting[repository] = ""
    try:
        return await _project_draft(projector, repository, correlation_id)
    finally:
        projector.drafting.pop(repository, None)


async def _project_draft(
    projector: Projector, repository: str, correlation_id: str
) -> ProjectionResult:
    kv, git = projector.kv, projector.git
    changed: ProjectionResult | None = None
    checked: dict[tuple[str, str], tuple[ContentError, ...]] = {}
    for _ in range(MAX_ROUNDS):
        target = (await git.resolve_revision(repository, "HEAD")).commit_sha
        projector.drafting[repository] = target
        visible = draft_view(await kv.resolve(repository, DRAFT_VIEW))
        try:
            result = await _round(projector, visible, target, correlation_id)
        except FailedPrecondition as exc:
            if exc.field not in _RACES:
                raise
            log.info(
                "draft projection of %s lost a race (%s); starting over [correlation_id=%s]",
                repository,
                exc.message,
                correlation_id,
            )
            continue
        checked.update(result.checked)
        if not result.changed:
            # Nothing written: the visible buffer was at ``target`` when this round read it.
            final = changed or result
            final.checked.update(checked)
            return final
        changed = result
        now = draft_view(await kv.resolve(repository, DRAFT_VIEW))
        head = await kv.head(now)
        current = (await git.resolve_revision(repository, "HEAD")).commit_sha
        if head is not None and head.version == current:
            result.checked.update(checked)
            return result
        log.info(
            "draft of %s shows %s after projecting %s, the branch is at %s: another round "
            "[correlation_id=%s]",
            repository,
            (head.version if head else "nothing")[:12],
            target[:12],
            current[:12],
            correlation_id,
        )
    raise Aborted(f"draft projection of {repository} did not settle in {MAX_ROUNDS} rounds")


async def _round(
    projector: Projector, visible: ChannelScope, target: str, correlation_id: str
) -> ProjectionResult:
    kv = projector.kv
    try:
        result = await projector.project_into(
            Target(visible, target, single_only=True), correlation_id=correlation_id
        )
    except TooLarge:
        pass
    else:
        result.channel = visible.channel
        if result.changed:
            result.pruned = await projector.prune(visible, result.sequence, correlation_id)
        return result
    standby = standby_draft(visible)
    shown = await kv.head(visible)
    floor = (shown.sequence if shown else 0) + 1
    copied = await prepare_standby(
        projector, visible, standby, shown, floor, target, correlation_id
    )
    result = await projector.project_into(
        Target(standby, target, floor=floor, fence=DRAFT_VIEW, hide_claims=True),
        correlation_id=correlation_id,
    )
    result.copied = copied
    if (
        not result.changed
        and draft_view(await kv.resolve(visible.repository, DRAFT_VIEW)) == standby
    ):
        result.channel = standby.channel  # another worker switched to it meanwhile: done
        return result
    if result.sequence < floor:  # the standby already held the target: stamp it
        stamp = Batch(
            standby,
            floor,
            target,
            expected_head_sequence=result.sequence,
            unless_alias=DRAFT_VIEW,
        )
        await kv.apply(stamp)
        result.sequence = floor
    # The buffer readers see must not have moved since this round planned (a newer commit
    # written in place meanwhile): switching would show an older commit. Checked just
    # before the switch, not atomically with it; the check after the switch covers the rest.
    again = await kv.head(visible)
    if (again.sequence if again else 0) != floor - 1:
        raise FailedPrecondition(
            f"{visible} moved while {standby} was filled", field="expected_head_sequence"
        )
    switched = await kv.set_alias(
        visible.repository,
        DRAFT_VIEW,
        standby.channel,
        sequence=result.sequence,
        expected_target_version=target,
    )
    if not switched:
        raise FailedPrecondition(
            f"a newer switch of {DRAFT_VIEW} of {visible.repository} is stored", field="alias"
        )
    log.info(
        "draft of %s switched to %s at %s (sequence %d) [correlation_id=%s]",
        visible.repository,
        standby.channel,
        target[:12],
        result.sequence,
        correlation_id,
    )
    result.previous = materialised_version(shown.version if shown else None)
    result.channel = standby.channel
    result.switched = result.changed = True
    result.pruned = await projector.prune(standby, result.sequence, correlation_id)
    return result
