"""Who may change a repository's catalogue.

A catalogue mutation needs a caller (anonymous is ``UNAUTHENTICATED``, HTTP 401 — checked by
the GraphQL layer with ``ctx.require_principal()``, which also refuses a personal access
token without the ``write`` scope with ``PERMISSION_DENIED``) who may write the repository's
namespace: ``can_write`` of the namespaces module's :class:`Standing` (the creator of a USER
namespace; a writer, maintainer or owner of an organisation; an admin). A caller who may not
even read a PRIVATE repository gets ``NOT_FOUND``, the answer for a repository that does not
exist, so names do not leak; one who may read but not write gets ``PERMISSION_DENIED``.
History (``resourceHistory``) shows unpublished commits, so it follows the DRAFT rule of
storefront reads (``access.readable_repository(draft=True)``).
"""

from __future__ import annotations

from gitstore.backends.metadata.base import MetadataStore, RepositoryRecord
from gitstore.domain.errors import PermissionDenied

from ...identity.principal import Principal
from ...namespaces.permissions import Standing, standing_of
from ..access import not_found, parse_repository


async def visible_standing(
    store: MetadataStore, principal: Principal, repository: str
) -> tuple[str, RepositoryRecord, Standing]:
    """``(the parsed name, the record, the caller's standing in its namespace)`` for a
    repository the caller may read; ``NOT_FOUND`` otherwise (also when it does not exist).
    The start of every check of a right beyond reading (here, ``releases.access``)."""
    repository = parse_repository(repository)
    namespace_id, _, name = repository.partition("/")
    record = await store.get_repository_by_name(namespace_id, name)
    if record is None:
        raise not_found(repository)
    namespace = await store.get_namespace(record.namespace_id)
    if namespace is None:
        raise not_found(repository)
    standing = await standing_of(store, principal, namespace)
    if not standing.can_read(record):
        raise not_found(repository)
    return repository, record, standing


async def writable_repository(
    store: MetadataStore, principal: Principal, repository: str
) -> RepositoryRecord:
    repository, record, standing = await visible_standing(store, principal, repository)
    if not standing.can_write():
        namespace = standing.namespace.identifier
        raise PermissionDenied(
            f"you may not change the catalogue of {repository} (needs write access to"
            f" namespace {namespace!r}: its creator for a USER namespace, a writer,"
            " maintainer or owner of an organisation, or an admin; a token needs the write"
            " scope)",
            field="repository",
        )
    return record


async def maintainable(
    store: MetadataStore, principal: Principal, repository: str, *, what: str
) -> RepositoryRecord:
    """The repository if the caller may ``what`` (maintainer, owner, creator, admin)."""
    repository, record, standing = await visible_standing(store, principal, repository)
    if not standing.can_administer():
        raise PermissionDenied(
            f"you may not {what} of {repository} (needs a maintainer or owner of namespace"
            f" {standing.namespace.identifier!r}, its creator for a USER namespace, or an admin; a"
            " token needs the write scope)",
            field="repository",
        )
    return record
