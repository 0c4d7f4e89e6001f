"""``SqliteMetadataStore``: the embedded metadata store, one SQLite file in the data dir.

Design:

* **One writer connection, one thread.** Writes, migrations and multi-statement reads
  (count + page) run on a private single-thread executor that owns the writer connection, so
  they are serialised without a lock and never tie up asyncio's shared default thread pool.
  If the awaiting coroutine is cancelled, the call still runs to the end (commits or rolls
  back) on its thread.
* **Point reads inline.** A single-row read by key (``get_user``, ``get_token_by_hash``,
  ``get_namespace_by_identifier``, ...) is one indexed lookup, ~15-30 us with the row
  conversion, far less than the hop to a worker thread and back (~100-200 us under load,
  most of a cached GraphQL lookup). Those run directly on the calling thread, on a read
  connection (and cursor) of that thread's own (``query_only``, autocommit: every read sees
  the latest commit, WAL gives it a snapshot without waiting for the writer). The read
  connection has no busy timeout: in the rare case SQLite answers "busy" or "locked" to a
  reader (WAL recovery, a checkpoint resetting the log), the read is retried on the writer
  thread with the full timeout, so the event loop never sleeps on a lock.
* **Durable and shareable.** ``journal_mode=WAL`` (readers never block the writer),
  ``synchronous=FULL`` (an acknowledged write survives power loss), ``foreign_keys=ON`` and a
  ``busy_timeout`` so several processes may open the same file (e.g. ``gitstore user create``
  while ``gitstore serve`` runs).
* **Rules in one transaction.** Every write that checks something runs in
  ``BEGIN IMMEDIATE``, which takes SQLite's single write lock up front; the checks the
  contract puts in the store (unique names, the parent enterprise, the namespace delete guard)
  read and write under that lock, so they cannot race with another connection or process.
  The schema's constraints back them up.
* **Migrations** (see ``migrations/``) are applied by ``migrate()`` under the same lock.

Timestamps are stored as integer microseconds since the epoch (UTC); see ``_rows.Codec``.
The git-ingress methods (SSH keys, releases, publications, webhooks, deliveries) are the mixin
``_sqlite_git.SqliteGitStore``; shared helpers live in ``_sqlite_util``.
"""

from __future__ import annotations

import asyncio
import dataclasses
import sqlite3
import threading
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

from gitstore.backends._sqlite import connect as sqlite_connect
from gitstore.domain.errors import (
    AlreadyExists,
    FailedPrecondition,
    GitStoreError,
    NotFound,
    Unavailable,
)

from . import _common as c
from . import _rows as rows
from ._sql_changes import SqlChangeRequests
from ._sqlite_git import SqliteGitStore
from ._sqlite_idempotency import SqliteIdempotency
from ._sqlite_leases import SqliteLeases
from ._sqlite_util import (
    Conn,
    K,
    _all,
    _change,
    _count_and_page,
    _insert,
    _one,
    _write,
)
from .base import (
    AccessToken,
    AuditEntry,
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
_REPO_BY_ID = rows.REPO_SELECT + " WHERE r.id = ?"


def split_statements(script: str) -> list[str]:
    """Split a SQL script into complete statements (``executescript`` would commit first)."""
    statements: list[str] = []
    buffer = ""
    for line in script.splitlines(keepends=True):
        buffer += line
        if sqlite3.complete_statement(buffer):
            statements.append(buffer.strip())
            buffer = ""
    return statements


class SqliteMetadataStore(
    SqliteLeases, SqliteIdempotency, SqliteGitStore, SqlChangeRequests, MetadataStore
):
    """``SqliteMetadataStore(path, *, busy_timeout=5.0)``; the file and its directory are
    created on first use (normally ``migrate()``)."""

    def __init__(self, path: str | Path, *, busy_timeout: float = 5.0) -> None:
        self._path = Path(path)
        self._busy_ms = int(busy_timeout * 1000)
        self._clock = c.Clock()
        self._conn: Conn | None = None
        self._closed = False
        self._executor = ThreadPoolExecutor(1, thread_name_prefix="gitstore-metadata-sqlite")
        self._local = threading.local()  # .cursor: on this thread's read connection
        self._readers: list[Conn] = []  # every read connection, closed by close()
        self._readers_lock = threading.Lock()

    @property
    def path(self) -> Path:
        return self._path

    # ------------------------------------------------------------------ plumbing
    async def _cr_exec(self, sql: str, *params: Any) -> list[Any]:
        """One statement on the writer thread (autocommit: atomic on its own)."""
        return await self._run(_exec_all, sql, params)

    async def _run(self, fn: Callable[..., T], *args: Any) -> T:
        if self._closed:
            raise Unavailable("the metadata store is closed")
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, self._call, fn, args)

    def _call(self, fn: Callable[..., T], args: tuple[Any, ...]) -> T:
        try:
            return fn(self._connection(), *args)
        except sqlite3.IntegrityError as exc:
            raise _integrity_error(exc) from exc
        except sqlite3.DatabaseError as exc:
            raise Unavailable(f"metadata database {self._path}: {exc}") from exc

    async def _read(self, fn: Callable[..., T], *args: Any) -> T:
        """A short read on this thread's read connection (see the module docstring); on
        "busy"/"locked" it is retried on the writer thread, which waits for the lock."""
        if self._closed:
            raise Unavailable("the metadata store is closed")
        try:
            cursor = self._local.cursor
        except AttributeError:
            cursor = self._open_reader()
        try:
            return fn(cursor, *args)
        except sqlite3.OperationalError as exc:
            text = str(exc)
            if "locked" in text or "busy" in text:
                return await self._run(fn, *args)
            raise Unavailable(f"metadata database {self._path}: {exc}") from exc
        except sqlite3.DatabaseError as exc:
            raise Unavailable(f"metadata database {self._path}: {exc}") from exc

    def _open_reader(self) -> sqlite3.Cursor:
        try:
            self._path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(
                self._path, timeout=0, isolation_level=None, check_same_thread=False
            )
            conn.row_factory = sqlite3.Row
            conn.execute("PRAGMA query_only = ON")
        except (OSError, sqlite3.DatabaseError) as exc:
            raise Unavailable(f"metadata database {self._path}: {exc}") from exc
        with self._readers_lock:
            if self._closed:
                conn.close()
                raise Unavailable("the metadata store is closed")
            self._readers.append(conn)
        self._local.cursor = cursor = conn.cursor()  # reused: one fewer object per read
        return cursor

    def _connection(self) -> Conn:
        if self._conn is None:
            self._path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite_connect(self._path, busy_ms=self._busy_ms, synchronous="FULL")
            conn.row_factory = sqlite3.Row
            try:
                conn.execute("PRAGMA foreign_keys = ON")
            except BaseException:
                conn.close()
                raise
            self._conn = conn
        return self._conn

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        await asyncio.get_running_loop().run_in_executor(self._executor, self._close)
        self._executor.shutdown(wait=False)
        with self._readers_lock:
            readers, self._readers = self._readers, []
        for conn in readers:
            conn.close()

    def _close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    async def _one(self, sql: str, *params: Any) -> sqlite3.Row | None:
        """One row by key: an inline point read (see ``_read``)."""
        return await self._read(_one, sql, *params)

    async def _change(self, sql: str, *params: Any) -> int:
        return await self._run(_change, sql, *params)

    # ------------------------------------------------------------------ lifecycle
    async def migrate(self) -> int:
        return await self._run(self._migrate)

    def _migrate(self, conn: Conn) -> int:
        migrations = load_migrations("sqlite")
        with _write(conn):
            conn.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY,"
                " name TEXT NOT NULL, applied_at INTEGER NOT NULL)"
            )
            applied = {r[0] for r in conn.execute("SELECT version FROM schema_migrations")}
            c.check_not_newer(applied, migrations)
            for migration in migrations:
                if migration.version in applied:
                    continue
                for statement in split_statements(migration.sql):
                    conn.execute(statement)
                conn.execute(
                    "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)",
                    (migration.version, migration.name, c.to_micros(self._clock.now())),
                )
        return max(m.version for m in migrations)

    # ------------------------------------------------------------------ users
    async def create_user(self, username: str, password_hash: str, *, is_admin: bool) -> User:
        c.check_username(username)
        return await self._run(self._create_user, username, password_hash, bool(is_admin))

    def _create_user(self, conn: Conn, username: str, password_hash: str, admin: bool) -> User:
        with _write(conn):
            if _one(conn, "SELECT 1 FROM users WHERE username = ?", username):
                raise AlreadyExists(f"user {username!r} already exists", field="username")
            user = User(str(uuid.uuid4()), username, password_hash, admin, self._clock.now())
            _insert(conn, "users", rows.user_row(user, K))
        return user

    async def get_user(self, user_id: str) -> User | None:
        row = await self._one("SELECT * FROM users WHERE id = ?", user_id)
        return rows.user(row, K) if row else None

    async def get_user_by_username(self, username: str) -> User | None:
        row = await self._one("SELECT * FROM users WHERE username = ?", username)
        return rows.user(row, K) if row else None

    async def list_users(self, *, first: int, after: str | None = None) -> Page[User]:
        return await self._page("users", None, first, after, lambda r: rows.user(r, K))

    async def update_user_password(
        self, user_id: str, password_hash: str, *, end_sessions: bool = False
    ) -> None:
        sql = "UPDATE users SET password_hash = ?, session_epoch = session_epoch + ? WHERE id = ?"
        if not await self._change(sql, password_hash, int(end_sessions), user_id):
            raise NotFound(c.user_missing(user_id), field="user_id")

    async def set_user_disabled(self, user_id: str, disabled: bool) -> User:
        sql = c.SET_USER_DISABLED.format(m="?")
        row = await self._run(_one, sql, disabled, disabled, user_id)
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
        token = AccessToken(str(uuid.uuid4()), user_id, name, token_hash, scopes, c.EPOCH)
        token = dataclasses.replace(token, expires_at=expires_at)
        return await self._run(self._create_token, token)

    def _create_token(self, conn: Conn, token: AccessToken) -> AccessToken:
        with _write(conn):
            if not _one(conn, "SELECT 1 FROM users WHERE id = ?", token.user_id):
                raise NotFound(c.user_missing(token.user_id), field="user_id")
            if _one(conn, "SELECT 1 FROM access_tokens WHERE token_hash = ?", token.token_hash):
                raise AlreadyExists("a token with this hash already exists", field="token_hash")
            token = dataclasses.replace(token, created_at=self._clock.now())
            _insert(conn, "access_tokens", rows.token_row(token, K))
        return token

    async def get_token_by_hash(self, token_hash: str) -> AccessToken | None:
        row = await self._one("SELECT * FROM access_tokens WHERE token_hash = ?", token_hash)
        return rows.token(row, K) if row else None

    async def list_tokens(self, user_id: str) -> list[AccessToken]:
        sql = "SELECT * FROM access_tokens WHERE user_id = ? ORDER BY created_at, id"
        return [rows.token(r, K) for r in await self._run(_all, sql, user_id)]

    async def revoke_token(self, token_id: str, *, at: datetime) -> bool:
        sql = "UPDATE access_tokens SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL"
        return await self._change(sql, c.to_micros(at), token_id) > 0

    async def touch_token(self, token_id: str, *, at: datetime) -> None:
        sql = "UPDATE access_tokens SET last_used_at = ? WHERE id = ?"
        await self._change(sql, c.to_micros(at), token_id)

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
        by = created_by
        ns = Namespace(
            str(uuid.uuid4()), identifier, display_name, tier, None, c.EPOCH, by, c.EPOCH, by
        )
        ns = dataclasses.replace(ns, parent_enterprise_id=parent_enterprise_id)
        return await self._run(self._create_namespace, ns)

    def _create_namespace(self, conn: Conn, ns: Namespace) -> Namespace:
        with _write(conn):
            if (parent_id := ns.parent_enterprise_id) is not None:
                row = _one(conn, "SELECT tier FROM namespaces WHERE id = ?", parent_id)
                parent_tier = Tier(row["tier"]) if row else None
                if parent_tier is not Tier.ENTERPRISE:
                    raise c.parent_problem(parent_id, parent_tier)
            if _one(conn, "SELECT 1 FROM namespaces WHERE identifier = ?", ns.identifier):
                raise AlreadyExists(c.namespace_taken(ns.identifier), field="identifier")
            now = self._clock.now()
            ns = dataclasses.replace(ns, created_at=now, updated_at=now)
            _insert(conn, "namespaces", rows.namespace_row(ns, K))
        return ns

    async def get_namespace(self, namespace_id: str) -> Namespace | None:
        row = await self._one("SELECT * FROM namespaces WHERE id = ?", namespace_id)
        return rows.namespace(row, K) if row else None

    async def get_namespace_by_identifier(self, identifier: str) -> Namespace | None:
        row = await self._one("SELECT * FROM namespaces WHERE identifier = ?", identifier)
        return rows.namespace(row, K) if row else None

    async def list_namespaces(self, *, first: int, after: str | None = None) -> Page[Namespace]:
        return await self._page("namespaces", None, first, after, lambda r: rows.namespace(r, K))

    async def update_namespace(
        self, namespace_id: str, patch: NamespacePatch, *, updated_by: str
    ) -> Namespace:
        row = await self._run(
            _one,
            "UPDATE namespaces SET display_name = coalesce(?, display_name),"
            " updated_at = ?, updated_by = ? WHERE id = ? RETURNING *",
            patch.display_name,
            c.to_micros(self._clock.now()),
            updated_by,
            namespace_id,
        )
        if row is None:
            raise NotFound(c.namespace_missing(namespace_id), field="namespace_id")
        return rows.namespace(row, K)

    async def delete_namespace(self, namespace_id: str) -> None:
        await self._run(self._delete_namespace, namespace_id)

    def _delete_namespace(self, conn: Conn, namespace_id: str) -> None:
        with _write(conn):
            row = _one(conn, "SELECT identifier FROM namespaces WHERE id = ?", namespace_id)
            if row is None:
                raise NotFound(c.namespace_missing(namespace_id), field="namespace_id")
            sql = "SELECT count(*) FROM repositories WHERE namespace_id = ?"
            if repos := _one(conn, sql, namespace_id)[0]:
                raise FailedPrecondition(c.namespace_has_repositories(row[0], repos))
            sql = "SELECT count(*) FROM namespaces WHERE parent_enterprise_id = ?"
            if children := _one(conn, sql, namespace_id)[0]:
                raise FailedPrecondition(c.namespace_has_children(row[0], children))
            conn.execute("DELETE FROM namespaces WHERE id = ?", (namespace_id,))

    # ------------------------------------------------------------------ memberships
    async def set_membership(self, namespace_id: str, username: str, role: Role) -> Membership:
        role = c.check_role(role)
        return await self._run(self._set_membership, namespace_id, username, role)

    def _set_membership(self, conn: Conn, namespace_id: str, username: str, role: Role) -> Any:
        with _write(conn):
            if not _one(conn, "SELECT 1 FROM namespaces WHERE id = ?", namespace_id):
                raise NotFound(c.namespace_missing(namespace_id), field="namespace_id")
            if not _one(conn, "SELECT 1 FROM users WHERE username = ?", username):
                raise NotFound(f"user {username!r} does not exist", field="username")
            m = Membership(namespace_id, username, role, self._clock.now())
            values = rows.membership_row(m, K)
            upsert = " ON CONFLICT (namespace_id, username) DO UPDATE SET role = excluded.role"
            sql = rows.insert_sql("memberships", values, "?", upsert + " RETURNING *")
            return rows.membership(_one(conn, sql, *values.values()), K)

    async def remove_membership(self, namespace_id: str, username: str) -> bool:
        sql = "DELETE FROM memberships WHERE namespace_id = ? AND username = ?"
        return await self._change(sql, namespace_id, username) > 0

    async def get_membership(self, namespace_id: str, username: str) -> Membership | None:
        sql = "SELECT * FROM memberships WHERE namespace_id = ? AND username = ?"
        row = await self._one(sql, namespace_id, username)
        return rows.membership(row, K) if row else None

    async def list_memberships(self, namespace_id: str) -> list[Membership]:
        sql = "SELECT * FROM memberships WHERE namespace_id = ? ORDER BY created_at, username"
        return [rows.membership(r, K) for r in await self._run(_all, sql, namespace_id)]

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
        record = c.new_repository(
            namespace_id, name, description, publish_mode, default_branch, visibility, created_by
        )
        return await self._run(self._create_repository, record)

    def _create_repository(self, conn: Conn, r: RepositoryRecord) -> RepositoryRecord:
        with _write(conn):
            row = _one(conn, "SELECT identifier FROM namespaces WHERE id = ?", r.namespace_id)
            if row is None:
                raise NotFound(c.namespace_missing(r.namespace_id), field="namespace_id")
            sql = "SELECT 1 FROM repositories WHERE namespace_id = ? AND name = ?"
            if _one(conn, sql, r.namespace_id, r.name):
                raise AlreadyExists(c.repository_taken(row[0], r.name), field="name")
            now = self._clock.now()
            r = dataclasses.replace(r, namespace=row[0], created_at=now, updated_at=now)
            _insert(conn, "repositories", rows.repository_row(r, K))
        return r

    async def get_repository(self, repository_uuid: str) -> RepositoryRecord | None:
        row = await self._one(_REPO_BY_ID, repository_uuid)
        return rows.repository(row, K) if row else None

    async def get_repository_by_name(self, namespace: str, name: str) -> RepositoryRecord | None:
        sql = rows.REPO_SELECT + " WHERE n.identifier = ? AND r.name = ?"
        row = await self._one(sql, namespace, name)
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
        values |= {"updated_at": c.to_micros(self._clock.now()), "updated_by": updated_by}
        return await self._run(self._update_repository, repository_uuid, values)

    def _update_repository(self, conn: Conn, repo_id: str, values: dict[str, Any]) -> Any:
        assignments = ", ".join(f"{column} = ?" for column in values)
        with _write(conn):
            conn.execute(
                f"UPDATE repositories SET {assignments} WHERE id = ?", (*values.values(), repo_id)
            )
            row = _one(conn, _REPO_BY_ID, repo_id)
        if row is None:
            raise NotFound(c.repository_missing(repo_id), field="repository_id")
        return rows.repository(row, K)

    async def delete_repository(self, repository_uuid: str) -> None:
        if not await self._change("DELETE FROM repositories WHERE id = ?", repository_uuid):
            raise NotFound(c.repository_missing(repository_uuid), field="repository_id")

    # ------------------------------------------------------------------ idempotency
    # ------------------------------------------------------------------ audit log
    async def append_audit(
        self, actor: str, action: str, target: str, details: dict[str, Any] | None = None
    ) -> AuditEntry:
        entry = c.new_audit_entry(self._clock, actor, action, target, details)
        values = rows.audit_row(entry, K)
        await self._change(rows.insert_sql("audit_log", values, "?"), *values.values())
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
            prefix=target_prefix, action=action, after=after, first=first, mark="?"
        )
        found, total = await self._run(_count_and_page, count, count_params, page, params)
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
            table, by_namespace=by_ns, first=first, after=after, mark="?"
        )
        params: list[Any] = [namespace_id] if by_ns else []
        cursor = [c.to_micros(start[0]), start[1]] if start else []
        found, total = await self._run(
            _count_and_page, count, params, page, [*params, *cursor, first + 1]
        )
        return rows.created_page(found, first, total, convert, K)


# ---------------------------------------------------------------------------- helpers
def _exec_all(conn: Conn, sql: str, params: tuple[Any, ...]) -> list[sqlite3.Row]:
    return conn.execute(sql, params).fetchall()


def _integrity_error(exc: sqlite3.IntegrityError) -> GitStoreError:
    text = str(exc)
    if "UNIQUE" in text or "PRIMARY KEY" in text:
        return AlreadyExists(f"already exists ({text})")
    if "FOREIGN KEY" in text:
        return FailedPrecondition(f"a referenced record is missing or still in use ({text})")
    return FailedPrecondition(f"constraint violated ({text})")
