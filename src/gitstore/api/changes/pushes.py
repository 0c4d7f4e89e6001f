"""What a push means for change requests (called from the post-receive hook).

* Every branch update moves the open change requests from that branch to its new head
  (``actions.source_moved``: the ``updated`` event).
* ``git push -o change-request`` (GitLab's ``merge_request.create``) on a branch other than
  the default branch opens a change request from it into the default branch, or finds the
  open one; ``-o change-request.title=<title>`` sets (or changes) its title, and implies
  ``change-request``. The push is never refused for them: the refs moved already; a problem
  is one ``remote:`` line.

Each answer is a ``remote:`` line, e.g. ``change request !3 opened: <title>
(id Z2lkOi8v...)``.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from gitstore.backends.metadata.base import RepositoryRecord
from gitstore.domain.errors import GitStoreError
from gitstore.domain.publishing import is_zero

from ..graphql.relay import encode_global_id
from .actions import HEADS, open_from_push, source_moved

if TYPE_CHECKING:
    from ..services import ApiServices

log = logging.getLogger("gitstore.api.changes")

OPTION = "change-request"
TITLE_OPTION = "change-request.title="


@dataclass(frozen=True, slots=True)
class Wanted:
    requested: bool
    title: str


def wanted(options: Sequence[str]) -> Wanted:
    requested, title = False, ""
    for option in options:
        if option == OPTION:
            requested = True
        elif option.startswith(TITLE_OPTION):
            requested, title = True, option[len(TITLE_OPTION) :].strip()
    return Wanted(requested, title)


async def after_push(
    services: ApiServices,
    record: RepositoryRecord,
    username: str,
    updates: Sequence[tuple[str, str, str]],
    options: Sequence[str],
) -> list[str]:
    want = wanted(options)
    lines: list[str] = []
    for ref, _old, new in updates:
        if not ref.startswith(HEADS) or is_zero(new):
            continue
        branch = ref[len(HEADS) :]
        try:
            for cr in await source_moved(services, record, branch, username):
                lines.append(f"change request !{cr.number} updated to {new[:12]}")
            if not want.requested:
                continue
            if branch == record.default_branch:
                lines.append(f"change-request: {branch} is the default branch; push another branch")
                continue
            cr, new_one = await open_from_push(services, record, branch, username, want.title)
            gid = encode_global_id("ChangeRequest", cr.id)
            verb = "opened" if new_one else "is open"
            lines.append(f"change request !{cr.number} {verb}: {cr.title} (id {gid})")
        except GitStoreError as exc:
            log.warning("change requests after a push to %s: %s", ref, exc.message)
            lines.append(f"change-request: {exc.message}")
    return lines
