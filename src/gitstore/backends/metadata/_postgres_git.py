"""The PostgreSQL store's part of git-native ingress (``base_git``), a mixin of
``PostgresMetadataStore`` using its plumbing (``_tx``: one pooled connection, one
``READ COMMITTED`` transaction, errors mapped; see ``postgres``).

Rules under concurrency:

* **Unique fingerprint, tag, webhook URL:** ``INSERT ... ON CONFLICT DO NOTHING`` (it waits
  for a concurrent inserter of the same key; exactly one wins) after ``FOR KEY SHARE`` on the
  parent row (user, repository), which a concurrent delete of the parent waits for.
* **Sequences:** ``create_publication`` locks the repository row ``FOR NO KEY UPDATE``, then
  reads ``max(sequence) + 1`` in a new statement (so it sees the previous holder's commit) and
  inserts it; concurrent requests queue on the row and get 1, 2, 3, ... ``complete_publication``
  takes the same lock, so completing and superseding never interleave (no deadlocks between
  two completions superseding each other's rows).
* **Claims:** ``claim_due_deliveries`` selects due rows ``FOR UPDATE OF d SKIP LOCKED`` and
  moves their ``next_attempt_at`` to the end of the lease in the same statement: a concurrent
  claimer skips rows being claimed, and a row claimed and committed meanwhile fails its
  re-checked ``next_attempt_at <= now``. Two claimers never return the same delivery.
* Deleting a repository (a user) cascades through the foreign keys.
"""

from __future__ import annotations

import uuid
from contextlib import AbstractAsyncContextManager
from datetime import datetime
from typing import TYPE_CHECKING, Any

from gitstore.domain.errors import AlreadyExists, NotFound

from . import _common as c
from . import _git_common as g
from . import _git_rows as gr
from . import _rows as rows
from ._postgres_util import Conn, K, Row, _all, _count, _insert, _one
from .base_git import (
    DeliveryState,
    Publication,
    PublicationKind,
    PublicationState,
    Release,
    SshKey,
    Webhook,
    WebhookDelivery,
)

_PUBLICATION = "SELECT * FROM publications WHERE repository_uuid = %s AND sequence = %s"
_LOCK_REPOSITORY = "SELECT 1 FROM repositories WHERE id = %s FOR NO KEY UPDATE"
_SHARE_REPOSITORY = "SELECT 1 FROM repositories WHERE id = %s FOR KEY SHARE"


class PostgresGitStore(gr.SqlGitReads):
    _MARK = "%s"
    _CODEC = K

    if TYPE_CHECKING:
        _clock: c.Clock

        def _tx(self) -> AbstractAsyncContextManager[Conn]: ...
        async def _one(self, query: str, *params: Any) -> Row | None: ...
        async def _all(self, query: str, *params: Any) -> list[Row]: ...
        async def _change(self, query: str, *params: Any) -> int: ...

    # ------------------------------------------------------------------ SSH keys
    async def add_ssh_key(
        self, user_id: str, *, title: str, public_key: str, fingerprint: str
    ) -> SshKey:
        g.check_ssh_key(title, public_key, fingerprint)
        async with self._tx() as conn:
            query = "SELECT username FROM users WHERE id = %s FOR KEY SHARE"
            user = await _one(conn, query, user_id)
            if user is None:
                raise NotFound(c.user_missing(user_id), field="user_id")
            key = SshKey(
                str(uuid.uuid4()),
                user_id,
                user["username"],
                title,
                public_key,
                fingerprint,
                self._clock.now(),
            )
            if not await _insert(conn, "ssh_keys", gr.ssh_key_row(key, K)):
                raise AlreadyExists(g.fingerprint_taken(fingerprint), field="fingerprint")
        return key

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
        async with self._tx() as conn:
            await _require_repository(conn, repository_uuid, _SHARE_REPOSITORY)
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
            if not await _insert(conn, "releases", gr.release_row(release, K)):
                raise AlreadyExists(g.release_taken(tag), field="tag")
        return release

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
        async with self._tx() as conn:
            await _require_repository(conn, repository_uuid, _LOCK_REPOSITORY)
            query = (
                "SELECT coalesce(max(sequence), 0) + 1 AS n FROM publications"
                " WHERE repository_uuid = %s"
            )
            sequence = await _count(conn, query, repository_uuid)
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
            values = gr.publication_row(publication, K)
            await conn.execute(
                rows.insert_sql("publications", values, "%s"), tuple(values.values())
            )
        return publication

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
        async with self._tx() as conn:
            await _one(conn, _LOCK_REPOSITORY, repository_uuid)
            row = await _one(conn, _PUBLICATION, repository_uuid, sequence)
            if row is None:
                raise NotFound(g.publication_missing(repository_uuid, sequence), field="sequence")
            current = gr.publication(row, K)
            done = g.publication_outcome(current, state, at, changed, error)
            if done is None:
                return current
            await conn.execute(
                "UPDATE publications SET state = %s, completed_at = %s, changed = %s, error = %s"
                " WHERE repository_uuid = %s AND sequence = %s",
                (state.value, at, K.json_out(list(changed)), error, repository_uuid, sequence),
            )
            if state is PublicationState.PUBLISHED:
                await conn.execute(
                    "UPDATE publications SET state = 'SUPERSEDED', completed_at = %s"
                    " WHERE repository_uuid = %s AND sequence < %s AND state = 'PENDING'",
                    (at, repository_uuid, sequence),
                )
        return done

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
        async with self._tx() as conn:
            await _require_repository(conn, repository_uuid, _SHARE_REPOSITORY)
            hook = Webhook(
                str(uuid.uuid4()),
                repository_uuid,
                url,
                secret,
                self._clock.now(),
                created_by,
                True,
                description,
            )
            if not await _insert(conn, "webhooks", gr.webhook_row(hook, K)):
                raise AlreadyExists(g.webhook_taken(url), field="url")
        return hook

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
        async with self._tx() as conn:
            query = "SELECT repository_uuid FROM webhooks WHERE id = %s FOR KEY SHARE"
            hook = await _one(conn, query, webhook_id)
            if hook is None:
                raise NotFound(g.webhook_missing(webhook_id), field="webhook_id")
            delivery = WebhookDelivery(
                str(uuid.uuid4()),
                webhook_id,
                hook["repository_uuid"],
                publication_sequence,
                stored,
                DeliveryState.PENDING,
                0,
                self._clock.now(),
                next_attempt_at,
            )
            values = gr.delivery_row(delivery, K)
            suffix = " ON CONFLICT (webhook_id, publication_sequence) DO NOTHING RETURNING id"
            query = rows.insert_sql("webhook_deliveries", values, "%s", suffix)
            if await _one(conn, query, *values.values()) is not None:
                return delivery
            query = (
                "SELECT * FROM webhook_deliveries WHERE webhook_id = %s"
                " AND publication_sequence = %s"
            )
            existing = await _one(conn, query, webhook_id, publication_sequence)
        assert existing is not None  # the conflicting row is committed and kept (FK share)
        return gr.delivery(existing, K)

    async def claim_due_deliveries(
        self, *, now: datetime, limit: int, lease_seconds: float
    ) -> list[WebhookDelivery]:
        now, until = g.check_claim(now, limit, lease_seconds)
        async with self._tx() as conn:
            found = await _all(
                conn,
                "WITH due AS ("
                " SELECT d.id, d.next_attempt_at AS due_at FROM webhook_deliveries d"
                " JOIN webhooks w ON w.id = d.webhook_id"
                " WHERE d.state = 'PENDING' AND d.next_attempt_at <= %s AND w.active"
                " ORDER BY d.next_attempt_at, d.created_at, d.id LIMIT %s"
                " FOR UPDATE OF d SKIP LOCKED)"
                " UPDATE webhook_deliveries u SET next_attempt_at = %s FROM due"
                " WHERE u.id = due.id RETURNING u.*, due.due_at",
                now,
                limit,
                until,
            )
        # RETURNING has no order: restore the claim order (due first, then oldest).
        found.sort(key=lambda r: (r["due_at"], r["created_at"], r["id"]))
        return [gr.delivery(r, K) for r in found]

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
        async with self._tx() as conn:
            query = "SELECT * FROM webhook_deliveries WHERE id = %s FOR UPDATE"
            row = await _one(conn, query, delivery_id)
            if row is None:
                raise NotFound(g.delivery_missing(delivery_id), field="delivery_id")
            a = g.attempt_outcome(
                gr.delivery(row, K), at, status_code, error, succeeded, next_attempt_at
            )
            updated = await _one(
                conn,
                "UPDATE webhook_deliveries SET state = %s, attempts = %s, next_attempt_at = %s,"
                " last_status_code = %s, last_error = %s, completed_at = %s, history = %s"
                " WHERE id = %s RETURNING *",
                a.state.value,
                a.attempts,
                a.next_attempt_at,
                a.last_status_code,
                a.last_error,
                a.completed_at,
                K.json_out(list(a.history)),
                delivery_id,
            )
        assert updated is not None
        return gr.delivery(updated, K)

    # ------------------------------------------------------------------ SqlGitReads
    async def _rows(self, sql: str, *params: Any) -> list[Any]:
        return await self._all(sql, *params)

    async def _count_and_page_rows(
        self, count: str, count_params: list[Any], page: str, page_params: list[Any]
    ) -> tuple[list[Any], int]:
        async with self._tx() as conn:
            total = await _count(conn, count, *count_params)
            found = await _all(conn, page, *page_params)
        return found, total


async def _require_repository(conn: Conn, repository_uuid: str, lock_query: str) -> None:
    if await _one(conn, lock_query, repository_uuid) is None:
        raise NotFound(c.repository_missing(repository_uuid), field="repository_id")
