"""Who may read resources and write their status (the decision, in one place).

=====================================  ================================================
operation                              needs
=====================================  ================================================
``resource``, ``resources``            read access to the repository's DRAFT channel:
                                       the store holds the default branch's spec, which
                                       may be unpublished (the namespace's people; a
                                       token needs ``read``)
``update<Kind>Status``,                a maintainer or owner (the creator of a USER
``updateResourceStatus``               namespace; an admin) with ``write``, or a
                                       *controller token*: a personal access token with
                                       the ``status`` scope of a writer of the namespace
=====================================  ================================================

Status is owned by controllers: a writer's login may change spec (through Git) but not
status, so a status can only come from a controller's own token or from a maintainer who
repairs one. A ``status``-scoped token (e.g. scopes ``read`` + ``status``) can do nothing
else: every other mutation needs ``write``. A caller who may not read a PRIVATE repository
gets ``NOT_FOUND`` (names do not leak); one who may read but not write status gets
``PERMISSION_DENIED`` naming what is needed.
"""

from __future__ import annotations

import time
from collections import OrderedDict

from gitstore.backends.metadata.base import MetadataStore, RepositoryRecord, rights_epoch
from gitstore.domain.errors import PermissionDenied, Unauthenticated

from ..catalog.access import readable_repository
from ..catalog.writes.access import visible_standing
from ..context import AUTH_REQUIRED
from ..identity.principal import Principal


async def readable(
    store: MetadataStore, principal: Principal | None, repository: str
) -> RepositoryRecord:
    """The repository if the caller may read its resources."""
    return await readable_repository(store, principal, repository, draft=True)


class StatusRights:
    """Granted status rights of the last ``size`` (principal, repository) pairs, each kept for
    ``seconds`` and while the rights epoch is the one it was granted at."""

    def __init__(self, seconds: float, size: int = 10_000) -> None:
        self.seconds = seconds
        self.size = size
        self._granted: OrderedDict[tuple[Principal, str], tuple[float, int, RepositoryRecord]]
        self._granted = OrderedDict()

    def __len__(self) -> int:
        return len(self._granted)

    def get(self, principal: Principal, repository: str) -> RepositoryRecord | None:
        entry = self._granted.get((principal, repository))
        if entry is None:
            return None
        until, epoch, record = entry
        if until <= time.monotonic() or epoch != rights_epoch():
            del self._granted[(principal, repository)]
            return None
        return record

    def put(
        self, principal: Principal, repository: str, epoch: int, record: RepositoryRecord
    ) -> None:
        if self.seconds <= 0 or epoch != rights_epoch():
            return
        self._granted[(principal, repository)] = (time.monotonic() + self.seconds, epoch, record)
        self._granted.move_to_end((principal, repository))
        while len(self._granted) > self.size:
            self._granted.popitem(last=False)


async def status_writable(
    store: MetadataStore,
    principal: Principal | None,
    repository: str,
    rights: StatusRights | None = None,
) -> RepositoryRecord:
    """The repository if the caller may write status of its resources."""
    if principal is None:
        raise Unauthenticated(AUTH_REQUIRED)
    if not (principal.allows("write") or principal.allows("status")):
        raise PermissionDenied("this access token lacks the 'status' (or 'write') scope")
    if rights is not None:
        known = rights.get(principal, repository)
        if known is not None:
            return known
    epoch = rights_epoch()  # before reading: a change meanwhile makes the entry stale at once
    name, record, standing = await visible_standing(store, principal, repository)
    if not standing.can_write_status():
        raise PermissionDenied(
            f"you may not write status of {name} (needs a maintainer or owner of "
            f"namespace {standing.namespace.identifier!r}, or a writer's access token with the"
            " status scope: a controller token)",
            field="repository",
        )
    if rights is not None:
        rights.put(principal, repository, epoch, record)
    return record
