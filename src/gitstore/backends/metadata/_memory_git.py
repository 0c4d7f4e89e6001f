"""The memory store's part of git-native ingress (``base_git``): SSH keys, releases,
publications, webhooks and deliveries in dicts.

A mixin of ``MemoryMetadataStore`` (which owns users and repositories, and calls
``_drop_repository_git`` when a repository is deleted so its releases, publications, webhooks
and deliveries go with it, as the SQL stores' ``ON DELETE CASCADE`` does). Like the rest of
the memory store nothing awaits between a check and its write, so every method is atomic under
asyncio: sequences are ``max + 1`` and a claimed delivery is leased before the next caller
runs. Mutable values (payloads, history entries) are deep-copied in and out.
"""

from __future__ import annotations

import copy
import dataclasses
import uuid
from datetime import datetime
from typing import TYPE_CHECKING, Any

from gitstore.domain.errors import AlreadyExists, NotFound

from . import _common as c
from . import _git_common as g
from .base import Page, RepositoryRecord, User
from .base_git import (
    DeliveryState,
    GitMetadata,
    Publication,
    PublicationKind,
    PublicationState,
    Release,
    SshKey,
    Webhook,
    WebhookDelivery,
)


def _copy_delivery(d: WebhookDelivery) -> WebhookDelivery:
    return dataclasses.replace(
        d, payload=copy.deepcopy(d.payload), history=copy.deepcopy(d.history)
    )


class MemoryGitStore(GitMetadata):
    if TYPE_CHECKING:
        _clock: c.Clock
        _users: dict[str, User]
        _repositories: dict[str, RepositoryRecord]

    def _init_git(self) -> None:
        self._ssh_keys: dict[str, SshKey] = {}
        self._releases: dict[str, Release] = {}
        self._publications: dict[tuple[str, int], Publication] = {}
        self._webhooks: dict[str, Webhook] = {}
        self._deliveries: dict[str, WebhookDelivery] = {}

    def _drop_repository_git(self, repository_uuid: str) -> None:
        for table in (self._releases, self._webhooks, self._deliveries):
            for key in [k for k, v in table.items() if v.repository_uuid == repository_uuid]:
                del table[key]
        for pkey in [k for k in self._publications if k[0] == repository_uuid]:
            del self._publications[pkey]

    def _require_repository(self, repository_uuid: str) -> None:
        if repository_uuid not in self._repositories:
            raise NotFound(c.repository_missing(repository_uuid), field="repository_id")

    # ------------------------------------------------------------------ SSH keys
    async def add_ssh_key(
        self, user_id: str, *, title: str, public_key: str, fingerprint: str
    ) -> SshKey:
        g.check_ssh_key(title, public_key, fingerprint)
        user = self._users.get(user_id)
        if user is None:
            raise NotFound(c.user_missing(user_id), field="user_id")
        if any(k.fingerprint == fingerprint for k in self._ssh_keys.values()):
            raise AlreadyExists(g.fingerprint_taken(fingerprint), field="fingerprint")
        key = SshKey(
            str(uuid.uuid4()),
            user_id,
            user.username,
            title,
            public_key,
            fingerprint,
            self._clock.now(),
        )
        self._ssh_keys[key.id] = key
        return key

    async def list_ssh_keys(self, user_id: str) -> list[SshKey]:
        mine = [k for k in self._ssh_keys.values() if k.user_id == user_id]
        return sorted(mine, key=lambda k: (k.created_at, k.id))

    async def get_ssh_key_by_fingerprint(self, fingerprint: str) -> SshKey | None:
        return next((k for k in self._ssh_keys.values() if k.fingerprint == fingerprint), None)

    async def remove_ssh_key(self, user_id: str, key_id: str) -> bool:
        key = self._ssh_keys.get(key_id)
        if key is None or key.user_id != user_id:
            return False
        del self._ssh_keys[key_id]
        return True

    async def touch_ssh_key(self, key_id: str, *, at: datetime) -> None:
        at = g.check_time(at, "at")
        key = self._ssh_keys.get(key_id)
        if key is not None:
            self._ssh_keys[key_id] = dataclasses.replace(key, last_used_at=at)

    # ------------------------------------------------------------------ releases
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
        g.check_release(tag, commit_sha, source)
        self._require_repository(repository_uuid)
        if any(
            r.repository_uuid == repository_uuid and r.tag == tag for r in self._releases.values()
        ):
            raise AlreadyExists(g.release_taken(tag), field="tag")
        release = Release(
            str(uuid.uuid4()),
            repository_uuid,
            tag,
            commit_sha,
            self._clock.now(),
            created_by,
            source,
            message,
        )
        self._releases[release.id] = release
        return release

    async def get_release(self, repository_uuid: str, tag: str) -> Release | None:
        return next(
            (
                r
                for r in self._releases.values()
                if r.repository_uuid == repository_uuid and r.tag == tag
            ),
            None,
        )

    async def list_releases(
        self, repository_uuid: str, *, first: int, after: str | None = None
    ) -> Page[Release]:
        rows = [r for r in self._releases.values() if r.repository_uuid == repository_uuid]
        return g.page_newest_first(rows, first, after, g.RELEASE_CURSOR)

    # ------------------------------------------------------------------ publications
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
        kind = g.check_publication(tag, commit_sha, kind)
        self._require_repository(repository_uuid)
        sequence = 1 + max(
            (seq for repo, seq in self._publications if repo == repository_uuid), default=0
        )
        publication = Publication(
            repository_uuid,
            sequence,
            tag,
            commit_sha,
            kind,
            PublicationState.PENDING,
            self._clock.now(),
            requested_by,
            correlation_id,
        )
        self._publications[(repository_uuid, sequence)] = publication
        return publication

    async def get_publication(self, repository_uuid: str, sequence: int) -> Publication | None:
        g.check_sequence(sequence)
        return self._publications.get((repository_uuid, sequence))

    async def list_publications(
        self,
        repository_uuid: str,
        *,
        first: int,
        after: str | None = None,
        tag: str | None = None,
    ) -> Page[Publication]:
        rows = [
            p
            for (repo, _), p in self._publications.items()
            if repo == repository_uuid and (tag is None or p.tag == tag)
        ]
        return g.page_publications(rows, first, after)

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
        state, at, changed = g.check_completion(sequence, state, at, changed)
        current = self._publications.get((repository_uuid, sequence))
        if current is None:
            raise NotFound(g.publication_missing(repository_uuid, sequence), field="sequence")
        done = g.publication_outcome(current, state, at, changed, error)
        if done is None:
            return current
        self._publications[(repository_uuid, sequence)] = done
        if state is PublicationState.PUBLISHED:
            for key, p in list(self._publications.items()):
                older = key[0] == repository_uuid and key[1] < sequence
                if older and p.state is PublicationState.PENDING:
                    self._publications[key] = dataclasses.replace(
                        p, state=PublicationState.SUPERSEDED, completed_at=at
                    )
        return done

    async def live_publication(self, repository_uuid: str) -> Publication | None:
        live = [
            p
            for (repo, _), p in self._publications.items()
            if repo == repository_uuid and p.state is PublicationState.PUBLISHED
        ]
        return max(live, key=lambda p: p.sequence, default=None)

    # ------------------------------------------------------------------ webhooks
    async def create_webhook(
        self,
        repository_uuid: str,
        url: str,
        secret: str,
        *,
        created_by: str,
        description: str = "",
    ) -> Webhook:
        g.check_webhook(url, secret)
        self._require_repository(repository_uuid)
        if any(
            w.repository_uuid == repository_uuid and w.url == url for w in self._webhooks.values()
        ):
            raise AlreadyExists(g.webhook_taken(url), field="url")
        webhook = Webhook(
            str(uuid.uuid4()),
            repository_uuid,
            url,
            secret,
            self._clock.now(),
            created_by,
            True,
            description,
        )
        self._webhooks[webhook.id] = webhook
        return webhook

    async def get_webhook(self, webhook_id: str) -> Webhook | None:
        return self._webhooks.get(webhook_id)

    async def list_webhooks(self, repository_uuid: str) -> list[Webhook]:
        mine = [w for w in self._webhooks.values() if w.repository_uuid == repository_uuid]
        return sorted(mine, key=lambda w: (w.created_at, w.id))

    async def update_webhook(
        self,
        webhook_id: str,
        *,
        active: bool | None = None,
        description: str | None = None,
        secret: str | None = None,
    ) -> Webhook:
        g.check_webhook_update(description, secret)
        current = self._webhooks.get(webhook_id)
        if current is None:
            raise NotFound(g.webhook_missing(webhook_id), field="webhook_id")
        updated = dataclasses.replace(
            current,
            active=current.active if active is None else bool(active),
            description=current.description if description is None else description,
            secret=current.secret if secret is None else secret,
        )
        self._webhooks[webhook_id] = updated
        return updated

    async def delete_webhook(self, webhook_id: str) -> bool:
        if self._webhooks.pop(webhook_id, None) is None:
            return False
        for key in [k for k, d in self._deliveries.items() if d.webhook_id == webhook_id]:
            del self._deliveries[key]
        return True

    # ------------------------------------------------------------------ deliveries
    async def create_delivery(
        self,
        webhook_id: str,
        *,
        publication_sequence: int,
        payload: dict[str, Any],
        next_attempt_at: datetime,
    ) -> WebhookDelivery:
        stored, next_attempt_at = g.check_delivery(publication_sequence, payload, next_attempt_at)
        webhook = self._webhooks.get(webhook_id)
        if webhook is None:
            raise NotFound(g.webhook_missing(webhook_id), field="webhook_id")
        for d in self._deliveries.values():
            if d.webhook_id == webhook_id and d.publication_sequence == publication_sequence:
                return _copy_delivery(d)
        delivery = WebhookDelivery(
            str(uuid.uuid4()),
            webhook_id,
            webhook.repository_uuid,
            publication_sequence,
            stored,
            DeliveryState.PENDING,
            0,
            self._clock.now(),
            next_attempt_at,
        )
        self._deliveries[delivery.id] = delivery
        return _copy_delivery(delivery)

    async def claim_due_deliveries(
        self, *, now: datetime, limit: int, lease_seconds: float
    ) -> list[WebhookDelivery]:
        now, until = g.check_claim(now, limit, lease_seconds)
        due = [
            d
            for d in self._deliveries.values()
            if d.state is DeliveryState.PENDING
            and d.next_attempt_at is not None
            and d.next_attempt_at <= now
            and self._webhooks[d.webhook_id].active
        ]
        due.sort(key=lambda d: (d.next_attempt_at, d.created_at, d.id))
        claimed = []
        for d in due[:limit]:
            leased = dataclasses.replace(d, next_attempt_at=until)
            self._deliveries[d.id] = leased
            claimed.append(_copy_delivery(leased))
        return claimed

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
        at, next_attempt_at = g.check_attempt(at, next_attempt_at)
        current = self._deliveries.get(delivery_id)
        if current is None:
            raise NotFound(g.delivery_missing(delivery_id), field="delivery_id")
        a = g.attempt_outcome(current, at, status_code, error, succeeded, next_attempt_at)
        updated = dataclasses.replace(
            current,
            state=a.state,
            attempts=a.attempts,
            next_attempt_at=a.next_attempt_at,
            last_status_code=a.last_status_code,
            last_error=a.last_error,
            completed_at=a.completed_at,
            history=copy.deepcopy(a.history),
        )
        self._deliveries[delivery_id] = updated
        return _copy_delivery(updated)

    async def list_deliveries(
        self, webhook_id: str, *, first: int, after: str | None = None
    ) -> Page[WebhookDelivery]:
        rows = [d for d in self._deliveries.values() if d.webhook_id == webhook_id]
        page = g.page_newest_first(rows, first, after, g.DELIVERY_CURSOR)
        return dataclasses.replace(page, items=[_copy_delivery(d) for d in page.items])
