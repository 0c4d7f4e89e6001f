"""A release buffer filled by a KV copy of the draft instead of a projection from Git.

The first release of a large catalogue used to project every file into the empty release
buffer (``live-a``) right after ``draft`` had projected the very same commit: the whole
catalogue fetched, parsed and validated twice (the prepared-file cache holds 128 MiB, far
less than 100,000 prepared products). The draft readers see holds a complete commit —
usually the release's own, or one close to it — so the publisher's switch path first fills
its standby buffer from it with the draft's copy machinery (``draft_copy.prepare_standby``:
a per-row KV copy under a ``copying`` claim, every step fenced by the ``live`` alias and
compare-and-set on the claim's sequence, handed over as an ordinary claim whose base is the
draft commit copied), and the projector then writes only ``draft commit -> release commit``
and moves the head. The same rules decide as for the draft: copy when the standby holds
nothing or is far behind, catch up otherwise.

Why the release guarantees hold: copy steps never write the buffer ``live`` points at
(the fence), the standby's head version stays hidden (``NO_VERSION``) until the projector's
last batch, so the guarded switch (``expected_target_version``) can never expose a partial
copy; the copy's sequences are in the publication's range (``floor``), a standby at or above
its ``ceiling`` belongs to a newer publication (``Overtaken``: superseded, nothing written),
and a draft buffer that is being rewritten under a claim while it is copied has a hidden
version, which stops the copy (a lost race: the attempt starts over). A ``REPLAY`` is a full
re-projection from Git by definition and never copies.

**Waiting for the draft of the same commit.** A push and a release of the same commit arrive
together (``createRelease`` on the head, ``bench_git``'s setup), and the consumer handles a
publication beside the repository's ref updates (its own lock, ``PublishEvent.lock_key``), so
the release usually starts while the draft projection of its commit is still writing: the
draft readers see is empty or one commit behind, and copying it would leave the whole
catalogue (or the commit's changes) to project from Git a second time, beside the draft. So
when the draft readers see does not hold the release's commit and a draft projection that
will produce that commit is running — a **live claim** in the draft's standby buffer (where
every multi-batch draft projection writes; any worker process), or a draft projection of the
repository running **in this process** (``Projector.drafting``: noted by ``project_draft``
before its first await, so a release handled right after the ref update of the same fetch
sees it even before the draft has planned and claimed, which takes seconds at 100,000
files) — the release first waits for the draft (:func:`wait_for_draft`), polling the draft
view every ``poll_interval``, and then copies as below. A projection "will produce" the
commit when the commit is among its claim's ``targets`` or is its target, or when the commit
is the branch head (read once): the draft projects the branch head and its rounds go on until
readers see it, so a claim in its copy or hand-over phase, or towards an older head, still
ends in a draft of the commit. (Another process's projection that has not claimed yet is not
seen: that release projects from Git as before.) The wait never writes and holds nothing the
draft needs: it is an
``await`` between KV reads (the draft's own event, in the same process, goes on meanwhile;
its shared chunks run on the chunk consumer's slots, never the event consumer's), and it ends,
whatever happens to the draft:

* ``ready``: the draft readers see holds the commit: copied, only the claim's last batch and
  the alias switch are waited for (the claim's disappearance with the standby already at the
  commit keeps the wait going until the switch, for at most ``claim_stale_seconds``);
* ``gone``: the claim ended without a draft of the commit, or no longer leads to one;
* ``owner``: another worker took the claim over (its projection starts over: not waited for);
* ``stale``: the claim's heartbeat did not move for ``claim_stale_seconds`` (by our clock,
  or by the claim's own timestamp): a dead or stuck coordinator is not waited for (a draft
  of this process without a claim is alive by definition: only the cap bounds it);
* ``cap``: ``wait_cap`` seconds in all (``GITSTORE_WORKER__RELEASE_DRAFT_WAIT_SECONDS``).

Whatever the outcome, the release then goes on as without the wait: it copies the draft
readers see when that is complete (from another commit too: the projector catches up the
difference), else projects from Git. Each wait is logged with its seconds and outcome and
observed in ``gitstore_worker_release_draft_wait_seconds{outcome}``.
"""

from __future__ import annotations

import asyncio
import logging
import time

from gitstore.domain.errors import GitStoreError
from gitstore.domain.keys import LIVE, ChannelScope
from gitstore.domain.projection import (
    DRAFT_VIEW,
    draft_view,
    materialised_version,
    standby_draft,
)
from gitstore.worker.claims import Claim, read_claim
from gitstore.worker.draft_copy import prepare_standby
from gitstore.worker.projector import Projector

log = logging.getLogger(__name__)

WAIT_CAP_SECONDS = 300.0  # the longest a release waits for the draft of its commit


async def copy_from_draft(
    projector: Projector,
    standby: ChannelScope,
    floor: int,
    ceiling: int,
    commit: str,
    correlation_id: str = "",
    *,
    wait_cap: float = WAIT_CAP_SECONDS,
) -> int:
    """Fill the release ``standby`` from the draft readers see when that is cheaper than
    projecting, after waiting for a live draft projection of ``commit`` (module doc); the
    documents copied (0: none, the projector does it all)."""
    kv, repository = projector.kv, standby.repository
    await wait_for_draft(projector, repository, commit, cap=wait_cap, correlation_id=correlation_id)
    visible = draft_view(await kv.resolve(repository, DRAFT_VIEW))
    shown = await kv.head(visible)
    if materialised_version(shown.version if shown else None) is None:
        return 0  # no complete draft yet
    return await prepare_standby(
        projector,
        visible,
        standby,
        shown,
        floor,
        commit,
        correlation_id,
        fence=LIVE,
        ceiling=ceiling,
    )


async def wait_for_draft(
    projector: Projector,
    repository: str,
    commit: str,
    *,
    cap: float = WAIT_CAP_SECONDS,
    correlation_id: str = "",
) -> tuple[str, float] | None:
    """Wait while a draft projection that will produce ``commit`` runs (a live claim, or one
    running in this process) and readers do not see the commit yet (module doc); the outcome
    and the seconds waited, None when there was nothing to wait for."""
    kv, stale_after = projector.kv, projector.claim_stale_seconds
    started = time.monotonic()
    waited = False
    followed: Claim | None = None  # the claim last seen, and when it last moved
    moved = started
    branch: list[str] = []  # the branch head, read once when it is needed
    outcome = ""
    while not outcome:
        visible = draft_view(await kv.resolve(repository, DRAFT_VIEW))
        shown = await kv.head(visible)
        if materialised_version(shown.version if shown else None) == commit:
            outcome = "ready"
            break
        standby = standby_draft(visible)
        claim = await read_claim(kv, standby)
        here = projector.drafting.get(repository)  # a draft projection of this process
        now = time.monotonic()
        if claim is not None:
            if followed is not None and claim.owner != followed.owner:
                outcome = "owner"
            elif not await _leads_to(projector, repository, claim.targets, commit, branch):
                outcome = "gone"
            else:
                if followed is None or (claim.sequence, claim.heartbeat) != (
                    followed.sequence,
                    followed.heartbeat,
                ):
                    followed, moved = claim, now
                if now - moved >= stale_after or projector.clock() - claim.heartbeat >= stale_after:
                    outcome = "stale"
        elif here in ("", commit):  # resolving its target, or projecting the commit
            moved = now  # planning, between rounds or switching: alive, it is this process
        else:
            held = await kv.head(standby)
            finishing = materialised_version(held.version if held else None) == commit
            if not waited or not finishing or now - moved >= stale_after:
                outcome = "gone"  # nothing to wait for, or the switch never came
        waited = waited or not outcome
        if not outcome and now - started >= cap:
            outcome = "cap"
        if not outcome:
            await asyncio.sleep(projector.poll_interval)
    if not waited and outcome != "stale":
        return None  # no draft projection of the commit was met: nothing waited for
    seconds = time.monotonic() - started
    projector.metrics.release_draft_wait_seconds.labels(outcome).observe(seconds)
    log.info(
        "release of %s %s waited %.3fs for the draft projection of it (by %s): %s "
        "[correlation_id=%s]",
        repository,
        commit[:12],
        seconds,
        followed.owner if followed is not None else projector.owner,
        {
            "ready": "the draft holds it, copying",
            "gone": "it ended without it, going on without it",
            "owner": "its claim was taken over, going on without it",
            "stale": "its claim's heartbeat stopped, going on without it",
            "cap": f"waited the most allowed ({cap:.0f}s), going on without it",
        }[outcome],
        correlation_id,
    )
    return outcome, seconds


async def _leads_to(
    projector: Projector,
    repository: str,
    targets: tuple[str, ...],
    commit: str,
    branch: list[str],
) -> bool:
    """Will a draft projection towards ``targets`` end in a draft of ``commit``? Yes when
    ``commit`` is one of them or the branch head (module doc)."""
    if commit in targets:
        return True
    if not branch:
        try:
            head = await projector.git.resolve_revision(repository, "HEAD")
        except GitStoreError:  # no branch head to compare with: not worth failing over
            branch.append("")
        else:
            branch.append(head.commit_sha)
    return branch[0] == commit
