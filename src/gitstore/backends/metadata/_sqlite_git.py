"""The SQLite store's part of git-native ingress (``base_git``), a mixin of
``SqliteMetadataStore`` using its plumbing (``_run`` on the writer thread, ``_one`` for inline
point reads, see ``sqlite``).

Every write that checks something runs in ``BEGIN IMMEDIATE`` on the single writer
connection, so the check and the write hold SQLite's write lock together, across connections
and processes: a fingerprint or a tag is taken once; ``create_publication`` reads
``max(sequence) + 1`` and inserts it under the lock (the primary key ``(repository_uuid,
sequence)`` backs it), so concurrent requests get distinct, increasing sequences;
``claim_due_deliveries`` selects the due rows and moves their ``next_attempt_at`` to the end of
the lease in one transaction, so a concurrent claimer (another process) only sees them leased.
Deleting a repository or a user cascades through the foreign keys (``foreign_keys=ON``).
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypeVar

from gitstore.domain.errors import AlreadyExists, NotFound

from . import _common as c
from . import _git_common as g
from . import _git_rows as gr
from ._sqlite_util import Conn, K, _all, _count_and_page, _insert, _one, _write
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

T = TypeVar("T")
_PUBLICATION = "SELECT * FROM publications WHERE repository_uuid = ? AND sequence = ?"


class SqliteGitStore(gr.SqlGitReads):
    _MARK = "?"
    _CODEC = K

    if TYPE_CHECKING:
        _clock: c.Clock

        async def _run(self, fn: Callable[..., T], *args: Any) -> T: ...
        async def _one(self, sql: str, *params: Any) -> Any: ...
        async def _change(self, sql: str, *params: Any) -> int: ...

    # ------------------------------------------------------------------ SSH keys
    async def add_ssh_key(
        self, user_id: str, *, title: str, public_key: str, fingerprint: str
    ) -> SshKey:
        g.check_ssh_key(title, public_key, fingerprint)
        key = SshKey(str(uuid.uuid4()), user_id, "", title, public_key, fingerprint, c.EPOCH)
        return await self._run(self._add_ssh_key, key)

    def _add_ssh_key(self, conn: Conn, key: SshKey) -> SshKey:
        with _write(conn):
            user = _one(conn, "SELECT username FROM users WHERE id = ?", key.user_id)
            if user is None:
                raise NotFound(c.user_missing(key.user_id), field="user_id")
            if _one(conn, "SELECT 1 FROM ssh_keys WHERE fingerprint = ?", key.fingerprint):
                raise AlreadyExists(g.fingerprint_taken(key.fingerprint), field="fingerprint")
            key = dataclasses.replace(key, username=user[0], created_at=self._clock.now())
            _insert(conn, "ssh_keys", gr.ssh_key_row(key, K))
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
        release = Release(
            str(uuid.uuid4()),
            repository_uuid,
            tag,
            commit_sha,
            c.EPOCH,
            created_by,
            source,
            message,
        )
        return await self._run(self._create_release, release)

    def _create_release(self, conn: Conn, r: Release) -> Release:
        with _write(conn):
            _require_repository(conn, r.repository_uuid)
            sql = "SELECT 1 FROM releases WHERE repository_uuid = ? AND tag = ?"
            if _one(conn, sql, r.repository_uuid, r.tag):
                raise AlreadyExists(g.release_taken(r.tag), field="tag")
            r = dataclasses.replace(r, created_at=self._clock.now())
            _insert(conn, "releases", gr.release_row(r, K))
        return r

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
        p = Publication(
            repository_uuid,
            0,
            tag,
            commit_sha,
            kind,
            PublicationState.PENDING,
            c.EPOCH,
            requested_by,
            correlation_id,
        )
        return await self._run(self._create_publication, p)

    def _create_publication(self, conn: Conn, p: Publication) -> Publication:
        with _write(conn):
            _require_repository(conn, p.repository_uuid)
            sql = "SELECT coalesce(max(sequence), 0) FROM publications WHERE repository_uuid = ?"
            sequence = int(_one(conn, sql, p.repository_uuid)[0]) + 1
            p = dataclasses.replace(p, sequence=sequence, requested_at=self._clock.now())
            _insert(conn, "publications", gr.publication_row(p, K))
        return p

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
        args = (repository_uuid, sequence, state, at, changed, error)
        return await self._run(self._complete_publication, *args)

    def _complete_publication(
        self,
        conn: Conn,
        repository_uuid: str,
        sequence: int,
        state: PublicationState,
        at: datetime,
        changed: tuple[str, ...],
        error: str,
    ) -> Publication:
        with _write(conn):
            row = _one(conn, _PUBLICATION, repository_uuid, sequence)
            if row is None:
                raise NotFound(g.publication_missing(repository_uuid, sequence), field="sequence")
            current = gr.publication(row, K)
            done = g.publication_outcome(current, state, at, changed, error)
            if done is None:
                return current
            conn.execute(
                "UPDATE publications SET state = ?, completed_at = ?, changed = ?, error = ?"
                " WHERE repository_uuid = ? AND sequence = ?",
                (
                    state.value,
                    K.ts_out(at),
                    K.json_out(list(changed)),
                    error,
                    repository_uuid,
                    sequence,
                ),
            )
            if state is PublicationState.PUBLISHED:
                conn.execute(
                    "UPDATE publications SET state = 'SUPERSEDED', completed_at = ?"
                    " WHERE repository_uuid = ? AND sequence < ? AND state = 'PENDING'",
                    (K.ts_out(at), repository_uuid, sequence),
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
        hook = Webhook(
            str(uuid.uuid4()),
            repository_uuid,
            url,
            secret,
            c.EPOCH,
            created_by,
            True,
            description,
        )
        return await self._run(self._create_webhook, hook)

    def _create_webhook(self, conn: Conn, w: Webhook) -> Webhook:
        with _write(conn):
            _require_repository(conn, w.repository_uuid)
            sql = "SELECT 1 FROM webhooks WHERE repository_uuid = ? AND url = ?"
            if _one(conn, sql, w.repository_uuid, w.url):
                raise AlreadyExists(g.webhook_taken(w.url), field="url")
            w = dataclasses.replace(w, created_at=self._clock.now())
            _insert(conn, "webhooks", gr.webhook_row(w, K))
        return w

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
        d = WebhookDelivery(
            str(uuid.uuid4()),
            webhook_id,
            "",
            publication_sequence,
            stored,
            DeliveryState.PENDING,
            0,
            c.EPOCH,
            next_attempt_at,
        )
        return await self._run(self._create_delivery, d)

    def _create_delivery(self, conn: Conn, d: WebhookDelivery) -> WebhookDelivery:
        with _write(conn):
            hook = _one(conn, "SELECT repository_uuid FROM webhooks WHERE id = ?", d.webhook_id)
            if hook is None:
                raise NotFound(g.webhook_missing(d.webhook_id), field="webhook_id")
            sql = (
                "SELECT * FROM webhook_deliveries WHERE webhook_id = ? AND publication_sequence = ?"
            )
            if existing := _one(conn, sql, d.webhook_id, d.publication_sequence):
                return gr.delivery(existing, K)
            d = dataclasses.replace(d, repository_uuid=hook[0], created_at=self._clock.now())
            _insert(conn, "webhook_deliveries", gr.delivery_row(d, K))
        return d

    async def claim_due_deliveries(
        self, *, now: datetime, limit: int, lease_seconds: float
    ) -> list[WebhookDelivery]:
        now, until = g.check_claim(now, limit, lease_seconds)
        return await self._run(self._claim_deliveries, now, limit, until)

    def _claim_deliveries(self, conn: Conn, now: datetime, limit: int, until: datetime) -> Any:
        with _write(conn):
            due = conn.execute(
                "SELECT d.* FROM webhook_deliveries d JOIN webhooks w ON w.id = d.webhook_id"
                " WHERE d.state = 'PENDING' AND d.next_attempt_at <= ? AND w.active"
                " ORDER BY d.next_attempt_at, d.created_at, d.id LIMIT ?",
                (K.ts_out(now), limit),
            ).fetchall()
            conn.executemany(
                "UPDATE webhook_deliveries SET next_attempt_at = ? WHERE id = ?",
                [(K.ts_out(until), row["id"]) for row in due],
            )
        return [dataclasses.replace(gr.delivery(r, K), next_attempt_at=until) for r in due]

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
        args = (delivery_id, at, status_code, error, succeeded, next_attempt_at)
        return await self._run(self._record_attempt, *args)

    def _record_attempt(
        self,
        conn: Conn,
        delivery_id: str,
        at: datetime,
        status_code: int | None,
        error: str,
        succeeded: bool,
        next_attempt_at: datetime | None,
    ) -> WebhookDelivery:
        with _write(conn):
            row = _one(conn, "SELECT * FROM webhook_deliveries WHERE id = ?", delivery_id)
            if row is None:
                raise NotFound(g.delivery_missing(delivery_id), field="delivery_id")
            a = g.attempt_outcome(
                gr.delivery(row, K), at, status_code, error, succeeded, next_attempt_at
            )
            updated = _one(
                conn,
                "UPDATE webhook_deliveries SET state = ?, attempts = ?, next_attempt_at = ?,"
                " last_status_code = ?, last_error = ?, completed_at = ?, history = ?"
                " WHERE id = ? RETURNING *",
                a.state.value,
                a.attempts,
                K.opt_ts_out(a.next_attempt_at),
                a.last_status_code,
                a.last_error,
                K.opt_ts_out(a.completed_at),
                K.json_out(list(a.history)),
                delivery_id,
            )
        return gr.delivery(updated, K)

    # ------------------------------------------------------------------ SqlGitReads
    async def _rows(self, sql: str, *params: Any) -> list[Any]:
        return await self._run(_all, sql, *params)

    async def _count_and_page_rows(
        self, count: str, count_params: list[Any], page: str, page_params: list[Any]
    ) -> tuple[list[Any], int]:
        return await self._run(_count_and_page, count, count_params, page, page_params)


def _require_repository(conn: Conn, repository_uuid: str) -> None:
    if not _one(conn, "SELECT 1 FROM repositories WHERE id = ?", repository_uuid):
        raise NotFound(c.repository_missing(repository_uuid), field="repository_id")
