"""KV store on Redis or Valkey (``redis://host:port/db``, ``rediss://``, ``valkey://``).

Key layout, with ``<p>`` the optional prefix (``?prefix=`` in the URL) and ``<base>`` =
``<p>{<namespace>/<repo>:<channel>}`` — the braces are a hash tag, so all keys of one scope
share one cluster slot and a batch is one script on one node:

* ``<base>:<kind>:<name>`` — hash: ``d`` body, ``v`` version, ``s`` sequence, ``x`` index JSON;
  a tombstone has ``s``, ``v`` and ``t=1`` but no body;
* ``<base>#l:<kind>`` — sorted set of the kind's live names, all score 0 (ordered by name);
* ``<base>#i:<kind>:<index>:<value>`` — sorted set of names holding that index value;
* ``<base>#t`` — sorted set of tombstones (``<kind>:<name>`` scored by sequence), for pruning;
* ``<base>#h`` — hash: the channel head (``v``, ``s``, ``u`` updated-at);
* ``<p>{<namespace>/<repo>}#a:<alias>`` — hash: alias target ``t`` and sequence ``s``;
* ``<p>raw:<key>`` — the plain strings of ``raw_bulk_set``.

Writes are Lua scripts (``redis_scripts``): atomic, one round trip for a whole batch. A
batch fenced by an alias (``Batch.unless_alias``) and a switch guarded by
``expected_target_version`` also read a key of another slot — atomic on one node; a Redis
Cluster would refuse them (``CROSSSLOT``), see ``redis_scripts``. Reads
of a page (count + names + bodies) are one script too, and ``get_many`` is a MULTI/EXEC
block, so a read never sees half of a batch. Connection problems map to ``Unavailable``.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Sequence
from typing import Any, TypeVar
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from redis import exceptions as rx
from redis.asyncio import Redis

from gitstore.backends.kv import redis_scripts
from gitstore.backends.kv.base import (
    COPY_CHUNK,
    ApplyResult,
    Batch,
    ChannelHead,
    CopyStep,
    Document,
    KvStore,
    Page,
    alias_fenced,
    check_alias,
    check_copy,
    check_first,
    check_read,
    copy_cursor,
    decode_cursor,
    head_mismatch,
    page_from,
    target_version_mismatch,
)
from gitstore.domain.errors import FailedPrecondition, GitStoreError, InvalidArgument, Unavailable
from gitstore.domain.keys import (
    ChannelScope,
    validate_channel,
    validate_index_name,
    validate_index_value,
    validate_repository,
    validate_sequence,
)

T = TypeVar("T")

_CHUNK = 1000
_COPY_LIMIT = 5000  # rows per copy step at most (Lua's unpack takes up to ~8000 values)
_TRANSIENT = ("BUSY", "LOADING", "TRYAGAIN", "CLUSTERDOWN", "MASTERDOWN", "READONLY")


def _map_error(exc: rx.RedisError, what: str) -> GitStoreError:
    message = str(exc)
    if isinstance(exc, rx.ConnectionError | rx.TimeoutError) or message.startswith(_TRANSIENT):
        return Unavailable(f"kv store (redis) unavailable during {what}: {message}")
    if message.startswith("WRONGTYPE"):
        return FailedPrecondition(f"kv store (redis) {what}: {message}")
    return GitStoreError(f"kv store (redis) failed during {what}: {message}")


def _glob_escape(text: str) -> str:
    return "".join("\\" + ch if ch in "*?[]\\" else ch for ch in text)


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


class RedisKvStore(KvStore):
    def __init__(self, client: Redis, *, prefix: str = "") -> None:
        if "{" in prefix or "}" in prefix:
            raise InvalidArgument("kv key prefix must not contain '{' or '}'", field="prefix")
        self.client = client
        self.prefix = prefix
        self._apply = client.register_script(redis_scripts.APPLY)
        self._page = client.register_script(redis_scripts.PAGE)
        self._set_alias = client.register_script(redis_scripts.SET_ALIAS)
        self._prune = client.register_script(redis_scripts.PRUNE)
        self._copy_clear = client.register_script(redis_scripts.COPY_CLEAR)
        self._copy_docs = client.register_script(redis_scripts.COPY_DOCS)

    @classmethod
    def from_url(cls, url: str) -> RedisKvStore:
        """``redis://host:port/db?prefix=...``; ``valkey(s)://`` are accepted as aliases."""
        parts = urlsplit(url)
        scheme = {"valkey": "redis", "valkeys": "rediss"}.get(parts.scheme, parts.scheme)
        query = parse_qsl(parts.query, keep_blank_values=True)
        prefix = "".join(value for key, value in query if key == "prefix")
        rest = urlencode([(key, value) for key, value in query if key != "prefix"])
        plain = urlunsplit((scheme, parts.netloc, parts.path, rest, parts.fragment))
        try:
            client = Redis.from_url(plain, socket_connect_timeout=5.0)
        except ValueError as exc:
            raise InvalidArgument(f"bad kv url {url!r}: {exc}", field="url") from exc
        return cls(client, prefix=prefix)

    # ------------------------------------------------------------------ keys
    def _base(self, scope: ChannelScope) -> str:
        return f"{self.prefix}{{{scope.repository}:{scope.channel}}}"

    def _alias_key(self, repository: str, alias: str) -> str:
        return f"{self.prefix}{{{repository}}}#a:{alias}"

    async def _call(self, what: str, awaitable: Awaitable[T]) -> T:
        try:
            return await awaitable
        except rx.RedisError as exc:
            raise _map_error(exc, what) from exc

    # ------------------------------------------------------------------ writes
    async def apply(self, batch: Batch) -> ApplyResult:
        base = self._base(batch.scope)
        expected = batch.expected_head_sequence
        args: list[Any] = [
            base,
            str(batch.sequence),
            batch.version,
            "1" if batch.advance_head else "0",
            str(-1 if expected is None else expected),
            repr(time.time()),
            len(batch.upserts),
            len(batch.deletes),
            batch.scope.channel if batch.unless_alias is not None else "",
        ]
        for up in batch.upserts:
            args += (up.kind, up.name, up.body, up.indexes)
        for rm in batch.deletes:
            args += (rm.kind, rm.name)
        what = f"apply to {batch.scope}"
        keys = [f"{base}#h"]
        if batch.unless_alias is not None:
            keys.append(self._alias_key(batch.scope.repository, batch.unless_alias))
        try:
            result = await self._apply(keys=keys, args=args)
        except rx.ResponseError as exc:
            raise self._refused(
                exc, batch.scope, batch.unless_alias, expected, "batch", what
            ) from exc
        except rx.RedisError as exc:
            raise _map_error(exc, what) from exc
        applied, skipped, advanced = (int(x) for x in result)
        return ApplyResult(applied, skipped, bool(advanced))

    async def set_alias(
        self,
        repository: str,
        alias: str,
        target: str | None,
        *,
        sequence: int,
        expected_target_version: str | None = None,
    ) -> bool:
        check_alias(repository, alias, target, sequence, expected_target_version)
        keys = [self._alias_key(repository, alias)]
        args = [str(sequence), target or ""]
        if expected_target_version is not None and target is not None:
            keys.append(f"{self._base(ChannelScope(repository, target))}#h")
            args.append(expected_target_version)
        try:
            done = await self._set_alias(keys=keys, args=args)
        except rx.ResponseError as exc:
            if str(exc).startswith("GITSTORE_VERSION") and target and expected_target_version:
                found = str(exc).split()[1]
                raise target_version_mismatch(
                    repository,
                    alias,
                    target,
                    expected_target_version,
                    None if found == "-" else found,
                ) from exc
            raise _map_error(exc, f"set alias {repository}:{alias}") from exc
        except rx.RedisError as exc:
            raise _map_error(exc, f"set alias {repository}:{alias}") from exc
        return bool(done)

    async def prune_tombstones(self, scope: ChannelScope, *, below_sequence: int) -> int:
        validate_sequence(below_sequence, "below_sequence")
        base = self._base(scope)
        pruned = await self._call(
            f"prune tombstones of {scope}",
            self._prune(keys=[f"{base}#t"], args=[base, str(below_sequence)]),
        )
        return int(pruned)

    async def drop_channel(self, scope: ChannelScope) -> None:
        what = f"drop channel {scope}"
        alias_match = _glob_escape(self._alias_key(scope.repository, "")) + "*"
        try:
            async for key in self.client.scan_iter(match=alias_match, count=_CHUNK):
                if _text(await self.client.hget(key, "t") or b"") == scope.channel:
                    alias = _text(key).rsplit(":", 1)[1]
                    raise FailedPrecondition(
                        f"channel {scope} is the target of alias {alias!r}; re-point it first",
                        field="channel",
                    )
            doomed: list[bytes] = []
            async for key in self.client.scan_iter(
                match=_glob_escape(self._base(scope)) + "*", count=_CHUNK
            ):
                doomed.append(key)
            for start in range(0, len(doomed), _CHUNK):
                await self.client.unlink(*doomed[start : start + _CHUNK])
        except rx.RedisError as exc:
            raise _map_error(exc, what) from exc

    async def copy_step(
        self,
        source: ChannelScope,
        target: ChannelScope,
        *,
        cursor: str,
        sequence: int,
        expected_head_sequence: int,
        unless_alias: str | None = None,
        keep_kind: str | None = None,
        limit: int = COPY_CHUNK,
    ) -> CopyStep:
        """Lua scripts ``COPY_CLEAR`` then ``COPY_DOCS``, one per step. The cursor carries the
        kinds to go through (found once by ``SCAN`` of the per-kind name sets):
        ``["clear", kinds]``, then ``["copy", kinds, kind number, last name]``."""
        at = check_copy(
            source, target, cursor, sequence, expected_head_sequence, unless_alias, keep_kind, limit
        )
        tgt, src = self._base(target), self._base(source)
        limit = min(limit, _COPY_LIMIT)  # the scripts ``unpack`` a step's names
        what = f"copy {source} to {target}"
        keys = [f"{tgt}#h"]
        if unless_alias is not None:
            keys.append(self._alias_key(target.repository, unless_alias))
        guards = [str(expected_head_sequence), target.channel if unless_alias else ""]
        try:
            if not at:
                at = ["clear", await self._kinds(tgt, keep_kind)]
            if at[0] == "clear":
                kinds = [str(kind) for kind in at[1]]
                reply = await self._copy_clear(
                    keys=keys, args=[tgt, *guards, str(limit), f"{src}#h", *kinds]
                )
                removed = int(reply[0])
                after = (
                    copy_cursor("clear", kinds)
                    if removed
                    else copy_cursor("copy", await self._kinds(src, keep_kind), 0, "")
                )
                return CopyStep(after, removed, 0, _head(reply[1:]))
            kinds, number, last = [str(k) for k in at[1]], int(at[2]), str(at[3])
            reply = await self._copy_docs(
                keys=keys,
                args=[tgt, *guards, str(limit), src, str(sequence), str(number), last, *kinds],
            )
        except rx.ResponseError as exc:
            raise self._refused(
                exc, target, unless_alias, expected_head_sequence, "copy", what
            ) from exc
        except rx.RedisError as exc:
            raise _map_error(exc, what) from exc
        except (IndexError, TypeError, ValueError) as exc:
            raise InvalidArgument(
                f"copy cursor {cursor[:80]!r} is malformed", field="cursor"
            ) from exc
        copied, number = int(reply[0]), int(reply[1])
        following = copy_cursor("copy", kinds, number, _text(reply[2]))
        return CopyStep(None if number >= len(kinds) else following, 0, copied, _head(reply[3:]))

    async def _kinds(self, base: str, keep_kind: str | None) -> list[str]:
        """The kinds with live documents in a scope (``SCAN`` of its per-kind name sets)."""
        start = len(base) + len("#l:")
        kinds = {
            _text(key)[start:]
            async for key in self.client.scan_iter(
                match=_glob_escape(base) + "#l:*", count=10 * _CHUNK
            )
        }
        return sorted(kinds - {keep_kind or ""})

    @staticmethod
    def _refused(
        exc: rx.ResponseError,
        scope: ChannelScope,
        unless_alias: str | None,
        expected: int | None,
        noun: str,
        what: str,
    ) -> GitStoreError:
        """The error of a script refused by a batch's guards (alias fence, head CAS)."""
        if str(exc).startswith("GITSTORE_ALIAS"):
            return alias_fenced(scope, unless_alias or "")
        if str(exc).startswith("GITSTORE_HEAD"):
            current = str(exc).split()[1]
            return head_mismatch(scope, current, noun, expected)
        return _map_error(exc, what)

    # ------------------------------------------------------------------ reads
    async def resolve(self, repository: str, channel: str) -> ChannelScope:
        validate_repository(repository)
        validate_channel(channel)
        target = await self._call(
            "resolve", self.client.hget(self._alias_key(repository, channel), "t")
        )
        return ChannelScope(repository, _text(target) if target else channel)

    async def head(self, scope: ChannelScope) -> ChannelHead | None:
        key = f"{self._base(scope)}#h"
        row: list[Any] = await self._call("head", self.client.hmget(key, "v", "s", "u"))
        if row[0] is None:
            return None
        return ChannelHead(_text(row[0]), int(row[1]), float(row[2]))

    async def get(self, scope: ChannelScope, kind: str, name: str) -> Document | None:
        check_read(scope, kind, [name])
        key = f"{self._base(scope)}:{kind}:{name}"
        row = await self._call("get", self.client.hmget(key, "d", "v", "s"))
        return _document(kind, name, row)

    async def get_many(
        self, scope: ChannelScope, kind: str, names: Sequence[str]
    ) -> list[Document | None]:
        check_read(scope, kind, names)
        if not names:
            return []
        base = self._base(scope)

        async def run() -> list[Any]:
            async with self.client.pipeline(transaction=True) as pipe:
                for name in names:
                    pipe.hmget(f"{base}:{kind}:{name}", "d", "v", "s")
                rows: list[Any] = await pipe.execute()
                return rows

        rows = await self._call("get_many", run())
        return [_document(kind, name, row) for name, row in zip(names, rows, strict=True)]

    async def index_sets(
        self, scope: ChannelScope, kind: str, names: Sequence[str]
    ) -> list[str | None]:
        check_read(scope, kind, names)
        if not names:
            return []
        base = self._base(scope)

        async def run() -> list[Any]:
            async with self.client.pipeline(transaction=True) as pipe:
                for name in names:
                    pipe.hmget(f"{base}:{kind}:{name}", "d", "x")
                rows: list[Any] = await pipe.execute()
                return rows

        rows = await self._call("get_many", run())
        return [None if row[0] is None else _text(row[1] or b"{}") for row in rows]

    async def _read_page(
        self, zset: str, doc_prefix: str, kind: str, first: int, after: str | None
    ) -> Page[Document]:
        low = "-" if after is None else f"({after}"
        reply = await self._call("list", self._page(keys=[zset], args=[doc_prefix, low, first + 1]))
        total, flat = int(reply[0]), reply[1:]
        rows = [
            Document(kind, _text(flat[i]), bytes(flat[i + 1]), _text(flat[i + 2]), int(flat[i + 3]))
            for i in range(0, len(flat), 4)
        ]
        return page_from(rows, first, total)

    async def list_documents(
        self, scope: ChannelScope, kind: str, *, first: int, after: str | None = None
    ) -> Page[Document]:
        check_read(scope, kind)
        check_first(first)
        cursor = decode_cursor(after)
        base = self._base(scope)
        return await self._read_page(f"{base}#l:{kind}", f"{base}:{kind}:", kind, first, cursor)

    async def lookup(
        self,
        scope: ChannelScope,
        kind: str,
        index: str,
        value: str,
        *,
        first: int,
        after: str | None = None,
    ) -> Page[Document]:
        check_read(scope, kind)
        validate_index_name(index)
        validate_index_value(value, index)
        check_first(first)
        cursor = decode_cursor(after)
        base = self._base(scope)
        zset = f"{base}#i:{kind}:{index}:{value}"
        return await self._read_page(zset, f"{base}:{kind}:", kind, first, cursor)

    # ------------------------------------------------------------------ floor, lifecycle
    async def raw_bulk_set(self, pairs: Sequence[tuple[str, bytes]]) -> None:
        async def run() -> None:
            async with self.client.pipeline(transaction=False) as pipe:
                for start in range(0, len(pairs), _CHUNK):
                    chunk = pairs[start : start + _CHUNK]
                    pipe.mset({f"{self.prefix}raw:{key}": value for key, value in chunk})
                await pipe.execute()

        await self._call("raw bulk set", run())

    async def raw_bulk_delete(self, keys: Sequence[str]) -> None:
        async def run() -> None:
            async with self.client.pipeline(transaction=False) as pipe:
                for start in range(0, len(keys), _CHUNK):
                    pipe.unlink(
                        *(f"{self.prefix}raw:{key}" for key in keys[start : start + _CHUNK])
                    )
                await pipe.execute()

        await self._call("raw bulk delete", run())

    async def raw_get(self, key: str) -> bytes | None:
        value = await self._call("raw get", self.client.get(f"{self.prefix}raw:{key}"))
        return value.encode() if isinstance(value, str) else value

    async def ping(self) -> None:
        await self._call("ping", self.client.ping())

    async def close(self) -> None:
        await self.client.aclose()


def _head(row: Sequence[Any]) -> ChannelHead | None:
    """A head from a script's (version, sequence, updated-at) reply; '' = no head."""
    if not row[0]:
        return None
    return ChannelHead(_text(row[0]), int(row[1]), float(row[2]))


def _document(kind: str, name: str, row: Sequence[Any]) -> Document | None:
    body, version, sequence = row
    if body is None:
        return None
    return Document(kind, name, bytes(body), _text(version), int(sequence))
