"""One ref change together with its event: intent row, compare-and-swap, mark committed.

Every ref change the service makes goes through ``update_ref`` so none can be made without
its event reaching the outbox first (see ``outbox`` for why the order is intent -> swap ->
committed). If the swap fails with an error other than ``RefMoved`` the outcome is unknown
(an I/O error after the rename, say), so the ref is read back: at the new value the row
is committed, otherwise discarded, and the error goes on to the caller.
"""

from __future__ import annotations

import pygit2

from gitstore.domain.events import RefUpdateEvent
from gitstore.gitservice import cas
from gitstore.gitservice.outbox import Outbox


def update_ref(
    repo: pygit2.Repository,
    outbox: Outbox,
    event: RefUpdateEvent,
    *,
    expected: str | None,
    new: str | None,
    fsync: bool,
    stale_after: float,
) -> None:
    """Swap ``event.ref`` from ``expected`` to ``new``; raise ``cas.RefMoved`` if stale."""
    row = outbox.intent(event)
    try:
        cas.swap(repo, event.ref, expected, new, fsync=fsync, stale_after=stale_after)
    except cas.RefMoved:
        outbox.discard(row)
        raise
    except BaseException:
        landed = _landed(repo, event.ref, new)
        if landed is True:
            outbox.committed(row)
        elif landed is False:
            outbox.discard(row)
        raise
    outbox.committed(row)


def _landed(repo: pygit2.Repository, ref: str, new: str | None) -> bool | None:
    """Whether ``ref`` is at ``new`` now; None if even that cannot be read (the row stays
    an intent, and recovery decides after a restart)."""
    try:
        return cas.current(repo, ref) == new
    except Exception:  # noqa: BLE001 - the original error is the one to report
        return None
