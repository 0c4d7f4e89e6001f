"""Who may do what with releases and webhooks (the decision, in one place).

=============================================  ==========================================
operation                                      needs
=============================================  ==========================================
``releases``, ``publications``, ``liveRelease``  read access (anyone for a PUBLIC repository;
                                               the namespace's people for a PRIVATE one)
``createRelease``                              write access (writer, maintainer, owner; the
                                               creator of a USER namespace) — the same right
                                               as ``git push`` of a release tag, which it is
``publishRelease``, ``replayRelease``          maintainer or owner (the creator of a USER
                                               namespace; an admin): rolling ``live`` back
                                               or forward is an operational control that a
                                               push cannot do, like ``updateRepository``
``registerWebhook``, ``deleteWebhook``,        maintainer or owner, as above: webhooks send
``webhooks`` (+ deliveries)                    signed data to outside URLs and their
                                               payloads and errors are operator material
=============================================  ==========================================

A caller who may not read a PRIVATE repository gets ``NOT_FOUND`` (names do not leak); one
who may read but lacks the right gets ``PERMISSION_DENIED`` naming what is needed. Tokens
count only for their scopes (the GraphQL context checks ``write`` for mutations). The
maintainer rule is ``catalog.writes.access.maintainable``, shared with the layout migration.
"""

from __future__ import annotations

from gitstore.backends.metadata.base import MetadataStore, RepositoryRecord

from ..catalog.access import readable_repository
from ..catalog.writes.access import writable_repository
from ..identity.principal import Principal


async def readable(
    store: MetadataStore, principal: Principal | None, repository: str
) -> RepositoryRecord:
    """The repository if the caller may read its releases."""
    return await readable_repository(store, principal, repository)


async def writable(store: MetadataStore, principal: Principal, repository: str) -> RepositoryRecord:
    """The repository if the caller may create release tags in it (write access)."""
    return await writable_repository(store, principal, repository)
