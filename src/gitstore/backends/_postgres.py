"""PostgreSQL plumbing shared by the metadata and the resource store: a connection pool opened
lazily by the first call (inside the running event loop), the schema-name rule, and the
advisory lock that lets concurrent processes run migrations once."""

from __future__ import annotations

import asyncio
import hashlib
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import psycopg
import psycopg.errors
from psycopg import sql
from psycopg_pool import AsyncConnectionPool, PoolTimeout

from gitstore.domain.errors import Aborted, Unavailable

SCHEMA_NAME = re.compile(r"[a-z_][a-z0-9_]{0,62}")


class LazyPool:
    """An ``AsyncConnectionPool`` opened by the first ``get()``; with ``schema`` every
    connection has ``search_path=<schema>``. ``what`` names the store in errors."""

    def __init__(
        self,
        conninfo: str,
        *,
        what: str,
        name: str,
        schema: str | None,
        min_size: int,
        max_size: int,
        timeout: float,
    ) -> None:
        self._conninfo = conninfo
        self._what = what
        self._name = name
        self._schema = schema
        self._min_size = min_size
        self._max_size = max_size
        self._timeout = timeout
        self._pool: AsyncConnectionPool | None = None
        self._opening = asyncio.Lock()
        self._closed = False

    async def get(self) -> AsyncConnectionPool:
        """The open pool; ``Unavailable`` once closed or when PostgreSQL cannot be reached."""
        if self._closed:
            raise Unavailable(f"the {self._what} is closed")
        if self._pool is not None:
            return self._pool
        async with self._opening:
            if self._pool is None:
                kwargs: dict[str, Any] = {}
                if self._schema is not None:
                    kwargs["options"] = f"-c search_path={self._schema}"
                pool = AsyncConnectionPool(
                    self._conninfo,
                    min_size=self._min_size,
                    max_size=self._max_size,
                    kwargs=kwargs,
                    timeout=self._timeout,
                    open=False,
                    name=self._name,
                )
                try:
                    await pool.open(wait=True, timeout=self._timeout)
                except (PoolTimeout, psycopg.Error) as exc:
                    await pool.close()
                    raise Unavailable(f"cannot connect to PostgreSQL: {exc}") from exc
                self._pool = pool
        return self._pool

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[psycopg.AsyncConnection[Any]]:
        """One pooled connection, one transaction (committed on success); lost races are
        ``Aborted``, connection trouble ``Unavailable``."""
        pool = await self.get()
        try:
            async with pool.connection() as conn:
                yield conn
        except (psycopg.errors.SerializationFailure, psycopg.errors.DeadlockDetected) as exc:
            raise Aborted(f"lost a race with a concurrent change, retry: {exc}") from exc
        except PoolTimeout as exc:
            raise Unavailable(f"no PostgreSQL connection available: {exc}") from exc
        except psycopg.OperationalError as exc:
            raise Unavailable(f"PostgreSQL is unavailable: {exc}") from exc

    async def close(self) -> None:
        self._closed = True
        if self._pool is not None:
            pool, self._pool = self._pool, None
            await pool.close()


async def lock_migrations(
    conn: psycopg.AsyncConnection[Any], label: str, schema: str | None
) -> None:
    """Take the transaction-scoped advisory lock of ``label``'s migrations in ``schema`` (so
    two processes starting at once apply each migration once) and create ``schema``."""
    seed = f"{label}:{schema or ''}".encode()
    lock_key = int.from_bytes(hashlib.sha256(seed).digest()[:8], "big", signed=True)
    await conn.execute("SELECT pg_advisory_xact_lock(%s)", (lock_key,))
    if schema is not None:
        create = sql.SQL("CREATE SCHEMA IF NOT EXISTS {}")
        await conn.execute(create.format(sql.Identifier(schema)))
