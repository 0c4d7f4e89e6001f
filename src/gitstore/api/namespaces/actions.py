"""Namespace use cases: create, look up, list, update, delete. No GraphQL here.

Rules (the architecture document's "Namespace Lifecycle Management"):

* tiers USER and ORGANISATION may be created by any authenticated caller, ENTERPRISE only by
  an admin; identifiers are DNS labels, unique across all tiers (the store enforces the
  uniqueness in its transaction, so two racing creators get one winner);
* an ORGANISATION may name a parent enterprise, by identifier (``acme-group``) or by global
  ID (``Z2lk...``): the two cannot be confused, a global ID is never a DNS label. The parent
  must exist, be an ENTERPRISE, and the caller must be allowed to attach organisations to it
  (admin or writer+ member of the enterprise, see ``permissions``);
* the creator of an ORGANISATION or ENTERPRISE becomes its OWNER member (if recording that
  fails, the namespace is removed again, so there is never an organisation without owner);
* only the creator or an admin may delete; the store refuses to delete a namespace that
  still holds repositories (or parents organisations), in the same transaction as the
  delete, and says how many;
* lookups by identifier validate it (a bad one is an error naming the problem), lookups by
  id of something that is not a UUID find nothing.

Every successful change is appended to the audit log (``namespace.create`` ...).
"""

from __future__ import annotations

import logging
import uuid

from gitstore.backends.metadata.base import (
    MetadataStore,
    Namespace,
    NamespacePatch,
    Page,
    Role,
    Tier,
)
from gitstore.domain.errors import (
    GitStoreError,
    InvalidArgument,
    NotFound,
    PermissionDenied,
    Unauthenticated,
)
from gitstore.domain.identity import dns_label_problem, validate_dns_label

from ..graphql.relay import decode_global_id
from ..identity.principal import Principal
from .permissions import standing_of

log = logging.getLogger("gitstore.api.namespaces")

MAX_DISPLAY_NAME = 200


def require_caller(actor: Principal | None, what: str) -> Principal:
    if actor is None:
        raise Unauthenticated(f"authentication required to {what}: send Authorization: Bearer")
    return actor


def clean_display_name(value: str | None, default: str, field: str = "display_name") -> str:
    """A display name: trimmed, 1..200 printable characters; None means ``default``."""
    if value is None:
        return default
    text = value.strip()
    if not text:
        raise InvalidArgument("displayName must not be empty", field=field)
    if len(text) > MAX_DISPLAY_NAME:
        raise InvalidArgument(
            f"displayName must be at most {MAX_DISPLAY_NAME} characters (got {len(text)})",
            field=field,
        )
    if any(not ch.isprintable() for ch in text):
        raise InvalidArgument("displayName must not contain control characters", field=field)
    return text


def is_uuid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except (ValueError, TypeError, AttributeError):
        return False
    return True


class NamespaceActions:
    def __init__(self, store: MetadataStore) -> None:
        self.store = store

    # ------------------------------------------------------------------ reads
    async def get_by_identifier(
        self, identifier: str, *, field: str = "identifier"
    ) -> Namespace | None:
        validate_dns_label(identifier, field)
        return await self.store.get_namespace_by_identifier(identifier)

    async def get_by_id(self, namespace_id: str) -> Namespace | None:
        if not is_uuid(namespace_id):
            return None
        return await self.store.get_namespace(namespace_id)

    async def require(self, identifier: str, *, field: str = "identifier") -> Namespace:
        namespace = await self.get_by_identifier(identifier, field=field)
        if namespace is None:
            raise NotFound(f"namespace {identifier!r} does not exist", field=field)
        return namespace

    async def resolve_reference(self, reference: str, *, field: str) -> Namespace | None:
        """A namespace named by identifier or by global ID (see the module docstring)."""
        if dns_label_problem(reference) is None:
            return await self.store.get_namespace_by_identifier(reference)
        gid = decode_global_id(reference, "Namespace", field=field)
        return await self.get_by_id(gid.id)

    async def list(self, *, first: int, after: str | None) -> Page[Namespace]:
        return await self.store.list_namespaces(first=first, after=after)

    # ------------------------------------------------------------------ create
    async def create(
        self,
        actor: Principal | None,
        identifier: str,
        tier: Tier,
        *,
        display_name: str | None = None,
        parent_enterprise: str | None = None,
    ) -> Namespace:
        actor = require_caller(actor, "create namespaces")
        validate_dns_label(identifier, "identifier")
        tier = Tier(tier)
        if not actor.allows("write"):
            raise PermissionDenied("this access token lacks the 'write' scope")
        if tier is Tier.ENTERPRISE and not actor.is_admin:
            raise PermissionDenied("only an admin may create ENTERPRISE namespaces", field="tier")
        display = clean_display_name(display_name, identifier)
        parent_id = None
        if parent_enterprise is not None:
            parent_id = await self._parent_for(actor, tier, parent_enterprise)
        namespace = await self.store.create_namespace(
            identifier,
            tier,
            display_name=display,
            parent_enterprise_id=parent_id,
            created_by=actor.username,
        )
        if tier is not Tier.USER:
            await self._make_owner(namespace, actor.username)
        await self.store.append_audit(
            actor.username,
            "namespace.create",
            identifier,
            {"tier": tier.value, "parentEnterpriseId": parent_id, "displayName": display},
        )
        return namespace

    async def _parent_for(self, actor: Principal, tier: Tier, reference: str) -> str:
        field = "parent_enterprise_id"
        if tier is not Tier.ORGANISATION:
            raise InvalidArgument(
                f"only an ORGANISATION namespace may have a parent enterprise (tier is {tier})",
                field=field,
            )
        parent = await self.resolve_reference(reference, field=field)
        if parent is None:
            raise NotFound(f"parent enterprise {reference!r} does not exist", field=field)
        if parent.tier is not Tier.ENTERPRISE:
            raise InvalidArgument(
                f"parent {parent.identifier!r} is a {parent.tier} namespace, not an ENTERPRISE",
                field=field,
            )
        if not (await standing_of(self.store, actor, parent)).can_attach_organisation():
            raise PermissionDenied(
                f"you may not attach organisations to enterprise {parent.identifier!r}"
                " (needs an admin or a writer, maintainer or owner of the enterprise)",
                field=field,
            )
        return parent.id

    async def _make_owner(self, namespace: Namespace, username: str) -> None:
        try:
            await self.store.set_membership(namespace.id, username, Role.OWNER)
        except BaseException:
            try:
                await self.store.delete_namespace(namespace.id)
            except GitStoreError:
                log.exception(
                    "namespace %s has no owner: recording the owner failed and so did the"
                    " clean-up; delete it by hand",
                    namespace.identifier,
                )
            raise

    # ------------------------------------------------------------------ update, delete
    async def update(
        self, actor: Principal | None, identifier: str, *, display_name: str | None
    ) -> Namespace:
        actor = require_caller(actor, "update namespaces")
        namespace = await self.require(identifier)
        if not (await standing_of(self.store, actor, namespace)).can_update_namespace():
            raise PermissionDenied(
                f"you may not update namespace {identifier!r} (needs its creator, an owner or"
                " maintainer, or an admin)",
                field="identifier",
            )
        patch = NamespacePatch(
            display_name=clean_display_name(display_name, namespace.display_name)
        )
        updated = await self.store.update_namespace(namespace.id, patch, updated_by=actor.username)
        await self.store.append_audit(
            actor.username, "namespace.update", identifier, {"displayName": updated.display_name}
        )
        return updated

    async def delete(self, actor: Principal | None, identifier: str) -> str:
        """Delete; returns the identifier. The store enforces the repository guard."""
        actor = require_caller(actor, "delete namespaces")
        namespace = await self.require(identifier)
        if not (await standing_of(self.store, actor, namespace)).can_delete_namespace():
            raise PermissionDenied(
                f"only the creator of namespace {identifier!r} or an admin may delete it",
                field="identifier",
            )
        await self.store.delete_namespace(namespace.id)
        await self.store.append_audit(
            actor.username, "namespace.delete", identifier, {"tier": namespace.tier.value}
        )
        return identifier
