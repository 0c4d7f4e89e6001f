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
from .base import Page
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

T = TypeVar("T")
_KEY_BY_FINGERPRINT = gr.SSH_KEY_SELECT + " WHERE k.fingerprint = ?"
_PUBLICATION = "SELECT * FROM publications WHERE repository_uuid = ? AND sequence = ?"


class SqliteGitStore(GitMetadata):
    if TYPE_CHECKING:
        _clock: c.Clock

        async def _run(self, fn: Callable[..., T], *args: Any) -> T: ...
        async def _one(self, sql: str, *params: Any) -> Any: ...
        async def _change(self, sql: str, *params: Any) -> int: ...

    # ------------------------------------------------------------------ SSH keys
    async def add_ssh_key(
        self, user_id: str, *, title: str, public_key: str, fingerprint: str
    ) -> SshKey:
        g.check_text(title, "title")
        g.check_public_key(public_key)
        g.check_fingerprint(fingerprint)
        key = SshKey(str(uuid.uuid4()), user_id, "", title, public_key, fingerprint, c.EPOCH)
        return await self._run(self._add_ssh_key, key)

    def _add_ssh_key(self, conn: Conn, key: SshKey) -> SshKey:
        with _write(conn):
            user = _one(conn, "SELECT username FROM users WHERE id = ?", key.user_id)
            if user is None:
                raise NotFound(c.user_missing(key.user_id), field="user_id")
            if _one(conn, "SELECT 1 FROM ssh_keys WHERE fingerprint = ?", key.fingerprint):
                raise AlreadyExists(g.fingerprint_taken(key.fingerprint), field="fingerprint")
            key = SshKey(
                key.id,
                key.user_id,
                user[0],
                key.title,
                key.public_key,
                key.fingerprint,
                self._clock.now(),
            )
            _insert(conn, "ssh_keys", gr.ssh_key_row(key, K))
        return key

    async def list_ssh_keys(self, user_id: str) -> list[SshKey]:
        sql = gr.SSH_KEY_SELECT + " WHERE k.user_id = ? ORDER BY k.created_at, k.id"
        return [gr.ssh_key(r, K) for r in await self._run(_all, sql, user_id)]

    async def get_ssh_key_by_fingerprint(self, fingerprint: str) -> SshKey | None:
        row = await self._one(_KEY_BY_FINGERPRINT, fingerprint)
        return gr.ssh_key(row, K) if row else None

    async def remove_ssh_key(self, user_id: str, key_id: str) -> bool:
        sql = "DELETE FROM ssh_keys WHERE id = ? AND user_id = ?"
        return await self._change(sql, key_id, user_id) > 0

    async def touch_ssh_key(self, key_id: str, *, at: datetime) -> None:
        at = g.check_time(at, "at")
        await self._change(
            "UPDATE ssh_keys SET last_used_at = ? WHERE id = ?", K.ts_out(at), key_id
        )

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
        g.check_tag(tag)
        g.check_commit(commit_sha)
        g.check_source(source)
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
            r = Release(
                r.id,
                r.repository_uuid,
                r.tag,
                r.commit_sha,
                self._clock.now(),
                r.created_by,
                r.source,
                r.message,
            )
            _insert(conn, "releases", gr.release_row(r, K))
        return r

    async def get_release(self, repository_uuid: str, tag: str) -> Release | None:
        sql = "SELECT * FROM releases WHERE repository_uuid = ? AND tag = ?"
        row = await self._one(sql, repository_uuid, tag)
        return gr.release(row, K) if row else None

    async def list_releases(
        self, repository_uuid: str, *, first: int, after: str | None = None
    ) -> Page[Release]:
        return await self._desc_page(
            "releases",
            "repository_uuid",
            repository_uuid,
            first,
            after,
            g.RELEASE_CURSOR,
            lambda r: gr.release(r, K),
        )

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
        g.check_tag(tag)
        g.check_commit(commit_sha)
        kind = g.check_kind(kind)
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
            p = Publication(
                p.repository_uuid,
                sequence,
                p.tag,
                p.commit_sha,
                p.kind,
                p.state,
                self._clock.now(),
                p.requested_by,
                p.correlation_id,
            )
            _insert(conn, "publications", gr.publication_row(p, K))
        return p

    async def get_publication(self, repository_uuid: str, sequence: int) -> Publication | None:
        g.check_sequence(sequence)
        row = await self._one(_PUBLICATION, repository_uuid, sequence)
        return gr.publication(row, K) if row else None

    async def list_publications(
        self,
        repository_uuid: str,
        *,
        first: int,
        after: str | None = None,
        tag: str | None = None,
    ) -> Page[Publication]:
        c.check_first(first)
        before = g.decode_publication_cursor(after) if after is not None else None
        count, page = gr.publication_queries(
            tag=tag is not None, has_cursor=before is not None, mark="?"
        )
        params: list[Any] = [repository_uuid] + ([tag] if tag is not None else [])
        cursor = [before] if before is not None else []
        found, total = await self._run(
            _count_and_page, count, params, page, [*params, *cursor, first + 1]
        )
        return gr.publication_page(found, first, total, K)

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
        g.check_sequence(sequence)
        state = g.check_final_state(state)
        at = g.check_time(at, "at")
        changed = g.check_changed(changed)
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

    async def live_publication(self, repository_uuid: str) -> Publication | None:
        sql = (
            "SELECT * FROM publications WHERE repository_uuid = ? AND state = 'PUBLISHED'"
            " ORDER BY sequence DESC LIMIT 1"
        )
        row = await self._one(sql, repository_uuid)
        return gr.publication(row, K) if row else None

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
        g.check_url(url)
        g.check_text(secret, "secret", limit=1024)
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
            w = Webhook(
                w.id,
                w.repository_uuid,
                w.url,
                w.secret,
                self._clock.now(),
                w.created_by,
                w.active,
                w.description,
            )
            _insert(conn, "webhooks", gr.webhook_row(w, K))
        return w

    async def get_webhook(self, webhook_id: str) -> Webhook | None:
        row = await self._one("SELECT * FROM webhooks WHERE id = ?", webhook_id)
        return gr.webhook(row, K) if row else None

    async def list_webhooks(self, repository_uuid: str) -> list[Webhook]:
        sql = "SELECT * FROM webhooks WHERE repository_uuid = ? ORDER BY created_at, id"
        return [gr.webhook(r, K) for r in await self._run(_all, sql, repository_uuid)]

    async def delete_webhook(self, webhook_id: str) -> bool:
        return await self._change("DELETE FROM webhooks WHERE id = ?", webhook_id) > 0

    # ------------------------------------------------------------------ deliveries
    async def create_delivery(
        self,
        webhook_id: str,
        *,
        publication_sequence: int,
        payload: dict[str, Any],
        next_attempt_at: datetime,
    ) -> WebhookDelivery:
        g.check_sequence(publication_sequence, "publication_sequence")
        stored = c.json_copy(payload, "payload")
        next_attempt_at = g.check_time(next_attempt_at, "next_attempt_at")
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
            d = WebhookDelivery(
                d.id,
                d.webhook_id,
                hook[0],
                d.publication_sequence,
                d.payload,
                d.state,
                d.attempts,
                self._clock.now(),
                d.next_attempt_at,
            )
            _insert(conn, "webhook_deliveries", gr.delivery_row(d, K))
        return d

    async def claim_due_deliveries(
        self, *, now: datetime, limit: int, lease_seconds: float
    ) -> list[WebhookDelivery]:
        now = g.check_time(now, "now")
        g.check_limit(limit)
        until = g.lease_until(now, lease_seconds)
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
        at = g.check_time(at, "at")
        if next_attempt_at is not None:
            next_attempt_at = g.check_time(next_attempt_at, "next_attempt_at")
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

    async def list_deliveries(
        self, webhook_id: str, *, first: int, after: str | None = None
    ) -> Page[WebhookDelivery]:
        return await self._desc_page(
            "webhook_deliveries",
            "webhook_id",
            webhook_id,
            first,
            after,
            g.DELIVERY_CURSOR,
            lambda r: gr.delivery(r, K),
        )

    # ------------------------------------------------------------------ paging
    async def _desc_page(
        self,
        table: str,
        key_column: str,
        key: str,
        first: int,
        after: str | None,
        prefix: str,
        convert: Callable[[Any], T],
    ) -> Page[T]:
        c.check_first(first)
        start = g.decode_desc_cursor(prefix, after) if after is not None else None
        count, page = gr.desc_page_queries(
            table, key_column, has_cursor=start is not None, mark="?"
        )
        cursor = [c.to_micros(start[0]), start[1]] if start else []
        found, total = await self._run(
            _count_and_page, count, [key], page, [key, *cursor, first + 1]
        )
        return gr.desc_page(found, first, total, convert, prefix, K)


def _require_repository(conn: Conn, repository_uuid: str) -> None:
    if not _one(conn, "SELECT 1 FROM repositories WHERE id = ?", repository_uuid):
        raise NotFound(c.repository_missing(repository_uuid), field="repository_id")
