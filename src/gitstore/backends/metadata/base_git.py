"""The metadata contract of git-native ingress (issue 5): SSH keys, releases, publications,
webhooks and their deliveries. ``MetadataStore`` inherits these abstract methods; the rules of
``base`` (async, UTC datetimes, UUID ids, ``Page`` + opaque ``after`` cursors, domain errors,
checks inside the store's transaction) hold here too.

* **SSH keys** belong to a user; the fingerprint (``SHA256:...``) is unique across all users
  (``AlreadyExists``), so a key names exactly one user when the git service authenticates it.
* **Releases** are release tags of a repository (tag unique per repository). A **publication**
  is one request to make a release live (publish, rollback, replay): it gets the repository's
  next ``sequence`` (1, 2, 3, ... per repository, allocated atomically by
  ``create_publication``), which orders publications and becomes the KV alias sequence.
* **Webhooks** are URLs of a repository that receive a signed POST per completed publication;
  each POST is a **delivery** with its attempts. ``claim_due_deliveries`` hands out deliveries
  whose ``next_attempt_at`` has come, leasing each for ``lease_seconds`` so that two
  dispatchers never send the same attempt at once.
"""

from __future__ import annotations

import abc
import enum
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from gitstore.backends.metadata.base import Page


@dataclass(frozen=True, slots=True)
class SshKey:
    id: str
    user_id: str
    username: str
    title: str
    # Normalised OpenSSH public key without comment: "<type> <base64>".
    public_key: str
    fingerprint: str  # "SHA256:..." as ssh-keygen -l prints it
    created_at: datetime
    last_used_at: datetime | None = None


class PublicationState(enum.StrEnum):
    PENDING = "PENDING"  # requested, the worker has not finished it
    PUBLISHED = "PUBLISHED"  # the live channel shows it (or did)
    SUPERSEDED = "SUPERSEDED"  # a newer publication was requested before this one finished
    FAILED = "FAILED"


class PublicationKind(enum.StrEnum):
    PUBLISH = "PUBLISH"  # a new release, or a roll forward / back to an earlier one
    REPLAY = "REPLAY"  # re-project a release from scratch


@dataclass(frozen=True, slots=True)
class Release:
    id: str
    repository_uuid: str
    tag: str  # short name, e.g. "v1.2.0" or "release/2026-11"
    commit_sha: str  # the commit the tag peels to
    created_at: datetime
    created_by: str  # username ("" = unknown)
    # How the tag arrived: "http", "ssh", "api".
    source: str = "api"
    message: str = ""


@dataclass(frozen=True, slots=True)
class Publication:
    repository_uuid: str
    sequence: int  # 1, 2, 3, ... per repository
    tag: str
    commit_sha: str
    kind: PublicationKind
    state: PublicationState
    requested_at: datetime
    requested_by: str
    correlation_id: str = ""
    completed_at: datetime | None = None
    # Resource ids ("<kind>/<name>") the publication changed on the live channel.
    changed: tuple[str, ...] = ()
    error: str = ""


@dataclass(frozen=True, slots=True)
class Webhook:
    id: str
    repository_uuid: str
    url: str
    secret: str  # HMAC-SHA256 key; shown to the creator once, kept to sign deliveries
    created_at: datetime
    created_by: str
    active: bool = True
    description: str = ""


class DeliveryState(enum.StrEnum):
    PENDING = "PENDING"  # waiting for its next attempt
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"  # gave up after the last attempt


@dataclass(frozen=True, slots=True)
class WebhookDelivery:
    id: str
    webhook_id: str
    repository_uuid: str
    publication_sequence: int
    payload: dict[str, Any]
    state: DeliveryState
    attempts: int
    created_at: datetime
    next_attempt_at: datetime | None
    last_status_code: int | None = None
    last_error: str = ""
    completed_at: datetime | None = None
    history: tuple[dict[str, Any], ...] = field(default_factory=tuple)  # one per attempt


class GitMetadata(abc.ABC):
    # ------------------------------------------------------------------ SSH keys
    @abc.abstractmethod
    async def add_ssh_key(
        self, user_id: str, *, title: str, public_key: str, fingerprint: str
    ) -> SshKey:
        """``NotFound`` if the user is gone; ``AlreadyExists`` if the fingerprint is
        registered (to anyone)."""

    @abc.abstractmethod
    async def list_ssh_keys(self, user_id: str) -> list[SshKey]:
        """Oldest first."""

    @abc.abstractmethod
    async def get_ssh_key_by_fingerprint(self, fingerprint: str) -> SshKey | None: ...

    @abc.abstractmethod
    async def remove_ssh_key(self, user_id: str, key_id: str) -> bool:
        """False if that user has no such key."""

    @abc.abstractmethod
    async def touch_ssh_key(self, key_id: str, *, at: datetime) -> None: ...

    # ------------------------------------------------------------------ releases
    @abc.abstractmethod
    async def create_release(
        self,
        repository_uuid: str,
        tag: str,
        commit_sha: str,
        *,
        created_by: str,
        source: str,
        message: str = "",
    ) -> Release:
        """``NotFound`` if the repository is gone; ``AlreadyExists`` if the tag is recorded."""

    @abc.abstractmethod
    async def get_release(self, repository_uuid: str, tag: str) -> Release | None: ...

    @abc.abstractmethod
    async def list_releases(
        self, repository_uuid: str, *, first: int, after: str | None = None
    ) -> Page[Release]:
        """Newest first."""

    @abc.abstractmethod
    async def create_publication(
        self,
        repository_uuid: str,
        tag: str,
        commit_sha: str,
        *,
        kind: PublicationKind,
        requested_by: str,
        correlation_id: str = "",
    ) -> Publication:
        """A new PENDING publication with the repository's next sequence (atomic: concurrent
        callers get distinct, increasing sequences). ``NotFound`` if the repository is gone."""

    @abc.abstractmethod
    async def get_publication(self, repository_uuid: str, sequence: int) -> Publication | None: ...

    @abc.abstractmethod
    async def list_publications(
        self,
        repository_uuid: str,
        *,
        first: int,
        after: str | None = None,
        tag: str | None = None,
    ) -> Page[Publication]:
        """Newest (highest sequence) first; ``tag`` filters exactly."""

    @abc.abstractmethod
    async def complete_publication(
        self,
        repository_uuid: str,
        sequence: int,
        *,
        state: PublicationState,
        at: datetime,
        changed: tuple[str, ...] = (),
        error: str = "",
    ) -> Publication:
        """Record the outcome of a PENDING publication (idempotent: completing it again with
        the same state returns it unchanged). When ``state`` is PUBLISHED, every older PENDING
        publication of the repository becomes SUPERSEDED. ``NotFound`` if unknown;
        ``FailedPrecondition`` if it already ended with another state (e.g. SUPERSEDED);
        ``InvalidArgument`` for ``state`` PENDING."""

    @abc.abstractmethod
    async def live_publication(self, repository_uuid: str) -> Publication | None:
        """The PUBLISHED publication with the highest sequence (what storefronts see)."""

    # ------------------------------------------------------------------ webhooks
    @abc.abstractmethod
    async def create_webhook(
        self,
        repository_uuid: str,
        url: str,
        secret: str,
        *,
        created_by: str,
        description: str = "",
    ) -> Webhook:
        """``NotFound`` if the repository is gone; ``AlreadyExists`` for the same URL twice."""

    @abc.abstractmethod
    async def get_webhook(self, webhook_id: str) -> Webhook | None: ...

    @abc.abstractmethod
    async def list_webhooks(self, repository_uuid: str) -> list[Webhook]:
        """Oldest first."""

    @abc.abstractmethod
    async def update_webhook(
        self,
        webhook_id: str,
        *,
        active: bool | None = None,
        description: str | None = None,
        secret: str | None = None,
    ) -> Webhook:
        """Change the given fields (None keeps one) and return the webhook as stored.
        ``active=False`` pauses it: ``claim_due_deliveries`` skips its deliveries (they stay
        PENDING and are claimed again once it is active). ``NotFound`` if unknown."""

    @abc.abstractmethod
    async def delete_webhook(self, webhook_id: str) -> bool:
        """Deletes its deliveries too. False if unknown."""

    @abc.abstractmethod
    async def create_delivery(
        self,
        webhook_id: str,
        *,
        publication_sequence: int,
        payload: dict[str, Any],
        next_attempt_at: datetime,
    ) -> WebhookDelivery:
        """A PENDING delivery with 0 attempts. Idempotent per (webhook, publication): a second
        call returns the existing delivery. ``NotFound`` if the webhook is gone."""

    @abc.abstractmethod
    async def claim_due_deliveries(
        self, *, now: datetime, limit: int, lease_seconds: float
    ) -> list[WebhookDelivery]:
        """PENDING deliveries of active webhooks with ``next_attempt_at <= now`` (most
        overdue first, then oldest), at most ``limit``, each leased:
        its ``next_attempt_at`` moves to ``now + lease_seconds`` in the same transaction, so a
        concurrent claim does not return it."""

    @abc.abstractmethod
    async def record_delivery_attempt(
        self,
        delivery_id: str,
        *,
        at: datetime,
        status_code: int | None,
        error: str,
        succeeded: bool,
        next_attempt_at: datetime | None,
    ) -> WebhookDelivery:
        """Append one attempt (``history`` gets ``{"at", "statusCode", "error"}``),
        ``attempts`` + 1; SUCCEEDED when ``succeeded``, else PENDING again at
        ``next_attempt_at`` or FAILED when that is None. ``NotFound`` if unknown;
        ``FailedPrecondition`` if it is no longer PENDING (SUCCEEDED or FAILED)."""

    @abc.abstractmethod
    async def list_deliveries(
        self, webhook_id: str, *, first: int, after: str | None = None
    ) -> Page[WebhookDelivery]:
        """Newest first."""
