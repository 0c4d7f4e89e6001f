"""Git-ingress records to table rows and back, for both SQL stores (see ``_rows``: one
mapping, a ``Codec`` for the dialect's timestamps and JSON), and the lists both page the same
way (``SqlGitReads``: the reads and lists, whose SQL differs only by the parameter mark, ``?`` or
``%s``; each store runs them with its own ``_one``, ``_rows``, ``_change`` and
``_count_and_page_rows``)."""

from __future__ import annotations

import abc
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

from gitstore.domain.errors import NotFound

from . import _common as c
from . import _git_common as g
from ._rows import Codec, Row
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
SSH_KEY_SELECT = "SELECT k.*, u.username FROM ssh_keys k JOIN users u ON u.id = k.user_id"


def ssh_key_row(s: SshKey, k: Codec) -> dict[str, Any]:
    return {
        "id": s.id,
        "user_id": s.user_id,
        "title": s.title,
        "public_key": s.public_key,
        "fingerprint": s.fingerprint,
        "created_at": k.ts_out(s.created_at),
    }


def ssh_key(row: Row, k: Codec) -> SshKey:
    return SshKey(
        id=row["id"],
        user_id=row["user_id"],
        username=row["username"],
        title=row["title"],
        public_key=row["public_key"],
        fingerprint=row["fingerprint"],
        created_at=k.ts_in(row["created_at"]),
        last_used_at=k.opt_ts_in(row["last_used_at"]),
    )


def release_row(r: Release, k: Codec) -> dict[str, Any]:
    return {
        "id": r.id,
        "repository_uuid": r.repository_uuid,
        "tag": r.tag,
        "commit_sha": r.commit_sha,
        "created_at": k.ts_out(r.created_at),
        "created_by": r.created_by,
        "source": r.source,
        "message": r.message,
    }


def release(row: Row, k: Codec) -> Release:
    return Release(
        id=row["id"],
        repository_uuid=row["repository_uuid"],
        tag=row["tag"],
        commit_sha=row["commit_sha"],
        created_at=k.ts_in(row["created_at"]),
        created_by=row["created_by"],
        source=row["source"],
        message=row["message"],
    )


def publication_row(p: Publication, k: Codec) -> dict[str, Any]:
    return {
        "repository_uuid": p.repository_uuid,
        "sequence": p.sequence,
        "tag": p.tag,
        "commit_sha": p.commit_sha,
        "kind": p.kind.value,
        "state": p.state.value,
        "requested_at": k.ts_out(p.requested_at),
        "requested_by": p.requested_by,
        "correlation_id": p.correlation_id,
        "completed_at": k.opt_ts_out(p.completed_at),
        "changed": k.json_out(list(p.changed)),
        "error": p.error,
    }


def publication(row: Row, k: Codec) -> Publication:
    return Publication(
        repository_uuid=row["repository_uuid"],
        sequence=int(row["sequence"]),
        tag=row["tag"],
        commit_sha=row["commit_sha"],
        kind=PublicationKind(row["kind"]),
        state=PublicationState(row["state"]),
        requested_at=k.ts_in(row["requested_at"]),
        requested_by=row["requested_by"],
        correlation_id=row["correlation_id"],
        completed_at=k.opt_ts_in(row["completed_at"]),
        changed=tuple(k.json_in(row["changed"])),
        error=row["error"],
    )


def webhook_row(w: Webhook, k: Codec) -> dict[str, Any]:
    return {
        "id": w.id,
        "repository_uuid": w.repository_uuid,
        "url": w.url,
        "secret": w.secret,
        "created_at": k.ts_out(w.created_at),
        "created_by": w.created_by,
        "active": w.active,
        "description": w.description,
    }


def webhook(row: Row, k: Codec) -> Webhook:
    return Webhook(
        id=row["id"],
        repository_uuid=row["repository_uuid"],
        url=row["url"],
        secret=row["secret"],
        created_at=k.ts_in(row["created_at"]),
        created_by=row["created_by"],
        active=bool(row["active"]),
        description=row["description"],
    )


def delivery_row(d: WebhookDelivery, k: Codec) -> dict[str, Any]:
    return {
        "id": d.id,
        "webhook_id": d.webhook_id,
        "repository_uuid": d.repository_uuid,
        "publication_sequence": d.publication_sequence,
        "payload": k.json_out(d.payload),
        "state": d.state.value,
        "attempts": d.attempts,
        "created_at": k.ts_out(d.created_at),
        "next_attempt_at": k.opt_ts_out(d.next_attempt_at),
        "last_status_code": d.last_status_code,
        "last_error": d.last_error,
        "completed_at": k.opt_ts_out(d.completed_at),
        "history": k.json_out(list(d.history)),
    }


def delivery(row: Row, k: Codec) -> WebhookDelivery:
    return WebhookDelivery(
        id=row["id"],
        webhook_id=row["webhook_id"],
        repository_uuid=row["repository_uuid"],
        publication_sequence=int(row["publication_sequence"]),
        payload=k.json_in(row["payload"]),
        state=DeliveryState(row["state"]),
        attempts=int(row["attempts"]),
        created_at=k.ts_in(row["created_at"]),
        next_attempt_at=k.opt_ts_in(row["next_attempt_at"]),
        last_status_code=row["last_status_code"],
        last_error=row["last_error"],
        completed_at=k.opt_ts_in(row["completed_at"]),
        history=tuple(k.json_in(row["history"])),
    )


# ---------------------------------------------------------------------------- paging
def desc_page_queries(
    table: str, key_column: str, *, has_cursor: bool, mark: str
) -> tuple[str, str]:
    """``(count, page)`` for ``table`` rows of one ``key_column`` value, newest first by
    ``(created_at, id)``. Parameters: count ``[key]``; page ``[key, (created_at, id)?, limit]``."""
    where = f" WHERE {key_column} = {mark}"
    count = f"SELECT count(*) AS n FROM {table}{where}"
    if has_cursor:
        where += f" AND (created_at, id) < ({mark}, {mark})"
    page = f"SELECT * FROM {table}{where} ORDER BY created_at DESC, id DESC LIMIT {mark}"
    return count, page


def publication_queries(*, tag: bool, has_cursor: bool, mark: str) -> tuple[str, str]:
    """``(count, page)`` of a repository's publications, newest first. Parameters: count
    ``[repository, tag?]``; page ``[repository, tag?, before sequence?, limit]``."""
    where = f" WHERE repository_uuid = {mark}"
    if tag:
        where += f" AND tag = {mark}"
    count = f"SELECT count(*) AS n FROM publications{where}"
    if has_cursor:
        where += f" AND sequence < {mark}"
    page = f"SELECT * FROM publications{where} ORDER BY sequence DESC LIMIT {mark}"
    return count, page


def desc_page(
    found: list[Any], first: int, total: int, convert: Callable[[Any], T], prefix: str, k: Codec
) -> Page[T]:
    """A ``Page`` from up to ``first + 1`` rows ordered newest first by ``(created_at, id)``."""
    items = [convert(r) for r in found[:first]]
    end = None
    if items:
        last = found[len(items) - 1]
        end = g.encode_desc_cursor(prefix, k.ts_in(last["created_at"]), last["id"])
    return Page(items, total, len(found) > first, end)


def publication_page(found: list[Any], first: int, total: int, k: Codec) -> Page[Publication]:
    items = [publication(r, k) for r in found[:first]]
    end = g.encode_publication_cursor(items[-1].sequence) if items else None
    return Page(items, total, len(found) > first, end)


class SqlGitReads(GitMetadata):
    """The reads, lists and one-statement writes of ``GitMetadata`` whose SQL is the same in
    both dialects but for the parameter mark (``_MARK``) and the ``Codec`` (``_CODEC``). The
    writes that check and lock stay in each store (``_sqlite_git``, ``_postgres_git``)."""

    _MARK: ClassVar[str]
    _CODEC: ClassVar[Codec]

    if TYPE_CHECKING:

        async def _one(self, sql: str, *params: Any) -> Any: ...
        async def _change(self, sql: str, *params: Any) -> int: ...

    @abc.abstractmethod
    async def _rows(self, sql: str, *params: Any) -> list[Any]:
        """All rows of one query."""

    @abc.abstractmethod
    async def _count_and_page_rows(
        self, count: str, count_params: list[Any], page: str, page_params: list[Any]
    ) -> tuple[list[Any], int]:
        """``(page rows, total)`` read from one snapshot."""

    # ------------------------------------------------------------------ SSH keys
    async def list_ssh_keys(self, user_id: str) -> list[SshKey]:
        sql = f"{SSH_KEY_SELECT} WHERE k.user_id = {self._MARK} ORDER BY k.created_at, k.id"
        return [ssh_key(r, self._CODEC) for r in await self._rows(sql, user_id)]

    async def get_ssh_key_by_fingerprint(self, fingerprint: str) -> SshKey | None:
        row = await self._one(f"{SSH_KEY_SELECT} WHERE k.fingerprint = {self._MARK}", fingerprint)
        return ssh_key(row, self._CODEC) if row else None

    async def remove_ssh_key(self, user_id: str, key_id: str) -> bool:
        m = self._MARK
        sql = f"DELETE FROM ssh_keys WHERE id = {m} AND user_id = {m}"
        return await self._change(sql, key_id, user_id) > 0

    async def touch_ssh_key(self, key_id: str, *, at: datetime) -> None:
        at = g.check_time(at, "at")
        m = self._MARK
        sql = f"UPDATE ssh_keys SET last_used_at = {m} WHERE id = {m}"
        await self._change(sql, self._CODEC.ts_out(at), key_id)

    # ------------------------------------------------------------------ releases
    async def get_release(self, repository_uuid: str, tag: str) -> Release | None:
        m = self._MARK
        sql = f"SELECT * FROM releases WHERE repository_uuid = {m} AND tag = {m}"
        row = await self._one(sql, repository_uuid, tag)
        return release(row, self._CODEC) if row else None

    async def list_releases(
        self, repository_uuid: str, *, first: int, after: str | None = None
    ) -> Page[Release]:
        k = self._CODEC
        return await self._desc_page(
            "releases",
            "repository_uuid",
            repository_uuid,
            first,
            after,
            g.RELEASE_CURSOR,
            lambda r: release(r, k),
        )

    # ------------------------------------------------------------------ publications
    async def get_publication(self, repository_uuid: str, sequence: int) -> Publication | None:
        g.check_sequence(sequence)
        m = self._MARK
        sql = f"SELECT * FROM publications WHERE repository_uuid = {m} AND sequence = {m}"
        row = await self._one(sql, repository_uuid, sequence)
        return publication(row, self._CODEC) if row else None

    async def live_publication(self, repository_uuid: str) -> Publication | None:
        sql = (
            f"SELECT * FROM publications WHERE repository_uuid = {self._MARK}"
            " AND state = 'PUBLISHED' ORDER BY sequence DESC LIMIT 1"
        )
        row = await self._one(sql, repository_uuid)
        return publication(row, self._CODEC) if row else None

    # ------------------------------------------------------------------ webhooks
    async def get_webhook(self, webhook_id: str) -> Webhook | None:
        row = await self._one(f"SELECT * FROM webhooks WHERE id = {self._MARK}", webhook_id)
        return webhook(row, self._CODEC) if row else None

    async def list_webhooks(self, repository_uuid: str) -> list[Webhook]:
        sql = f"SELECT * FROM webhooks WHERE repository_uuid = {self._MARK} ORDER BY created_at, id"
        return [webhook(r, self._CODEC) for r in await self._rows(sql, repository_uuid)]

    async def update_webhook(
        self,
        webhook_id: str,
        *,
        active: bool | None = None,
        description: str | None = None,
        secret: str | None = None,
    ) -> Webhook:
        # One UPDATE: COALESCE keeps a column whose new value is NULL (not given).
        g.check_webhook_update(description, secret)
        m = self._MARK
        sql = (
            f"UPDATE webhooks SET active = COALESCE({m}, active),"
            f" description = COALESCE({m}, description), secret = COALESCE({m}, secret)"
            f" WHERE id = {m}"
        )
        flag = None if active is None else bool(active)
        if not await self._change(sql, flag, description, secret, webhook_id):
            raise NotFound(g.webhook_missing(webhook_id), field="webhook_id")
        found = await self.get_webhook(webhook_id)
        if found is None:  # deleted in between
            raise NotFound(g.webhook_missing(webhook_id), field="webhook_id")
        return found

    async def delete_webhook(self, webhook_id: str) -> bool:
        sql = f"DELETE FROM webhooks WHERE id = {self._MARK}"
        return await self._change(sql, webhook_id) > 0

    # ------------------------------------------------------------------ deliveries
    async def list_deliveries(
        self, webhook_id: str, *, first: int, after: str | None = None
    ) -> Page[WebhookDelivery]:
        k = self._CODEC
        return await self._desc_page(
            "webhook_deliveries",
            "webhook_id",
            webhook_id,
            first,
            after,
            g.DELIVERY_CURSOR,
            lambda r: delivery(r, k),
        )

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
        count, page = publication_queries(
            tag=tag is not None, has_cursor=before is not None, mark=self._MARK
        )
        params: list[Any] = [repository_uuid] + ([tag] if tag is not None else [])
        cursor = [before] if before is not None else []
        found, total = await self._count_and_page_rows(
            count, params, page, [*params, *cursor, first + 1]
        )
        return publication_page(found, first, total, self._CODEC)

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
        count, page = desc_page_queries(
            table, key_column, has_cursor=start is not None, mark=self._MARK
        )
        k = self._CODEC
        cursor = [k.ts_out(start[0]), start[1]] if start else []
        found, total = await self._count_and_page_rows(
            count, [key], page, [key, *cursor, first + 1]
        )
        return desc_page(found, first, total, convert, prefix, k)
