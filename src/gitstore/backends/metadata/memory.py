"""``MemoryMetadataStore``: the reference implementation of the metadata contract, in dicts.

It is the unit-test double for the API and the executable statement of the contract: the
SQL stores must behave exactly like it, and one contract suite (tests/test_metadata_contract.py)
runs against all of them. Nothing here awaits between reading and writing, so every method is
atomic under asyncio without locks (it is not meant for use from several threads).

It copies what it stores the way a database would (records are frozen dataclasses; JSON
values are deep-copied on the way in and out), enforces the same constraints (unique
usernames, token hashes, namespace identifiers and ``(namespace, repository name)``; the
namespace delete guard; the parent-enterprise rule; existing users for tokens and
memberships) and raises the same error types with the same messages. Nothing survives the
process.

The git-ingress part of the contract (SSH keys, releases, publications, webhooks, deliveries)
is the mixin ``_memory_git.MemoryGitStore``; deleting a repository drops its records there too.
"""

from __future__ import annotations

import copy
import dataclasses
import uuid
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any, TypeVar

from gitstore.domain.errors import AlreadyExists, FailedPrecondition, NotFound

from . import _common as c
from ._memory_changes import MemoryChangeRequests
from ._memory_git import MemoryGitStore
from ._memory_leases import MemoryLeases
from .base import (
    DEFAULT_IDEMPOTENCY_LEASE_SECONDS,
    AccessToken,
    AuditEntry,
    IdempotencyRecord,
    Membership,
    MetadataStore,
    Namespace,
    NamespacePatch,
    Page,
    PublishMode,
    RepositoryPatch,
    RepositoryRecord,
    Role,
    Tier,
    User,
    Visibility,
)
from .migrations import latest_version

R = TypeVar("R")


def _page_by_created(
    rows: Iterable[R], key: Callable[[R], tuple[datetime, str]], first: int, after: str | None
) -> Page[R]:
    ordered = sorted(rows, key=key)
    total = len(ordered)
    if after is not None:
        start = c.decode_created_cursor(after)
        ordered = [r for r in ordered if key(r) > start]
    items = ordered[:first]
    end = c.encode_created_cursor(*key(items[-1])) if items else None
    return Page(items, total, len(ordered) > first, end)


class MemoryMetadataStore(MemoryLeases, MemoryChangeRequests, MemoryGitStore, MetadataStore):
    """All metadata in process memory. ``MemoryMetadataStore()`` takes no arguments."""

    def __init__(self) -> None:
        self._clock = c.Clock()
        self._users: dict[str, User] = {}
        self._tokens: dict[str, AccessToken] = {}
        self._namespaces: dict[str, Namespace] = {}
        self._memberships: dict[tuple[str, str], Membership] = {}
        self._repositories: dict[str, RepositoryRecord] = {}
        self._idempotency: dict[tuple[str, str], IdempotencyRecord] = {}
        self._audit: list[tuple[int, AuditEntry]] = []
        self._init_git()
        self._init_changes()

    # ------------------------------------------------------------------ lifecycle
    async def migrate(self) -> int:
        return latest_version()

    async def close(self) -> None:
        return None

    # ------------------------------------------------------------------ users
    async def create_user(self, username: str, password_hash: str, *, is_admin: bool) -> User:
        c.check_username(username)
        if any(u.username == username for u in self._users.values()):
            raise AlreadyExists(f"user {username!r} already exists", field="username")
        user = User(str(uuid.uuid4()), username, password_hash, bool(is_admin), self._clock.now())
        self._users[user.id] = user
        return user

    async def get_user(self, user_id: str) -> User | None:
        return self._users.get(user_id)

    async def get_user_by_username(self, username: str) -> User | None:
        return next((u for u in self._users.values() if u.username == username), None)

    async def list_users(self, *, first: int, after: str | None = None) -> Page[User]:
        c.check_first(first)
        return _page_by_created(self._users.values(), lambda u: (u.created_at, u.id), first, after)

    async def update_user_password(
        self, user_id: str, password_hash: str, *, end_sessions: bool = False
    ) -> None:
        user = self._users.get(user_id)
        if user is None:
            raise NotFound(c.user_missing(user_id), field="user_id")
        epoch = user.session_epoch + (1 if end_sessions else 0)
        self._users[user_id] = dataclasses.replace(
            user, password_hash=password_hash, session_epoch=epoch
        )

    async def set_user_disabled(self, user_id: str, disabled: bool) -> User:
        user = self._users.get(user_id)
        if user is None:
            raise NotFound(c.user_missing(user_id), field="user_id")
        ending = disabled and not user.disabled
        user = dataclasses.replace(
            user, disabled=disabled, session_epoch=user.session_epoch + (1 if ending else 0)
        )
        self._users[user_id] = user
        return user

    # ------------------------------------------------------------------ access tokens
    async def create_token(
        self,
        user_id: str,
        name: str,
        token_hash: str,
        scopes: frozenset[str],
        expires_at: datetime | None,
    ) -> AccessToken:
        scopes = c.check_scopes(scopes)
        if user_id not in self._users:
            raise NotFound(c.user_missing(user_id), field="user_id")
        if any(t.token_hash == token_hash for t in self._tokens.values()):
            raise AlreadyExists("a token with this hash already exists", field="token_hash")
        token = AccessToken(
            str(uuid.uuid4()), user_id, name, token_hash, scopes, self._clock.now(), expires_at
        )
        self._tokens[token.id] = token
        return token

    async def get_token_by_hash(self, token_hash: str) -> AccessToken | None:
        return next((t for t in self._tokens.values() if t.token_hash == token_hash), None)

    async def list_tokens(self, user_id: str) -> list[AccessToken]:
        mine = [t for t in self._tokens.values() if t.user_id == user_id]
        return sorted(mine, key=lambda t: (t.created_at, t.id))

    async def revoke_token(self, token_id: str, *, at: datetime) -> bool:
        token = self._tokens.get(token_id)
        if token is None or token.revoked_at is not None:
            return False
        self._tokens[token_id] = dataclasses.replace(token, revoked_at=at)
        return True

    async def touch_token(self, token_id: str, *, at: datetime) -> None:
        token = self._tokens.get(token_id)
        if token is not None:
            self._tokens[token_id] = dataclasses.replace(token, last_used_at=at)

    # ------------------------------------------------------------------ namespaces
    async def create_namespace(
        self,
        identifier: str,
        tier: Tier,
        *,
        display_name: str,
        parent_enterprise_id: str | None,
        created_by: str,
    ) -> Namespace:
        tier = c.check_new_namespace(identifier, tier, parent_enterprise_id)
        if parent_enterprise_id is not None:
            parent = self._namespaces.get(parent_enterprise_id)
            if parent is None or parent.tier is not Tier.ENTERPRISE:
                raise c.parent_problem(parent_enterprise_id, parent.tier if parent else None)
        if any(n.identifier == identifier for n in self._namespaces.values()):
            raise AlreadyExists(c.namespace_taken(identifier), field="identifier")
        now = self._clock.now()
        namespace = Namespace(
            str(uuid.uuid4()),
            identifier,
            display_name,
            tier,
            parent_enterprise_id,
            now,
            created_by,
            now,
            created_by,
        )
        self._namespaces[namespace.id] = namespace
        return namespace

    async def get_namespace(self, namespace_id: str) -> Namespace | None:
        return self._namespaces.get(namespace_id)

    async def get_namespace_by_identifier(self, identifier: str) -> Namespace | None:
        return next((n for n in self._namespaces.values() if n.identifier == identifier), None)

    async def list_namespaces(self, *, first: int, after: str | None = None) -> Page[Namespace]:
        c.check_first(first)
        rows = self._namespaces.values()
        return _page_by_created(rows, lambda n: (n.created_at, n.id), first, after)

    async def update_namespace(
        self, namespace_id: str, patch: NamespacePatch, *, updated_by: str
    ) -> Namespace:
        namespace = self._namespaces.get(namespace_id)
        if namespace is None:
            raise NotFound(c.namespace_missing(namespace_id), field="namespace_id")
        changes: dict[str, Any] = {}
        if patch.display_name is not None:
            changes["display_name"] = patch.display_name
        updated = dataclasses.replace(
            namespace, **changes, updated_at=self._clock.now(), updated_by=updated_by
        )
        self._namespaces[namespace_id] = updated
        return updated

    async def delete_namespace(self, namespace_id: str) -> None:
        namespace = self._namespaces.get(namespace_id)
        if namespace is None:
            raise NotFound(c.namespace_missing(namespace_id), field="namespace_id")
        repos = sum(1 for r in self._repositories.values() if r.namespace_id == namespace_id)
        if repos:
            raise FailedPrecondition(c.namespace_has_repositories(namespace.identifier, repos))
        children = sum(
            1 for n in self._namespaces.values() if n.parent_enterprise_id == namespace_id
        )
        if children:
            raise FailedPrecondition(c.namespace_has_children(namespace.identifier, children))
        del self._namespaces[namespace_id]
        for key in [k for k in self._memberships if k[0] == namespace_id]:
            del self._memberships[key]

    # ------------------------------------------------------------------ memberships
    async def set_membership(self, namespace_id: str, username: str, role: Role) -> Membership:
        role = c.check_role(role)
        if namespace_id not in self._namespaces:
            raise NotFound(c.namespace_missing(namespace_id), field="namespace_id")
        if await self.get_user_by_username(username) is None:
            raise NotFound(f"user {username!r} does not exist", field="username")
        existing = self._memberships.get((namespace_id, username))
        if existing is not None:
            membership = dataclasses.replace(existing, role=role)
        else:
            membership = Membership(namespace_id, username, role, self._clock.now())
        self._memberships[(namespace_id, username)] = membership
        return membership

    async def remove_membership(self, namespace_id: str, username: str) -> bool:
        return self._memberships.pop((namespace_id, username), None) is not None

    async def get_membership(self, namespace_id: str, username: str) -> Membership | None:
        return self._memberships.get((namespace_id, username))

    async def list_memberships(self, namespace_id: str) -> list[Membership]:
        mine = [m for m in self._memberships.values() if m.namespace_id == namespace_id]
        return sorted(mine, key=lambda m: (m.created_at, m.username))

    # ------------------------------------------------------------------ repositories
    async def create_repository(
        self,
        namespace_id: str,
        name: str,
        *,
        description: str,
        publish_mode: PublishMode,
        default_branch: str,
        visibility: Visibility,
        created_by: str,
    ) -> RepositoryRecord:
        record = c.new_repository(
            namespace_id, name, description, publish_mode, default_branch, visibility, created_by
        )
        namespace = self._namespaces.get(namespace_id)
        if namespace is None:
            raise NotFound(c.namespace_missing(namespace_id), field="namespace_id")
        if any(
            r.namespace_id == namespace_id and r.name == name for r in self._repositories.values()
        ):
            raise AlreadyExists(c.repository_taken(namespace.identifier, name), field="name")
        now = self._clock.now()
        record = dataclasses.replace(
            record, namespace=namespace.identifier, created_at=now, updated_at=now
        )
        self._repositories[record.id] = record
        return record

    async def get_repository(self, repository_uuid: str) -> RepositoryRecord | None:
        return self._repositories.get(repository_uuid)

    async def get_repository_by_name(self, namespace: str, name: str) -> RepositoryRecord | None:
        return next(
            (r for r in self._repositories.values() if r.namespace == namespace and r.name == name),
            None,
        )

    async def list_repositories(
        self, namespace_id: str, *, first: int, after: str | None = None
    ) -> Page[RepositoryRecord]:
        c.check_first(first)
        rows = [r for r in self._repositories.values() if r.namespace_id == namespace_id]
        return _page_by_created(rows, lambda r: (r.created_at, r.id), first, after)

    async def update_repository(
        self, repository_uuid: str, patch: RepositoryPatch, *, updated_by: str
    ) -> RepositoryRecord:
        changes = c.repository_changes(patch)
        record = self._repositories.get(repository_uuid)
        if record is None:
            raise NotFound(c.repository_missing(repository_uuid), field="repository_id")
        updated = dataclasses.replace(
            record, **changes, updated_at=self._clock.now(), updated_by=updated_by
        )
        self._repositories[repository_uuid] = updated
        return updated

    async def delete_repository(self, repository_uuid: str) -> None:
        if self._repositories.pop(repository_uuid, None) is None:
            raise NotFound(c.repository_missing(repository_uuid), field="repository_id")
        self._drop_repository_git(repository_uuid)

    # ------------------------------------------------------------------ idempotency
    async def claim_idempotency_key(
        self,
        scope: str,
        key: str,
        request_hash: str,
        *,
        owner: str = "",
        lease_seconds: float = DEFAULT_IDEMPOTENCY_LEASE_SECONDS,
    ) -> IdempotencyRecord | None:
        now = self._clock.now()
        until = c.lease_end(now, lease_seconds)
        existing = self._idempotency.get((scope, key))
        if existing is not None:
            expired = existing.response is None and (existing.lease_until or now) <= now
            return dataclasses.replace(
                existing, response=copy.deepcopy(existing.response), lease_expired=expired
            )
        self._idempotency[(scope, key)] = IdempotencyRecord(
            scope, key, request_hash, None, now, owner, now, until
        )
        return None

    async def take_over_idempotency_key(
        self,
        scope: str,
        key: str,
        *,
        expired_owner: str,
        owner: str,
        lease_seconds: float = DEFAULT_IDEMPOTENCY_LEASE_SECONDS,
    ) -> bool:
        now = self._clock.now()
        until = c.lease_end(now, lease_seconds)
        existing = self._idempotency.get((scope, key))
        if (
            existing is None
            or existing.response is not None
            or existing.owner != expired_owner
            or (existing.lease_until or now) > now
        ):
            return False
        self._idempotency[(scope, key)] = dataclasses.replace(
            existing, owner=owner, claimed_at=now, lease_until=until
        )
        return True

    async def extend_idempotency_lease(
        self,
        scope: str,
        key: str,
        *,
        owner: str,
        lease_seconds: float = DEFAULT_IDEMPOTENCY_LEASE_SECONDS,
    ) -> bool:
        until = c.lease_end(self._clock.now(), lease_seconds)
        existing = self._idempotency.get((scope, key))
        if existing is None or existing.response is not None or existing.owner != owner:
            return False
        self._idempotency[(scope, key)] = dataclasses.replace(existing, lease_until=until)
        return True

    async def complete_idempotency_key(
        self, scope: str, key: str, response: dict[str, Any]
    ) -> None:
        stored = c.json_copy(response, "response")
        existing = self._idempotency.get((scope, key))
        if existing is None:
            raise NotFound(c.idempotency_missing(scope, key), field="key")
        self._idempotency[(scope, key)] = dataclasses.replace(existing, response=stored)

    async def release_idempotency_key(
        self, scope: str, key: str, *, owner: str | None = None
    ) -> None:
        existing = self._idempotency.get((scope, key))
        if existing is None or existing.response is not None:
            return
        if owner is None or existing.owner == owner:
            del self._idempotency[(scope, key)]

    # ------------------------------------------------------------------ audit log
    async def append_audit(
        self, actor: str, action: str, target: str, details: dict[str, Any] | None = None
    ) -> AuditEntry:
        entry = c.new_audit_entry(self._clock, actor, action, target, details)
        seq = self._audit[-1][0] + 1 if self._audit else 1
        self._audit.append((seq, entry))
        return dataclasses.replace(entry, details=copy.deepcopy(entry.details))

    async def list_audit(
        self,
        *,
        first: int,
        after: str | None = None,
        target_prefix: str | None = None,
        action: str | None = None,
    ) -> Page[AuditEntry]:
        c.check_first(first)
        rows = [
            (seq, e)
            for seq, e in reversed(self._audit)
            if (target_prefix is None or e.target.startswith(target_prefix))
            and (action is None or e.action == action)
        ]
        total = len(rows)
        if after is not None:
            before = c.decode_seq_cursor(after)
            rows = [(seq, e) for seq, e in rows if seq < before]
        page = rows[:first]
        items = [dataclasses.replace(e, details=copy.deepcopy(e.details)) for _, e in page]
        end = c.encode_seq_cursor(page[-1][0]) if page else None
        return Page(items, total, len(rows) > first, end)
