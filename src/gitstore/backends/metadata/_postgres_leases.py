"""The PostgreSQL store's controller leases, a mixin of ``PostgresMetadataStore`` (its
plumbing: ``_tx`` and ``_change``); times are ``TIMESTAMPTZ`` by the store's clock."""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager
from datetime import UTC
from typing import TYPE_CHECKING, Any

from . import _common as c
from . import _sql_leases as sql
from ._postgres_util import _one
from .base_leases import ControllerLease, check_lease_request


def _same(value: Any) -> Any:
    return value.astimezone(UTC)


class PostgresLeases:
    if TYPE_CHECKING:
        _clock: c.Clock

        def _tx(self) -> AbstractAsyncContextManager[Any]: ...
        async def _change(self, query: str, *params: Any) -> int: ...

    async def acquire_lease(
        self, scope: str, name: str, holder: str, *, lease_seconds: float
    ) -> ControllerLease:
        check_lease_request(scope, name, holder, lease_seconds)
        now = self._clock.now()
        until = c.lease_end(now, lease_seconds)
        async with self._tx() as conn:
            await conn.execute(sql.upsert("%s"), (scope, name, holder, now, now, until))
            row = await _one(conn, sql.select("%s"), scope, name)
        return sql.lease(row, _same)

    async def release_lease(self, scope: str, name: str, holder: str) -> bool:
        return await self._change(sql.delete("%s"), scope, name, holder) == 1

    async def get_lease(self, scope: str, name: str) -> ControllerLease | None:
        async with self._tx() as conn:
            row = await _one(conn, sql.select("%s"), scope, name)
        return None if row is None else sql.lease(row, _same)
