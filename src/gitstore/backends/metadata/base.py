"""The metadata store contract: users, tokens, namespaces, memberships, repositories,
idempotency keys and the audit log.

One relational store behind this interface: SQLite in the data dir (embedded default) or
PostgreSQL (``GITSTORE_DB__URL=postgresql://...``). Schema migrations are versioned and applied
by ``migrate()`` (called on start). Rules that must hold under concurrency live *in the store*,
inside one transaction, not in callers:

* namespace identifiers are unique across all tiers (``AlreadyExists``);
* a namespace that still holds repositories cannot be deleted (``FailedPrecondition``);
* an ORGANISATION's parent must exist and be an ENTERPRISE (``InvalidArgument``);
* an idempotency key is claimed by exactly one caller (``claim_idempotency_key``).

Authorisation (who may do what) is *not* the store's business; the API's domain actions decide.
Timestamps are timezone-aware UTC ``datetime``s. Ids are UUID strings. Lists are paged by an
opaque ``after`` cursor (the store's own, e.g. the last row's sort key) and return a ``Page``.
All methods are async; errors are ``gitstore.domain.errors`` types.

Paging details (all implementations): ``first`` must be >= 0 (``InvalidArgument`` naming
``first``); a cursor that is not one this list returned is ``InvalidArgument`` naming ``after``;
``total_count`` counts the whole (filtered) list, not what is left after the cursor;
``end_cursor`` is None on an empty page. Identifiers and repository names are validated as DNS
labels by the store too (``InvalidArgument``). A closed store raises ``Unavailable``;
connection failures are ``Unavailable`` as well.

**Rights epoch.** ``rights_epoch()`` is a process-wide counter that every implementation's
``set_user_disabled``, ``update_namespace``, ``delete_namespace``, ``set_membership``,
``remove_membership``, ``update_repository`` and ``delete_repository`` bump when they return
(wrapped by ``MetadataStore.__init_subclass__``, so no backend can forget). Short-lived caches
of rights in this process (``api.resources.access``) remember the epoch they were computed at
and drop an entry once it moved on. Other processes learn nothing: their caches rely on their
own time limit.
"""

from __future__ import annotations

import abc
import enum
import functools
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Generic, TypeVar

from gitstore.backends.metadata.base_changes import ChangeRequestMetadata
from gitstore.backends.metadata.base_git import GitMetadata
from gitstore.backends.metadata.base_leases import LeaseMetadata

T = TypeVar("T")

#: Methods after which who may do what can have changed (see the module doc).
RIGHTS_CHANGING = (
    "set_user_disabled",
    "update_namespace",
    "delete_namespace",
    "set_membership",
    "remove_membership",
    "update_repository",
    "delete_repository",
)
_rights_epoch = 0


def rights_epoch() -> int:
    """The process-wide count of rights changes made through any metadata store."""
    return _rights_epoch


def _bump_rights() -> None:
    global _rights_epoch
    _rights_epoch += 1


def _bumping(method: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
    @functools.wraps(method)
    async def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return await method(*args, **kwargs)
        finally:  # also after a failure: it may have changed something before failing
            _bump_rights()

    wrapper.bumps_rights = True  # type: ignore[attr-defined]
    return wrapper


class Tier(enum.StrEnum):
    USER = "USER"
    ORGANISATION = "ORGANISATION"
    ENTERPRISE = "ENTERPRISE"


class Role(enum.StrEnum):
    OWNER = "owner"
    MAINTAINER = "maintainer"
    WRITER = "writer"
    READER = "reader"


class PublishMode(enum.StrEnum):
    ON_COMMIT = "ON_COMMIT"
    ON_RELEASE_TAG = "ON_RELEASE_TAG"


class Visibility(enum.StrEnum):
    PRIVATE = "PRIVATE"
    PUBLIC = "PUBLIC"


@dataclass(frozen=True, slots=True)
class User:
    id: str
    username: str
    password_hash: str
    is_admin: bool
    created_at: datetime
    disabled: bool = False
    # Incremented when the user's login sessions end (password reset, disable); login tokens
    # carry the epoch they were issued under.
    session_epoch: int = 0


@dataclass(frozen=True, slots=True)
class AccessToken:
    """A personal access token. Only ``token_hash`` (SHA-256 hex of the secret) is stored."""

    id: str
    user_id: str
    name: str
    token_hash: str
    scopes: frozenset[str]  # subset of {"read", "write"}
    created_at: datetime
    expires_at: datetime | None = None
    revoked_at: datetime | None = None
    last_used_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Namespace:
    id: str
    identifier: str
    display_name: str
    tier: Tier
    parent_enterprise_id: str | None
    created_at: datetime
    created_by: str
    updated_at: datetime
    updated_by: str


@dataclass(frozen=True, slots=True)
class Membership:
    namespace_id: str
    username: str
    role: Role
    created_at: datetime


@dataclass(frozen=True, slots=True)
class RepositoryRecord:
    id: str
    namespace_id: str
    namespace: str  # the namespace identifier, for convenience
    name: str
    description: str
    publish_mode: PublishMode
    default_branch: str
    visibility: Visibility
    created_at: datetime
    created_by: str
    updated_at: datetime
    updated_by: str
    # Glob patterns a release tag must match (ON_RELEASE_TAG).
    release_patterns: tuple[str, ...] = ("release/*", "v*")
    # Pushed commits and tags must carry a good SSH signature by a key of the pusher.
    require_signed_commits: bool = False

    @property
    def repository_id(self) -> str:
        return f"{self.namespace}/{self.name}"


DEFAULT_IDEMPOTENCY_LEASE_SECONDS = 20.0


@dataclass(frozen=True, slots=True)
class IdempotencyRecord:
    """A claimed key. ``response`` is None while the claim's owner is still working.

    ``owner`` is the token of the request holding the claim, ``claimed_at`` when it got it
    (first claim or take-over), ``lease_until`` until when the claim holds unless its owner
    extends it. ``lease_expired`` (judged by the store's clock when the record was read):
    the claim is in progress and its lease has run out — its owner is presumed dead and
    ``take_over_idempotency_key`` may hand the key to another request."""

    scope: str
    key: str
    request_hash: str
    response: dict[str, Any] | None
    created_at: datetime
    owner: str = ""
    claimed_at: datetime | None = None
    lease_until: datetime | None = None
    lease_expired: bool = False


@dataclass(frozen=True, slots=True)
class AuditEntry:
    id: str
    at: datetime
    actor: str
    action: str  # e.g. "namespace.create", "repository.delete", "ref.update"
    target: str  # e.g. "acme-corp", "acme/catalog", "acme/catalog@refs/heads/main"
    details: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    items: list[T]
    total_count: int
    has_next_page: bool
    end_cursor: str | None


@dataclass(frozen=True, slots=True)
class NamespacePatch:
    """Fields to change; None leaves a field as it is."""

    display_name: str | None = None


@dataclass(frozen=True, slots=True)
class RepositoryPatch:
    description: str | None = None
    publish_mode: PublishMode | None = None
    default_branch: str | None = None
    visibility: Visibility | None = None
    release_patterns: tuple[str, ...] | None = None
    require_signed_commits: bool | None = None


class MetadataStore(LeaseMetadata, GitMetadata, ChangeRequestMetadata, abc.ABC):
    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        for name in RIGHTS_CHANGING:
            method = cls.__dict__.get(name)
            if method is None or getattr(method, "__isabstractmethod__", False):
                continue
            if not getattr(method, "bumps_rights", False):
                setattr(cls, name, _bumping(method))

    # ------------------------------------------------------------------ lifecycle
    @abc.abstractmethod
    async def migrate(self) -> int:
        """Apply pending schema migrations; return the schema version now in force."""

    @abc.abstractmethod
    async def close(self) -> None: ...

    # ------------------------------------------------------------------ users
    @abc.abstractmethod
    async def create_user(self, username: str, password_hash: str, *, is_admin: bool) -> User:
        """``AlreadyExists`` if the username is taken."""

    @abc.abstractmethod
    async def get_user(self, user_id: str) -> User | None: ...

    @abc.abstractmethod
    async def get_user_by_username(self, username: str) -> User | None: ...

    @abc.abstractmethod
    async def list_users(self, *, first: int, after: str | None = None) -> Page[User]: ...

    @abc.abstractmethod
    async def update_user_password(
        self, user_id: str, password_hash: str, *, end_sessions: bool = False
    ) -> None:
        """``NotFound`` if there is no such user. ``end_sessions`` also increments the user's
        ``session_epoch`` (in the same statement)."""

    @abc.abstractmethod
    async def set_user_disabled(self, user_id: str, disabled: bool) -> User:
        """Disable or enable a user; the user as now stored. Disabling a user who is not yet
        disabled increments ``session_epoch`` in the same statement; enabling leaves it.
        ``NotFound`` if there is no such user."""

    # ------------------------------------------------------------------ access tokens
    @abc.abstractmethod
    async def create_token(
        self,
        user_id: str,
        name: str,
        token_hash: str,
        scopes: frozenset[str],
        expires_at: datetime | None,
    ) -> AccessToken:
        """``NotFound`` for an unknown user, ``AlreadyExists`` for a hash already stored,
        ``InvalidArgument`` for scopes outside {"read", "write"} or none."""

    @abc.abstractmethod
    async def get_token_by_hash(self, token_hash: str) -> AccessToken | None: ...

    @abc.abstractmethod
    async def list_tokens(self, user_id: str) -> list[AccessToken]: ...

    @abc.abstractmethod
    async def revoke_token(self, token_id: str, *, at: datetime) -> bool:
        """Mark revoked; False if no such token or already revoked."""

    @abc.abstractmethod
    async def touch_token(self, token_id: str, *, at: datetime) -> None:
        """Record last use (an unknown token id is silently ignored)."""

    # ------------------------------------------------------------------ namespaces
    @abc.abstractmethod
    async def create_namespace(
        self,
        identifier: str,
        tier: Tier,
        *,
        display_name: str,
        parent_enterprise_id: str | None,
        created_by: str,
    ) -> Namespace:
        """``AlreadyExists`` when the identifier is taken in any tier; ``InvalidArgument``
        when the parent does not exist or is not an ENTERPRISE."""

    @abc.abstractmethod
    async def get_namespace(self, namespace_id: str) -> Namespace | None: ...

    @abc.abstractmethod
    async def get_namespace_by_identifier(self, identifier: str) -> Namespace | None: ...

    @abc.abstractmethod
    async def list_namespaces(self, *, first: int, after: str | None = None) -> Page[Namespace]:
        """Ordered by creation (oldest first), ties broken by id."""

    @abc.abstractmethod
    async def update_namespace(
        self, namespace_id: str, patch: NamespacePatch, *, updated_by: str
    ) -> Namespace:
        """``NotFound`` if it does not exist."""

    @abc.abstractmethod
    async def delete_namespace(self, namespace_id: str) -> None:
        """``NotFound``; ``FailedPrecondition`` if it holds repositories (or is the parent of
        organisations), checked in the same transaction as the delete. Memberships go with it."""

    # ------------------------------------------------------------------ memberships
    @abc.abstractmethod
    async def set_membership(self, namespace_id: str, username: str, role: Role) -> Membership:
        """Insert or change a member's role (``created_at`` is kept on a change). ``NotFound``
        if the namespace or the user does not exist."""

    @abc.abstractmethod
    async def remove_membership(self, namespace_id: str, username: str) -> bool: ...

    @abc.abstractmethod
    async def get_membership(self, namespace_id: str, username: str) -> Membership | None: ...

    @abc.abstractmethod
    async def list_memberships(self, namespace_id: str) -> list[Membership]: ...

    # ------------------------------------------------------------------ repositories
    @abc.abstractmethod
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
        """``NotFound`` if the namespace is gone; ``AlreadyExists`` if the name is taken in it."""

    @abc.abstractmethod
    async def get_repository(self, repository_uuid: str) -> RepositoryRecord | None: ...

    @abc.abstractmethod
    async def get_repository_by_name(
        self, namespace: str, name: str
    ) -> RepositoryRecord | None: ...

    @abc.abstractmethod
    async def list_repositories(
        self, namespace_id: str, *, first: int, after: str | None = None
    ) -> Page[RepositoryRecord]: ...

    @abc.abstractmethod
    async def update_repository(
        self, repository_uuid: str, patch: RepositoryPatch, *, updated_by: str
    ) -> RepositoryRecord:
        """``NotFound`` if it does not exist."""

    @abc.abstractmethod
    async def delete_repository(self, repository_uuid: str) -> None:
        """``NotFound`` if it does not exist."""

    # ------------------------------------------------------------------ idempotency
    @abc.abstractmethod
    async def claim_idempotency_key(
        self,
        scope: str,
        key: str,
        request_hash: str,
        *,
        owner: str = "",
        lease_seconds: float = DEFAULT_IDEMPOTENCY_LEASE_SECONDS,
    ) -> IdempotencyRecord | None:
        """Atomically claim ``(scope, key)`` for ``owner`` with a lease of ``lease_seconds``
        from now. Returns None if this caller claimed it (it must then call
        ``complete_idempotency_key`` or ``release_idempotency_key``, and
        ``extend_idempotency_lease`` while it works); otherwise returns the existing record
        (``response`` None = still in progress; ``lease_expired`` = its owner is presumed
        dead). ``InvalidArgument`` for a negative lease."""

    @abc.abstractmethod
    async def take_over_idempotency_key(
        self,
        scope: str,
        key: str,
        *,
        expired_owner: str,
        owner: str,
        lease_seconds: float = DEFAULT_IDEMPOTENCY_LEASE_SECONDS,
    ) -> bool:
        """Atomically hand an in-progress key whose lease has run out, and whose owner is
        still ``expired_owner``, to ``owner`` with a fresh lease (``claimed_at`` = now). True
        if this caller now owns it; False if the key is completed, released, its lease was
        extended, or another caller took it over first (of concurrent callers, one wins)."""

    @abc.abstractmethod
    async def extend_idempotency_lease(
        self,
        scope: str,
        key: str,
        *,
        owner: str,
        lease_seconds: float = DEFAULT_IDEMPOTENCY_LEASE_SECONDS,
    ) -> bool:
        """Move the lease of ``owner``'s in-progress claim to now + ``lease_seconds`` (also
        when it has run out, as long as nobody took it over). False when the claim is not
        ``owner``'s (any more): taken over, completed, released or never made."""

    @abc.abstractmethod
    async def complete_idempotency_key(
        self, scope: str, key: str, response: dict[str, Any]
    ) -> None:
        """Store the response (a JSON object) of a claimed key; ``NotFound`` if the key is not
        claimed, ``InvalidArgument`` if the response is not JSON-serialisable."""

    @abc.abstractmethod
    async def release_idempotency_key(
        self, scope: str, key: str, *, owner: str | None = None
    ) -> None:
        """Forget a claim whose work failed, so a retry can run again. A completed key is kept
        (its response stays the answer); an unknown key is ignored. With ``owner``, only
        that owner's claim is forgotten (not one another request took over)."""

    # ------------------------------------------------------------------ audit log
    @abc.abstractmethod
    async def append_audit(
        self, actor: str, action: str, target: str, details: dict[str, Any] | None = None
    ) -> AuditEntry: ...

    @abc.abstractmethod
    async def list_audit(
        self,
        *,
        first: int,
        after: str | None = None,
        target_prefix: str | None = None,
        action: str | None = None,
    ) -> Page[AuditEntry]:
        """Newest first (append order). ``target_prefix`` matches the start of ``target``
        literally (no wildcards); ``action`` matches exactly."""
