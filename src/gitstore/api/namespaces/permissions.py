"""Who may do what in a namespace: one place, reused by every entry point.

GraphQL mutations, and later git push/fetch and catalogue mutations, ask the same questions,
so the rules live here as pure functions of a :class:`Standing` (what the caller is to one
namespace: admin?, its creator?, which member role?) plus small async helpers that look the
standing up in the metadata store. Nothing here raises; callers turn ``False`` into the
error that fits (``PermissionDenied``, or ``NotFound`` to hide a private repository).

=====================  ============================  ======================================
question               USER namespace                ORGANISATION / ENTERPRISE namespace
=====================  ============================  ======================================
read private repos     creator                       member, any role (reader+)
write repos (create,   creator                       writer, maintainer, owner
push, commit)
administer repos       creator                       maintainer, owner
(update, delete)
update namespace       creator                       creator, maintainer, owner
delete namespace       creator                       creator
manage members         (no members)                  maintainer, owner (only owners may
                                                     grant or take away OWNER)
attach an org to it    -                             ENTERPRISE: writer, maintainer, owner
=====================  ============================  ======================================

An admin (``isAdmin``) may do all of it. Public repositories are readable by anyone,
anonymous callers included. A personal access token only counts for what its scopes allow:
reading needs ``read``, anything else ``write`` (so a read-only token can never push).
Ownership is checked at request time from the store (``createdBy == caller``), never from
claims inside a token.
"""

from __future__ import annotations

from dataclasses import dataclass

from gitstore.backends.metadata.base import (
    MetadataStore,
    Namespace,
    RepositoryRecord,
    Role,
    Tier,
    Visibility,
)

from ..identity.principal import Principal

ROLE_RANK: dict[Role, int] = {Role.READER: 1, Role.WRITER: 2, Role.MAINTAINER: 3, Role.OWNER: 4}


def role_at_least(role: Role | None, minimum: Role) -> bool:
    return role is not None and ROLE_RANK[role] >= ROLE_RANK[minimum]


@dataclass(frozen=True, slots=True)
class Standing:
    """What one caller is to one namespace."""

    namespace: Namespace
    principal: Principal | None
    role: Role | None = None

    @property
    def is_admin(self) -> bool:
        return self.principal is not None and self.principal.is_admin

    @property
    def is_creator(self) -> bool:
        return self.principal is not None and self.principal.username == self.namespace.created_by

    def _scoped(self, scope: str) -> bool:
        return self.principal is not None and self.principal.allows(scope)

    def _member_or_creator(self, minimum: Role) -> bool:
        if self.is_admin:
            return True
        if self.namespace.tier is Tier.USER:
            return self.is_creator
        return role_at_least(self.role, minimum)

    # ------------------------------------------------------------------ repositories
    def can_read_private(self) -> bool:
        return self._scoped("read") and self._member_or_creator(Role.READER)

    def can_read(self, repository: RepositoryRecord) -> bool:
        return repository.visibility is Visibility.PUBLIC or self.can_read_private()

    def can_write(self) -> bool:
        return self._scoped("write") and self._member_or_creator(Role.WRITER)

    def can_administer(self) -> bool:
        return self._scoped("write") and self._member_or_creator(Role.MAINTAINER)

    def can_write_status(self) -> bool:
        """Status subresources (docs/resources.md): a maintainer (or owner, creator, admin)
        with write access, or a writer's access token with the ``status`` scope (a
        controller token)."""
        return self.can_administer() or (
            self._scoped("status") and self._member_or_creator(Role.WRITER)
        )

    # ------------------------------------------------------------------ the namespace
    def can_update_namespace(self) -> bool:
        return self._scoped("write") and (
            self.is_creator or self._member_or_creator(Role.MAINTAINER)
        )

    def can_delete_namespace(self) -> bool:
        return self._scoped("write") and (self.is_admin or self.is_creator)

    def can_manage_members(self) -> bool:
        return (
            self._scoped("write")
            and self.namespace.tier is not Tier.USER
            and self._member_or_creator(Role.MAINTAINER)
        )

    def can_manage_owners(self) -> bool:
        return self.can_manage_members() and (self.is_admin or self.role is Role.OWNER)

    def can_attach_organisation(self) -> bool:
        return (
            self._scoped("write")
            and self.namespace.tier is Tier.ENTERPRISE
            and self._member_or_creator(Role.WRITER)
        )


async def standing_of(
    store: MetadataStore, principal: Principal | None, namespace: Namespace
) -> Standing:
    """The caller's standing, reading the membership when it can matter."""
    if principal is None or namespace.tier is Tier.USER:
        return Standing(namespace, principal)
    membership = await store.get_membership(namespace.id, principal.username)
    return Standing(namespace, principal, membership.role if membership else None)


async def can_write_repository(
    store: MetadataStore, principal: Principal | None, namespace: Namespace
) -> bool:
    """May ``principal`` change repositories of ``namespace`` (create, push, commit)?"""
    return (await standing_of(store, principal, namespace)).can_write()


async def can_read_repository(
    store: MetadataStore,
    principal: Principal | None,
    namespace: Namespace,
    repository: RepositoryRecord | None = None,
) -> bool:
    """May ``principal`` read ``repository`` (or, without one, private repositories of
    ``namespace``)? Public repositories are readable by anyone."""
    if repository is not None and repository.visibility is Visibility.PUBLIC:
        return True
    return (await standing_of(store, principal, namespace)).can_read_private()
