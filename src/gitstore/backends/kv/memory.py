"""In-process KV store (``memory://``): the reference implementation and a unit-test double.

Plain dicts plus sorted name lists (``bisect``) per kind and per index value. A batch is
applied without awaiting anything, so under asyncio it is atomic by construction: every check
(the alias fence, the head precondition, sequences) happens before the first mutation, and the
mutations themselves are dict and list operations that cannot fail half-way. Nothing survives
the process; use it for tests and throwaway runs, not for ``serve``.
"""

from __future__ import annotations

import bisect
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

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
    index_entries,
    page_from,
    target_version_mismatch,
)
from gitstore.domain.errors import FailedPrecondition
from gitstore.domain.keys import (
    ChannelScope,
    validate_channel,
    validate_index_name,
    validate_index_value,
    validate_repository,
    validate_sequence,
)


@dataclass(slots=True)
class _Entry:
    sequence: int
    version: str
    body: bytes | None  # None = tombstone
    indexes: str


@dataclass(slots=True)
class _Scope:
    docs: dict[tuple[str, str], _Entry] = field(default_factory=dict)
    names: dict[str, list[str]] = field(default_factory=dict)  # kind -> sorted live names
    index: dict[tuple[str, str, str], list[str]] = field(default_factory=dict)
    head: ChannelHead | None = None


def _insert(names: list[str], name: str) -> None:
    at = bisect.bisect_left(names, name)
    if at == len(names) or names[at] != name:
        names.insert(at, name)


def _remove(names: list[str] | None, name: str) -> None:
    if names is None:
        return
    at = bisect.bisect_left(names, name)
    if at < len(names) and names[at] == name:
        del names[at]


class MemoryKvStore(KvStore):
    def __init__(self) -> None:
        self._scopes: dict[ChannelScope, _Scope] = {}
        self._aliases: dict[tuple[str, str], tuple[int, str | None]] = {}
        self._raw: dict[str, bytes] = {}

    # ------------------------------------------------------------------ writes
    async def apply(self, batch: Batch) -> ApplyResult:
        if batch.unless_alias is not None:
            stored_alias = self._aliases.get((batch.scope.repository, batch.unless_alias))
            if stored_alias is not None and stored_alias[1] == batch.scope.channel:
                raise alias_fenced(batch.scope, batch.unless_alias)
        state = self._scopes.setdefault(batch.scope, _Scope())
        current = state.head.sequence if state.head else 0
        expected = batch.expected_head_sequence
        if expected is not None and expected != current:
            raise head_mismatch(batch.scope, current, "batch", expected)
        seq, applied, skipped = batch.sequence, 0, 0
        for up in batch.upserts:
            old = state.docs.get((up.kind, up.name))
            if old is not None and old.sequence > seq:
                skipped += 1
                continue
            self._reindex(state, up.kind, up.name, old, up.indexes)
            state.docs[(up.kind, up.name)] = _Entry(seq, batch.version, up.body, up.indexes)
            _insert(state.names.setdefault(up.kind, []), up.name)
            applied += 1
        for rm in batch.deletes:
            old = state.docs.get((rm.kind, rm.name))
            if old is not None and old.sequence > seq:
                skipped += 1
                continue
            self._reindex(state, rm.kind, rm.name, old, "")
            state.docs[(rm.kind, rm.name)] = _Entry(seq, batch.version, None, "")
            _remove(state.names.get(rm.kind), rm.name)
            applied += 1
        advanced = batch.advance_head and seq >= current
        if advanced:
            state.head = ChannelHead(batch.version, seq, time.time())
        return ApplyResult(applied, skipped, advanced)

    @staticmethod
    def _reindex(state: _Scope, kind: str, name: str, old: _Entry | None, new: str) -> None:
        before = index_entries(old.indexes if old else None)
        after = index_entries(new)
        for index, value in before - after:
            _remove(state.index.get((kind, index, value)), name)
        for index, value in after - before:
            _insert(state.index.setdefault((kind, index, value), []), name)

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
        stored = self._aliases.get((repository, alias))
        if stored is not None and stored[0] > sequence:
            return False
        if expected_target_version is not None and target is not None:
            state = self._scopes.get(ChannelScope(repository, target))
            found = state.head.version if state is not None and state.head else None
            if found != expected_target_version:
                raise target_version_mismatch(
                    repository, alias, target, expected_target_version, found
                )
        self._aliases[(repository, alias)] = (sequence, target)
        return True

    async def prune_tombstones(self, scope: ChannelScope, *, below_sequence: int) -> int:
        validate_sequence(below_sequence, "below_sequence")
        state = self._scopes.get(scope)
        if state is None:
            return 0
        dead = [
            key
            for key, entry in state.docs.items()
            if entry.body is None and entry.sequence < below_sequence
        ]
        for key in dead:
            del state.docs[key]
        return len(dead)

    async def drop_channel(self, scope: ChannelScope) -> None:
        for (repository, alias), (_, target) in self._aliases.items():
            if repository == scope.repository and target == scope.channel:
                raise FailedPrecondition(
                    f"channel {scope} is the target of alias {alias!r}; re-point it first",
                    field="channel",
                )
        self._scopes.pop(scope, None)

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
        # cursor: [] start, ["clear"], then ["copy", kind, name] (the last copied document)
        at = check_copy(
            source, target, cursor, sequence, expected_head_sequence, unless_alias, keep_kind, limit
        )
        if unless_alias is not None:
            stored_alias = self._aliases.get((target.repository, unless_alias))
            if stored_alias is not None and stored_alias[1] == target.channel:
                raise alias_fenced(target, unless_alias)
        state = self._scopes.setdefault(target, _Scope())
        current = state.head.sequence if state.head else 0
        if expected_head_sequence != current:
            raise head_mismatch(target, current, "copy", expected_head_sequence)
        origin = self._scopes.get(source)
        head = origin.head if origin else None
        if not at or at[0] == "clear":
            doomed = [
                key
                for key, entry in state.docs.items()
                if key[0] != keep_kind or entry.body is None
            ][:limit]
            for key in doomed:
                self._reindex(state, key[0], key[1], state.docs.pop(key), "")
                _remove(state.names.get(key[0]), key[1])
            more = len(doomed) == limit
            after_clear = copy_cursor("clear") if more else copy_cursor("copy")
            return CopyStep(after_clear, len(doomed), 0, head)
        after = (str(at[1]), str(at[2])) if len(at) == 3 else None
        live = sorted(
            key
            for key, entry in (origin.docs.items() if origin else ())
            if entry.body is not None and key[0] != keep_kind and (after is None or key > after)
        )
        for kind, name in live[:limit]:
            entry = origin.docs[(kind, name)] if origin else None
            assert entry is not None
            self._reindex(state, kind, name, state.docs.get((kind, name)), entry.indexes)
            state.docs[(kind, name)] = _Entry(sequence, entry.version, entry.body, entry.indexes)
            _insert(state.names.setdefault(kind, []), name)
        done = live[:limit]
        if len(live) <= limit:
            return CopyStep(None, 0, len(done), head)
        return CopyStep(copy_cursor("copy", *done[-1]), 0, len(done), head)

    # ------------------------------------------------------------------ reads
    async def resolve(self, repository: str, channel: str) -> ChannelScope:
        validate_repository(repository)
        validate_channel(channel)
        stored = self._aliases.get((repository, channel))
        target = stored[1] if stored is not None and stored[1] is not None else channel
        return ChannelScope(repository, target)

    async def head(self, scope: ChannelScope) -> ChannelHead | None:
        state = self._scopes.get(scope)
        return state.head if state else None

    def _document(self, state: _Scope | None, kind: str, name: str) -> Document | None:
        entry = state.docs.get((kind, name)) if state else None
        if entry is None or entry.body is None:
            return None
        return Document(kind, name, entry.body, entry.version, entry.sequence)

    async def index_sets(
        self, scope: ChannelScope, kind: str, names: Sequence[str]
    ) -> list[str | None]:
        check_read(scope, kind, names)
        state = self._scopes.get(scope)
        out: list[str | None] = []
        for name in names:
            entry = state.docs.get((kind, name)) if state else None
            out.append(None if entry is None or entry.body is None else entry.indexes)
        return out

    async def get(self, scope: ChannelScope, kind: str, name: str) -> Document | None:
        check_read(scope, kind, [name])
        return self._document(self._scopes.get(scope), kind, name)

    async def get_many(
        self, scope: ChannelScope, kind: str, names: Sequence[str]
    ) -> list[Document | None]:
        check_read(scope, kind, names)
        state = self._scopes.get(scope)
        return [self._document(state, kind, name) for name in names]

    def _page(
        self, state: _Scope, kind: str, names: list[str], first: int, after: str | None
    ) -> Page[Document]:
        start = bisect.bisect_right(names, after) if after is not None else 0
        rows = [self._document(state, kind, name) for name in names[start : start + first + 1]]
        return page_from([row for row in rows if row is not None], first, len(names))

    async def list_documents(
        self, scope: ChannelScope, kind: str, *, first: int, after: str | None = None
    ) -> Page[Document]:
        check_read(scope, kind)
        check_first(first)
        cursor = decode_cursor(after)
        state = self._scopes.get(scope)
        if state is None:
            return Page([], 0, False, None)
        return self._page(state, kind, state.names.get(kind, []), first, cursor)

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
        state = self._scopes.get(scope)
        if state is None:
            return Page([], 0, False, None)
        return self._page(state, kind, state.index.get((kind, index, value), []), first, cursor)

    # ------------------------------------------------------------------ floor, lifecycle
    async def raw_bulk_set(self, pairs: Sequence[tuple[str, bytes]]) -> None:
        self._raw.update(pairs)

    async def raw_bulk_delete(self, keys: Sequence[str]) -> None:
        for key in keys:
            self._raw.pop(key, None)

    async def raw_get(self, key: str) -> bytes | None:
        return self._raw.get(key)

    async def ping(self) -> None:
        return None

    async def close(self) -> None:
        return None
