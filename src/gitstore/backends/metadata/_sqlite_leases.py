"""The SQLite store's controller leases, a mixin of ``SqliteMetadataStore`` (its plumbing:
``_run`` on the writer thread). Times are µs since the epoch by the store's clock."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from . import _common as c
from . import _sql_leases as sql
from ._sqlite_util import Conn, _one, _write
from .base_leases import ControllerLease, check_lease_request

T = TypeVar("T")


class SqliteLeases:
    if TYPE_CHECKING:
        _clock: c.Clock

        async def _run(self, fn: Callable[..., T], *args: Any) -> T: ...

    async def acquire_lease(
        self, scope: str, name: str, holder: str, *, lease_seconds: float
    ) -> ControllerLease:
        check_lease_request(scope, name, holder, lease_seconds)
        return await self._run(self._acquire, scope, name, holder, lease_seconds)

    def _acquire(
        self, conn: Conn, scope: str, name: str, holder: str, seconds: float
    ) -> ControllerLease:
        now = self._clock.now()
        n, until = c.to_micros(now), c.to_micros(c.lease_end(now, seconds))
        with _write(conn):
            conn.execute(sql.upsert("?"), (scope, name, holder, n, n, until))
            row = _one(conn, sql.select("?"), scope, name)
        return sql.lease(row, c.from_micros)

    async def release_lease(self, scope: str, name: str, holder: str) -> bool:
        return await self._run(self._release, scope, name, holder)

    def _release(self, conn: Conn, scope: str, name: str, holder: str) -> bool:
        return int(conn.execute(sql.delete("?"), (scope, name, holder)).rowcount) == 1

    async def get_lease(self, scope: str, name: str) -> ControllerLease | None:
        row = await self._run(lambda conn: _one(conn, sql.select("?"), scope, name))
        return None if row is None else sql.lease(row, c.from_micros)
