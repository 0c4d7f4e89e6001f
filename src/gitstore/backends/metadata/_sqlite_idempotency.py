"""The SQLite store's idempotency keys, a mixin of ``SqliteMetadataStore`` using its plumbing
(``_run`` on the writer thread, ``_change``, see ``sqlite``).

A claim inserts the row (``ON CONFLICT DO NOTHING``) or reads the existing one inside one
``BEGIN IMMEDIATE``; take-over, lease extension and release are single conditional
``UPDATE``/``DELETE`` statements (owner, ``response IS NULL`` and, for a take-over, the
lease having run out, all in the ``WHERE``), so of concurrent callers exactly one changes
the row. Timestamps are microseconds since the epoch, judged by the store's clock.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from gitstore.domain.errors import NotFound

from . import _common as c
from . import _rows as rows
from ._sqlite_util import Conn, K, _one, _write
from .base import DEFAULT_IDEMPOTENCY_LEASE_SECONDS, IdempotencyRecord

T = TypeVar("T")


class SqliteIdempotency:
    if TYPE_CHECKING:
        _clock: c.Clock

        async def _run(self, fn: Callable[..., T], *args: Any) -> T: ...
        async def _change(self, sql: str, *params: Any) -> int: ...

    async def claim_idempotency_key(
        self,
        scope: str,
        key: str,
        request_hash: str,
        *,
        owner: str = "",
        lease_seconds: float = DEFAULT_IDEMPOTENCY_LEASE_SECONDS,
    ) -> IdempotencyRecord | None:
        return await self._run(self._claim, scope, key, request_hash, owner, lease_seconds)

    def _claim(
        self, conn: Conn, scope: str, key: str, request_hash: str, owner: str, lease: float
    ) -> Any:
        now = self._clock.now()
        until = c.lease_end(now, lease)
        with _write(conn):
            inserted = conn.execute(
                "INSERT INTO idempotency_keys"
                " (scope, key, request_hash, created_at, owner, claimed_at, lease_until)"
                " VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (scope, key) DO NOTHING",
                (
                    scope,
                    key,
                    request_hash,
                    c.to_micros(now),
                    owner,
                    c.to_micros(now),
                    c.to_micros(until),
                ),
            ).rowcount
            if inserted:
                return None
            sql = "SELECT * FROM idempotency_keys WHERE scope = ? AND key = ?"
            return rows.idempotency(_one(conn, sql, scope, key), K, now)

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
        until = c.to_micros(c.lease_end(now, lease_seconds))
        sql = (
            "UPDATE idempotency_keys SET owner = ?, claimed_at = ?, lease_until = ?"
            " WHERE scope = ? AND key = ? AND owner = ? AND response IS NULL"
            " AND lease_until <= ?"
        )
        micros = c.to_micros(now)
        changed = await self._change(sql, owner, micros, until, scope, key, expired_owner, micros)
        return changed == 1

    async def extend_idempotency_lease(
        self,
        scope: str,
        key: str,
        *,
        owner: str,
        lease_seconds: float = DEFAULT_IDEMPOTENCY_LEASE_SECONDS,
    ) -> bool:
        until = c.to_micros(c.lease_end(self._clock.now(), lease_seconds))
        sql = (
            "UPDATE idempotency_keys SET lease_until = ?"
            " WHERE scope = ? AND key = ? AND owner = ? AND response IS NULL"
        )
        return await self._change(sql, until, scope, key, owner) == 1

    async def complete_idempotency_key(
        self, scope: str, key: str, response: dict[str, Any]
    ) -> None:
        sql = "UPDATE idempotency_keys SET response = ? WHERE scope = ? AND key = ?"
        if not await self._change(sql, c.json_text(response, "response"), scope, key):
            raise NotFound(c.idempotency_missing(scope, key), field="key")

    async def release_idempotency_key(
        self, scope: str, key: str, *, owner: str | None = None
    ) -> None:
        sql = "DELETE FROM idempotency_keys WHERE scope = ? AND key = ? AND response IS NULL"
        if owner is None:
            await self._change(sql, scope, key)
        else:
            await self._change(sql + " AND owner = ?", scope, key, owner)
