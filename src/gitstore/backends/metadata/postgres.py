"""``PostgresMetadataStore``: the metadata store on PostgreSQL (psycopg 3, async pool).

Design:

* **Pool.** A ``psycopg_pool.AsyncConnectionPool`` opened lazily by the first call (normally
  ``migrate()``), inside the running event loop. Every method borrows one connection for one
  transaction (the pool commits on success and rolls back on error).
* **Schema.** Tables live in the first schema of the ``search_path``; ``schema=`` puts them in
  a schema of their own (``-c search_path=<schema>`` on every connection; ``migrate()``
  creates it). The tests give every test a fresh schema this way.
* **Rules under concurrency.** ``READ COMMITTED`` plus row locks and constraints:
  creating an organisation or a repository takes ``FOR KEY SHARE`` on the parent namespace row,
  and deleting a namespace takes ``FOR UPDATE`` on it before counting its repositories and
  child organisations, so a delete and a concurrent create serialise on that row and the guard
  cannot be bypassed. Unique names use ``INSERT ... ON CONFLICT DO NOTHING`` (a conflict, even
  with a concurrent transaction, becomes ``AlreadyExists``); the foreign keys back everything.
* **Migrations** run under a transaction-scoped advisory lock keyed by the schema, so two
  processes starting at once apply each migration once.
* **Errors.** Connection failures and pool timeouts are ``Unavailable``; serialisation
  failures and deadlocks ``Aborted``; constraint violations that escape the explicit checks
  ``AlreadyExists`` / ``FailedPrecondition``.
* **Git ingress** (SSH keys, releases, publications, webhooks, deliveries) is the mixin
  ``_postgres_git.PostgresGitStore`` (sequence allocation under a repository row lock, delivery
  claims with ``SKIP LOCKED``); shared helpers live in ``_postgres_util``, and the pool,
  its error mapping and the migration lock (shared with the resource store) in
  ``gitstore.backends._postgres``.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any, TypeVar

import psycopg
import psycopg.errors
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

from gitstore.backends._postgres import SCHEMA_NAME, LazyPool, lock_migrations
from gitstore.domain.errors import (
    AlreadyExists,
    FailedPrecondition,
    InvalidArgument,
    NotFound,
)

from . import _common as c
from . import _rows as rows
from ._postgres_git import PostgresGitStore
from ._postgres_leases import PostgresLeases
from ._postgres_util import Conn, K, Row, _all, _count, _insert, _one
from ._sql_changes import SqlChangeRequests
from .base import (
    DEFAULT_IDEMPOTENCY_LEASE_SECONDS,
    AccessToken,
    AuditEntry,
    IdempotencyRecord,
    Membership,
    MetadataStore,
    Namespace,
    NamespacePatch,
    Page,
    PublishMode,
    RepositoryPatch,
    RepositoryRecord,
    Role,
    Tier,
    User,
    Visibility,
)
from .migrations import load_migrations

T = TypeVar("T")
_REPO_BY_ID = rows.REPO_SELECT + " WHERE r.id = %s"


class PostgresMetadataStore(PostgresLeases, PostgresGitStore, SqlChangeRequests, MetadataStore):
    """``PostgresMetadataStore(conninfo, *, schema=None, min_size=1, max_size=10,
    timeout=10.0)``; ``conninfo`` is a libpq URL or key/value string."""

    def __init__(
        self,
        conninfo: str,
        *,
        schema: str | None = None,
        min_size: int = 1,
        max_size: int = 10,
        timeout: float = 10.0,
    ) -> None:
        if schema is not None and not SCHEMA_NAME.fullmatch(schema):
            raise InvalidArgument(
                f"schema {schema!r} must be a lowercase SQL identifier (a-z, 0-9, _)",
                field="schema",
            )
        self._schema = schema
        self._clock = c.Clock()
        self._pool = LazyPool(
            conninfo,
            what="metadata store",
            name="gitstore-metadata",
            schema=schema,
            min_size=min_size,
            max_size=max(max_size, min_size),
            timeout=timeout,
        )

    @property
    def schema(self) -> str | None:
        return self._schema

    # ------------------------------------------------------------------ plumbing
    @asynccontextmanager
    async def _tx(self) -> AsyncIterator[Conn]:
        """One connection, one transaction; library errors mapped to project errors."""
        try:
            async with self._pool.transaction() as conn:
                yield conn
        except psycopg.errors.UniqueViolation as exc:
            raise AlreadyExists(f"already exists ({exc.diag.constraint_name})") from exc
        except psycopg.errors.ForeignKeyViolation as exc:
            raise FailedPrecondition(
                f"a referenced record is missing or still in use ({exc.diag.constraint_name})"
            ) from exc
        except psycopg.errors.IntegrityError as exc:
            raise FailedPrecondition(f"constraint violated: {exc}") from exc

    async def _one(self, query: str, *params: Any) -> Row | None:
        async with self._tx() as conn:
            return await _one(conn, query, *params)

    async def _all(self, query: str, *params: Any) -> list[Row]:
        async with self._tx() as conn:
            return await _all(conn, query, *params)

    async def _cr_exec(self, query: str, *params: Any) -> list[Any]:
        """One statement in its own transaction; its rows (none for a plain write)."""
        async with self._tx() as conn:
            cur = conn.cursor(row_factory=dict_row)
            await cur.execute(query.encode(), params)
            return await cur.fetchall() if cur.description is not None else []

    async def _change(self, query: str, *params: Any) -> int:
        async with self._tx() as conn:
            return (await conn.execute(query, params)).rowcount

    async def close(self) -> None:
        await self._pool.close()

    # ------------------------------------------------------------------ lifecycle
    async def migrate(self) -> int:
        migrations = load_migrations("postgres")
        async with self._tx() as conn:
            await lock_migrations(conn, "gitstore-metadata-migrations", self._schema)
            await conn.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY,"
                " name TEXT NOT NULL, applied_at TIMESTAMPTZ NOT NULL)"
            )
            rows = await _all(conn, "SELECT version FROM schema_migrations")
            applied = {r["version"] for r in rows}
            c.check_not_newer(applied, migrations)
            for migration in migrations:
                if migration.version in applied:
                    continue
                await conn.execute(migration.sql.encode())
                await conn.execute(
                    "INSERT INTO schema_migrations (version, name, applied_at) VALUES (%s, %s, %s)",
                    (migration.version, migration.name, self._clock.now()),
                )
        return max(m.version for m in migrations)

    # ------------------------------------------------------------------ users
    async def create_user(self, username: str, password_hash: str, *, is_admin: bool) -> User:
        c.check_username(username)
        user = User(str(uuid.uuid4()), username, password_hash, bool(is_admin), self._clock.now())
        async with self._tx() as conn:
            if not await _insert(conn, "users", rows.user_row(user, K)):
                raise AlreadyExists(f"user {username!r} already exists", field="username")
        return user

    async def get_user(self, user_id: str) -> User | None:
        row = await self._one("SELECT * FROM users WHERE id = %s", user_id)
        return rows.user(row, K) if row else None

    async def get_user_by_username(self, username: str) -> User | None:
        row = await self._one("SELECT * FROM users WHERE username = %s", username)
        return rows.user(row, K) if row else None

    async def list_users(self, *, first: int, after: str | None = None) -> Page[User]:
        return await self._page("users", None, first, after, lambda r: rows.user(r, K))

    async def update_user_password(
        self, user_id: str, password_hash: str, *, end_sessions: bool = False
    ) -> None:
        query = (
            "UPDATE users SET password_hash = %s, session_epoch = session_epoch + %s WHERE id = %s"
        )
        if not await self._change(query, password_hash, int(end_sessions), user_id):
            raise NotFound(c.user_missing(user_id), field="user_id")

    async def set_user_disabled(self, user_id: str, disabled: bool) -> User:
        async with self._tx() as conn:
            query = c.SET_USER_DISABLED.format(m="%s")
            row = await _one(conn, query, disabled, disabled, user_id)
        if row is None:
            raise NotFound(c.user_missing(user_id), field="user_id")
        return rows.user(row, K)

    # ------------------------------------------------------------------ access tokens
    async def create_token(
        self,
        user_id: str,
        name: str,
        token_hash: str,
        scopes: frozenset[str],
        expires_at: datetime | None,
    ) -> AccessToken:
        scopes = c.check_scopes(scopes)
        now = self._clock.now()
        token = AccessToken(str(uuid.uuid4()), user_id, name, token_hash, scopes, now, expires_at)
        async with self._tx() as conn:
            if not await _one(conn, "SELECT 1 FROM users WHERE id = %s FOR KEY SHARE", user_id):
                raise NotFound(c.user_missing(user_id), field="user_id")
            if not await _insert(conn, "access_tokens", rows.token_row(token, K)):
                raise AlreadyExists("a token with this hash already exists", field="token_hash")
        return token

    async def get_token_by_hash(self, token_hash: str) -> AccessToken | None:
        row = await self._one("SELECT * FROM access_tokens WHERE token_hash = %s", token_hash)
        return rows.token(row, K) if row else None

    async def list_tokens(self, user_id: str) -> list[AccessToken]:
        query = "SELECT * FROM access_tokens WHERE user_id = %s ORDER BY created_at, id"
        return [rows.token(r, K) for r in await self._all(query, user_id)]

    async def revoke_token(self, token_id: str, *, at: datetime) -> bool:
        query = "UPDATE access_tokens SET revoked_at = %s WHERE id = %s AND revoked_at IS NULL"
        return await self._change(query, at, token_id) > 0

    async def touch_token(self, token_id: str, *, at: datetime) -> None:
        await self._change("UPDATE access_tokens SET last_used_at = %s WHERE id = %s", at, token_id)

    # ------------------------------------------------------------------ namespaces
    async def create_namespace(
        self,
        identifier: str,
        tier: Tier,
        *,
        display_name: str,
        parent_enterprise_id: str | None,
        created_by: str,
    ) -> Namespace:
        tier = c.check_new_namespace(identifier, tier, parent_enterprise_id)
        now, by, parent_id = self._clock.now(), created_by, parent_enterprise_id
        ns = Namespace(
            str(uuid.uuid4()), identifier, display_name, tier, parent_id, now, by, now, by
        )
        async with self._tx() as conn:
            if parent_id is not None:
                query = "SELECT tier FROM namespaces WHERE id = %s FOR KEY SHARE"
                row = await _one(conn, query, parent_id)
                parent_tier = Tier(row["tier"]) if row else None
                if parent_tier is not Tier.ENTERPRISE:
                    raise c.parent_problem(parent_id, parent_tier)
            if not await _insert(conn, "namespaces", rows.namespace_row(ns, K)):
                raise AlreadyExists(c.namespace_taken(identifier), field="identifier")
        return ns

    async def get_namespace(self, namespace_id: str) -> Namespace | None:
        row = await self._one("SELECT * FROM namespaces WHERE id = %s", namespace_id)
        return rows.namespace(row, K) if row else None

    async def get_namespace_by_identifier(self, identifier: str) -> Namespace | None:
        row = await self._one("SELECT * FROM namespaces WHERE identifier = %s", identifier)
        return rows.namespace(row, K) if row else None

    async def list_namespaces(self, *, first: int, after: str | None = None) -> Page[Namespace]:
        return await self._page("namespaces", None, first, after, lambda r: rows.namespace(r, K))

    async def update_namespace(
        self, namespace_id: str, patch: NamespacePatch, *, updated_by: str
    ) -> Namespace:
        row = await self._one(
            "UPDATE namespaces SET display_name = coalesce(%s, display_name),"
            " updated_at = %s, updated_by = %s WHERE id = %s RETURNING *",
            patch.display_name,
            self._clock.now(),
            updated_by,
            namespace_id,
        )
        if row is None:
            raise NotFound(c.namespace_missing(namespace_id), field="namespace_id")
        return rows.namespace(row, K)

    async def delete_namespace(self, namespace_id: str) -> None:
        async with self._tx() as conn:
            query = "SELECT identifier FROM namespaces WHERE id = %s FOR UPDATE"
            row = await _one(conn, query, namespace_id)
            if row is None:
                raise NotFound(c.namespace_missing(namespace_id), field="namespace_id")
            identifier = row["identifier"]
            query = "SELECT count(*) AS n FROM repositories WHERE namespace_id = %s"
            if repos := await _count(conn, query, namespace_id):
                raise FailedPrecondition(c.namespace_has_repositories(identifier, repos))
            query = "SELECT count(*) AS n FROM namespaces WHERE parent_enterprise_id = %s"
            if children := await _count(conn, query, namespace_id):
                raise FailedPrecondition(c.namespace_has_children(identifier, children))
            await conn.execute("DELETE FROM namespaces WHERE id = %s", (namespace_id,))

    # ------------------------------------------------------------------ memberships
    async def set_membership(self, namespace_id: str, username: str, role: Role) -> Membership:
        role = c.check_role(role)
        values = rows.membership_row(Membership(namespace_id, username, role, self._clock.now()), K)
        upsert = " ON CONFLICT (namespace_id, username) DO UPDATE SET role = excluded.role"
        async with self._tx() as conn:
            query = "SELECT 1 FROM namespaces WHERE id = %s FOR KEY SHARE"
            if not await _one(conn, query, namespace_id):
                raise NotFound(c.namespace_missing(namespace_id), field="namespace_id")
            query = "SELECT 1 FROM users WHERE username = %s FOR KEY SHARE"
            if not await _one(conn, query, username):
                raise NotFound(f"user {username!r} does not exist", field="username")
            query = rows.insert_sql("memberships", values, "%s", upsert + " RETURNING *")
            row = await _one(conn, query, *values.values())
        assert row is not None
        return rows.membership(row, K)

    async def remove_membership(self, namespace_id: str, username: str) -> bool:
        query = "DELETE FROM memberships WHERE namespace_id = %s AND username = %s"
        return await self._change(query, namespace_id, username) > 0

    async def get_membership(self, namespace_id: str, username: str) -> Membership | None:
        query = "SELECT * FROM memberships WHERE namespace_id = %s AND username = %s"
        row = await self._one(query, namespace_id, username)
        return rows.membership(row, K) if row else None

    async def list_memberships(self, namespace_id: str) -> list[Membership]:
        query = "SELECT * FROM memberships WHERE namespace_id = %s ORDER BY created_at, username"
        return [rows.membership(r, K) for r in await self._all(query, namespace_id)]

    # ------------------------------------------------------------------ repositories
    async def create_repository(
        self,
        namespace_id: str,
        name: str,
        *,
        description: str,
        publish_mode: PublishMode,
        default_branch: str,
        visibility: Visibility,
        created_by: str,
    ) -> RepositoryRecord:
        r = c.new_repository(
            namespace_id, name, description, publish_mode, default_branch, visibility, created_by
        )
        async with self._tx() as conn:
            query = "SELECT identifier FROM namespaces WHERE id = %s FOR KEY SHARE"
            row = await _one(conn, query, namespace_id)
            if row is None:
                raise NotFound(c.namespace_missing(namespace_id), field="namespace_id")
            now = self._clock.now()
            r = dataclasses.replace(r, namespace=row["identifier"], created_at=now, updated_at=now)
            if not await _insert(conn, "repositories", rows.repository_row(r, K)):
                raise AlreadyExists(c.repository_taken(r.namespace, name), field="name")
        return r

    async def get_repository(self, repository_uuid: str) -> RepositoryRecord | None:
        row = await self._one(_REPO_BY_ID, repository_uuid)
        return rows.repository(row, K) if row else None

    async def get_repository_by_name(self, namespace: str, name: str) -> RepositoryRecord | None:
        query = rows.REPO_SELECT + " WHERE n.identifier = %s AND r.name = %s"
        row = await self._one(query, namespace, name)
        return rows.repository(row, K) if row else None

    async def list_repositories(
        self, namespace_id: str, *, first: int, after: str | None = None
    ) -> Page[RepositoryRecord]:
        convert = lambda r: rows.repository(r, K)  # noqa: E731
        return await self._page("repositories", namespace_id, first, after, convert)

    async def update_repository(
        self, repository_uuid: str, patch: RepositoryPatch, *, updated_by: str
    ) -> RepositoryRecord:
        values = rows.repository_patch_row(c.repository_changes(patch), K)
        values |= {"updated_at": self._clock.now(), "updated_by": updated_by}
        assignments = ", ".join(f"{column} = %s" for column in values)
        async with self._tx() as conn:
            update = f"UPDATE repositories SET {assignments} WHERE id = %s"
            await conn.execute(update, (*values.values(), repository_uuid))
            row = await _one(conn, _REPO_BY_ID, repository_uuid)
        if row is None:
            raise NotFound(c.repository_missing(repository_uuid), field="repository_id")
        return rows.repository(row, K)

    async def delete_repository(self, repository_uuid: str) -> None:
        if not await self._change("DELETE FROM repositories WHERE id = %s", repository_uuid):
            raise NotFound(c.repository_missing(repository_uuid), field="repository_id")

    # ------------------------------------------------------------------ idempotency
    async def claim_idempotency_key(
        self,
        scope: str,
        key: str,
        request_hash: str,
        *,
        owner: str = "",
        lease_seconds: float = DEFAULT_IDEMPOTENCY_LEASE_SECONDS,
    ) -> IdempotencyRecord | None:
        while True:
            now = self._clock.now()
            until = c.lease_end(now, lease_seconds)
            async with self._tx() as conn:
                inserted = await _one(
                    conn,
                    "INSERT INTO idempotency_keys"
                    " (scope, key, request_hash, created_at, owner, claimed_at, lease_until)"
                    " VALUES (%s, %s, %s, %s, %s, %s, %s)"
                    " ON CONFLICT (scope, key) DO NOTHING RETURNING key",
                    scope,
                    key,
                    request_hash,
                    now,
                    owner,
                    now,
                    until,
                )
                if inserted is not None:
                    return None
                query = "SELECT * FROM idempotency_keys WHERE scope = %s AND key = %s"
                row = await _one(conn, query, scope, key)
            if row is not None:  # else: released between the two statements; claim again
                return rows.idempotency(row, K, now)

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
        query = (
            "UPDATE idempotency_keys SET owner = %s, claimed_at = %s, lease_until = %s"
            " WHERE scope = %s AND key = %s AND owner = %s AND response IS NULL"
            " AND lease_until <= %s"
        )
        until = c.lease_end(now, lease_seconds)
        return await self._change(query, owner, now, until, scope, key, expired_owner, now) == 1

    async def extend_idempotency_lease(
        self,
        scope: str,
        key: str,
        *,
        owner: str,
        lease_seconds: float = DEFAULT_IDEMPOTENCY_LEASE_SECONDS,
    ) -> bool:
        until = c.lease_end(self._clock.now(), lease_seconds)
        query = (
            "UPDATE idempotency_keys SET lease_until = %s"
            " WHERE scope = %s AND key = %s AND owner = %s AND response IS NULL"
        )
        return await self._change(query, until, scope, key, owner) == 1

    async def complete_idempotency_key(
        self, scope: str, key: str, response: dict[str, Any]
    ) -> None:
        query = "UPDATE idempotency_keys SET response = %s WHERE scope = %s AND key = %s"
        if not await self._change(query, Jsonb(c.json_copy(response, "response")), scope, key):
            raise NotFound(c.idempotency_missing(scope, key), field="key")

    async def release_idempotency_key(
        self, scope: str, key: str, *, owner: str | None = None
    ) -> None:
        query = "DELETE FROM idempotency_keys WHERE scope = %s AND key = %s AND response IS NULL"
        if owner is None:
            await self._change(query, scope, key)
        else:
            await self._change(query + " AND owner = %s", scope, key, owner)

    # ------------------------------------------------------------------ audit log
    async def append_audit(
        self, actor: str, action: str, target: str, details: dict[str, Any] | None = None
    ) -> AuditEntry:
        entry = c.new_audit_entry(self._clock, actor, action, target, details)
        values = rows.audit_row(entry, K)
        await self._change(rows.insert_sql("audit_log", values, "%s"), *values.values())
        return entry

    async def list_audit(
        self,
        *,
        first: int,
        after: str | None = None,
        target_prefix: str | None = None,
        action: str | None = None,
    ) -> Page[AuditEntry]:
        count, count_params, page, params = rows.audit_queries(
            prefix=target_prefix, action=action, after=after, first=first, mark="%s"
        )
        async with self._tx() as conn:
            total = await _count(conn, count, *count_params)
            found = await _all(conn, page, *params)
        return rows.audit_page(found, first, total, K)

    # ------------------------------------------------------------------ paging
    async def _page(
        self,
        table: str,
        namespace_id: str | None,
        first: int,
        after: str | None,
        convert: Callable[[Any], T],
    ) -> Page[T]:
        by_ns = namespace_id is not None
        count, page, start = rows.page_queries(
            table, by_namespace=by_ns, first=first, after=after, mark="%s"
        )
        params: list[Any] = [namespace_id] if by_ns else []
        cursor = list(start) if start else []
        async with self._tx() as conn:
            total = await _count(conn, count, *params)
            found = await _all(conn, page, *params, *cursor, first + 1)
        return rows.created_page(found, first, total, convert, K)
