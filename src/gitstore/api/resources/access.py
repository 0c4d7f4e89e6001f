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

from gitstore.backends.metadata.base import MetadataStore, RepositoryRecord
from gitstore.domain.errors import PermissionDenied, Unauthenticated

from ..catalog.access import readable_repository
from ..catalog.writes_access import visible_standing
from ..context import AUTH_REQUIRED
from ..identity.principal import Principal


async def readable(
    store: MetadataStore, principal: Principal | None, repository: str
) -> RepositoryRecord:
    """The repository if the caller may read its resources."""
    return await readable_repository(store, principal, repository, draft=True)


async def status_writable(
    store: MetadataStore, principal: Principal | None, repository: str
) -> RepositoryRecord:
    """The repository if the caller may write status of its resources."""
    if principal is None:
        raise Unauthenticated(AUTH_REQUIRED)
    if not (principal.allows("write") or principal.allows("status")):
        raise PermissionDenied("this access token lacks the 'status' (or 'write') scope")
    repository, record, standing = await visible_standing(store, principal, repository)
    if not standing.can_write_status():
        raise PermissionDenied(
            f"you may not write status of {repository} (needs a maintainer or owner of "
            f"namespace {standing.namespace.identifier!r}, or a writer's access token with the"
            " status scope: a controller token)",
            field="repository",
        )
    return record
