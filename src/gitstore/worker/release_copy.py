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
"""

from __future__ import annotations

from gitstore.domain.keys import LIVE, ChannelScope
from gitstore.domain.projection import DRAFT_VIEW, draft_view, materialised_version
from gitstore.worker.draft_copy import prepare_standby
from gitstore.worker.projector import Projector


async def copy_from_draft(
    projector: Projector,
    standby: ChannelScope,
    floor: int,
    ceiling: int,
    commit: str,
    correlation_id: str = "",
) -> int:
    """Fill the release ``standby`` from the draft readers see when that is cheaper than
    projecting (module doc); the documents copied (0: none, the projector does it all)."""
    kv, repository = projector.kv, standby.repository
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
