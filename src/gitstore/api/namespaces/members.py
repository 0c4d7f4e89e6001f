"""Membership use cases: add (or change the role of), remove and list namespace members.

Only ORGANISATION and ENTERPRISE namespaces have members; a USER namespace belongs to its
creator alone (``FAILED_PRECONDITION``). Roles, strongest first: OWNER, MAINTAINER, WRITER,
READER (what each allows: ``permissions``).

* Owners and maintainers (and admins) manage members; granting OWNER, or changing or
  removing an owner, needs an owner (or an admin).
* Anyone may remove themselves (leave), subject to the next rule.
* A namespace never loses its last owner: removing or demoting the only OWNER is refused.
  This is a check-then-write outside the store's transaction; two owners demoting each other
  at the same instant could both succeed (rare, and an admin can repair it).
* Members are listed to authenticated callers only.

Every change is appended to the audit log (``namespace.member.set`` / ``.remove``).
"""

from __future__ import annotations

from gitstore.backends.metadata.base import Membership, MetadataStore, Namespace, Role, Tier
from gitstore.domain.errors import FailedPrecondition, InvalidArgument, NotFound, PermissionDenied

from ..identity.principal import Principal
from .actions import NamespaceActions, require_caller
from .permissions import Standing, standing_of


class MemberActions:
    def __init__(self, store: MetadataStore) -> None:
        self.store = store
        self.namespaces = NamespaceActions(store)

    async def list(self, actor: Principal | None, namespace: Namespace) -> list[Membership]:
        require_caller(actor, "list namespace members")
        members = await self.store.list_memberships(namespace.id)
        return sorted(members, key=lambda m: (m.created_at, m.username))

    async def set(
        self, actor: Principal | None, identifier: str, username: str, role: Role
    ) -> Membership:
        actor = require_caller(actor, "manage namespace members")
        namespace, standing = await self._managed(actor, identifier)
        username = _username(username)
        role = Role(role)
        current = await self.store.get_membership(namespace.id, username)
        touches_owner = role is Role.OWNER or (current is not None and current.role is Role.OWNER)
        if touches_owner and not standing.can_manage_owners():
            raise PermissionDenied(
                f"only an owner of {identifier!r} or an admin may grant or change the OWNER role",
                field="role",
            )
        if current is not None and current.role is Role.OWNER and role is not Role.OWNER:
            await self._keep_an_owner(namespace, username)
        membership = await self.store.set_membership(namespace.id, username, role)
        await self.store.append_audit(
            actor.username,
            "namespace.member.set",
            f"{identifier}/{username}",
            {"role": role.value, "previous": current.role.value if current else None},
        )
        return membership

    async def remove(self, actor: Principal | None, identifier: str, username: str) -> Membership:
        actor = require_caller(actor, "manage namespace members")
        username = _username(username)
        namespace = await self.namespaces.require(identifier, field="namespace")
        _has_members(namespace)
        standing = await standing_of(self.store, actor, namespace)
        current = await self.store.get_membership(namespace.id, username)
        leaving = actor.username == username and actor.allows("write")
        if not (leaving or standing.can_manage_members()):
            raise PermissionDenied(_manage_denied(identifier), field="namespace")
        if current is None:
            raise NotFound(f"{username!r} is not a member of {identifier!r}", field="username")
        if current.role is Role.OWNER:
            if not (leaving or standing.can_manage_owners()):
                raise PermissionDenied(
                    f"only an owner of {identifier!r} or an admin may remove an owner",
                    field="username",
                )
            await self._keep_an_owner(namespace, username)
        await self.store.remove_membership(namespace.id, username)
        await self.store.append_audit(
            actor.username,
            "namespace.member.remove",
            f"{identifier}/{username}",
            {"role": current.role.value},
        )
        return current

    async def _managed(self, actor: Principal, identifier: str) -> tuple[Namespace, Standing]:
        namespace = await self.namespaces.require(identifier, field="namespace")
        _has_members(namespace)
        standing = await standing_of(self.store, actor, namespace)
        if not standing.can_manage_members():
            raise PermissionDenied(_manage_denied(identifier), field="namespace")
        return namespace, standing

    async def _keep_an_owner(self, namespace: Namespace, leaving: str) -> None:
        members = await self.store.list_memberships(namespace.id)
        if not any(m.role is Role.OWNER and m.username != leaving for m in members):
            raise FailedPrecondition(
                f"{leaving!r} is the last owner of {namespace.identifier!r}; make another"
                " member OWNER first",
                field="username",
            )


def _has_members(namespace: Namespace) -> None:
    if namespace.tier is Tier.USER:
        raise FailedPrecondition(
            f"namespace {namespace.identifier!r} is a USER namespace, which has no members;"
            " only ORGANISATION and ENTERPRISE namespaces do",
            field="namespace",
        )


def _username(username: str) -> str:
    if not isinstance(username, str) or not username.strip():
        raise InvalidArgument("username must not be empty", field="username")
    return username.strip()


def _manage_denied(identifier: str) -> str:
    return (
        f"you may not manage the members of {identifier!r} (needs an owner or maintainer,"
        " or an admin)"
    )
