"""The KV projection contract: what the worker writes and storefronts read.

Documents live in a *channel scope* (repository + channel, ``gitstore.domain.keys``) under the
key ``<namespace>/<repo>:<channel>:<kind>:<name>``. Every write carries the commit id it came
from (``version``) and a ``sequence``: a positive integer the writer increases monotonically per
scope (e.g. the position of the commit on the branch). The rules every backend enforces, inside
one atomic step per batch:

* **Never older over newer.** A write to a document applies only if its sequence is ``>=`` the
  stored one (equal = idempotent redelivery); otherwise it is skipped and counted.
* **Tombstones.** A delete stores a tombstone with its sequence, so a late, older upsert cannot
  resurrect the document. ``prune_tombstones`` drops tombstones below a sequence every writer
  has passed.
* **Indexes move with documents.** An upsert names its secondary index entries (index name ->
  values, e.g. ``{"category": ["shoes"], "handle": ["blue-shirt"]}``); the previous entries of
  that document are replaced in the same step, a delete removes them.
* **All or nothing.** ``apply(batch)`` commits every upsert, delete, index change and the
  channel head together, or nothing (``expected_head_sequence`` is a compare-and-set on the
  head: a mismatch raises ``FailedPrecondition`` and writes nothing).
* **Channel head.** Each scope has a head (version + sequence last materialised), advanced by a
  batch unless the stored head is newer.
* **Alias fence.** ``Batch(..., unless_alias="live")`` applies only while alias ``live`` of
  the scope's repository does *not* point at the batch's scope (checked in the same atomic
  step; else ``FailedPrecondition(field="alias")`` and nothing is written). A publisher
  filling a standby buffer uses it so that a writer that lost the race cannot write into the
  buffer readers now see.

Channel switches (releases): a channel name can be an *alias* pointing at another channel of
the same repository (``set_alias(repo, "live", "rel-42", sequence=...)``). Readers call
``resolve(repo, "live")`` once per query and use the returned scope for all its reads, so a
query never mixes two releases, and re-pointing an alias is one atomic write.
``set_alias(..., expected_target_version=commit)`` switches only if the target scope's head
version is that commit (else ``FailedPrecondition(field="expected_target_version")``),
checked atomically with the switch: a buffer another writer moved on is never exposed.

Copies (``copy_step``): a scope's content can be replaced by a copy of another scope's, in
steps of at most ``limit`` rows, so a large copy never holds a backend's write lock for long.
Each step is atomic and carries the same guards as a batch (the alias fence, a compare-and-set
on the *target's* head sequence); the target's head itself is never changed by a copy, so a
writer claims the target first (a batch) and ends the copy with another. The first steps
remove the target's documents, tombstones and index entries (except documents of
``keep_kind``); the next ones copy the source's live documents with their index entries (from
each document's stored index JSON), each stamped with the step's ``sequence`` and keeping its
own ``version``. Tombstones are not copied. Every step returns the source's head read in the
same atomic step, so the caller knows which commit each chunk was copied from.

Reads: ``get``, ``get_many``, ``list_documents`` (one kind, ordered by name) and ``lookup``
(one index value, ordered by name), pages of at most ``MAX_PAGE_SIZE`` with an opaque
``after`` cursor and a total count. ``raw_bulk_set`` is the backend's plain bulk write (no
versions, no indexes): the floor projection throughput is measured against. Errors are
``gitstore.domain.errors`` (an unreachable server is ``Unavailable``).
"""

from __future__ import annotations

import abc
import base64
import binascii
import json
import json.encoder
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

import orjson

from gitstore.domain.errors import InvalidArgument
from gitstore.domain.keys import (
    MAX_INDEX_VALUE_CHARS,
    ChannelScope,
    validate_channel,
    validate_index_name,
    validate_index_value,
    validate_kind,
    validate_name,
    validate_sequence,
    validate_version,
)

from .checks import COPY_START as COPY_START
from .checks import alias_fenced as alias_fenced
from .checks import check_alias as check_alias
from .checks import check_copy as check_copy
from .checks import check_read as check_read
from .checks import copy_cursor as copy_cursor
from .checks import head_mismatch as head_mismatch
from .checks import target_version_mismatch as target_version_mismatch

T = TypeVar("T")

MAX_PAGE_SIZE = 1000
COPY_CHUNK = 2000  # default rows per ``copy_step``


@dataclass(frozen=True, slots=True)
class Document:
    """A stored document: ``body`` is its JSON (UTF-8 bytes), as written."""

    kind: str
    name: str
    body: bytes
    version: str
    sequence: int

    def value(self) -> dict[str, Any]:
        decoded: dict[str, Any] = json.loads(self.body)
        return decoded

    @property
    def cursor(self) -> str:
        return encode_cursor(self.name)


@dataclass(frozen=True, slots=True)
class ChannelHead:
    """What a scope has materialised: the commit id and sequence of the newest head batch."""

    version: str
    sequence: int
    updated_at: float


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    items: list[T]
    total_count: int
    has_next_page: bool
    end_cursor: str | None


@dataclass(frozen=True, slots=True)
class ApplyResult:
    applied: int  # upserts and deletes written (including tombstones)
    skipped: int  # writes ignored because the stored document was newer
    head_advanced: bool


@dataclass(frozen=True, slots=True)
class CopyStep:
    """What one ``copy_step`` did: ``cursor`` for the next step (None: the copy is complete),
    ``removed`` rows of the target (documents, tombstones, index entries) or ``copied``
    documents, and the source's head as read in the same atomic step (None: no head)."""

    cursor: str | None
    removed: int
    copied: int
    source: ChannelHead | None


@dataclass(frozen=True, slots=True)
class Upsert:
    kind: str
    name: str
    body: bytes
    # Canonical JSON of {index: [sorted values]}; stored with the document so the next write
    # knows which entries to remove.
    indexes: str
    entries: tuple[tuple[str, str], ...]


@dataclass(frozen=True, slots=True)
class Delete:
    kind: str
    name: str


@dataclass(slots=True)
class Batch:
    """Upserts and deletes of one scope, all stamped with one sequence and version.

    Build it with :meth:`upsert` (or :meth:`add` of an :func:`encode_upsert` result) and
    :meth:`delete`, which validate each item as it is added
    (so an invalid item never reaches a backend) and refuse a second write of the same
    document in the same batch. ``advance_head=False`` is for all but the last chunk of a
    projection split over several batches.
    """

    scope: ChannelScope
    sequence: int
    version: str
    advance_head: bool = True
    expected_head_sequence: int | None = None
    # Alias fence: apply only if this alias of the repository does not point at ``scope``.
    unless_alias: str | None = None
    upserts: list[Upsert] = field(default_factory=list, init=False)
    deletes: list[Delete] = field(default_factory=list, init=False)
    _seen: set[tuple[str, str]] = field(default_factory=set, init=False, repr=False)

    def __post_init__(self) -> None:
        if not isinstance(self.scope, ChannelScope):
            raise InvalidArgument("batch scope must be a ChannelScope", field="scope")
        validate_sequence(self.sequence)
        validate_version(self.version)
        if self.expected_head_sequence is not None and self.expected_head_sequence != 0:
            validate_sequence(self.expected_head_sequence, "expected_head_sequence")
        if self.unless_alias is not None:
            validate_channel(self.unless_alias)
            if self.unless_alias == self.scope.channel:
                raise InvalidArgument(
                    f"a batch into {self.scope} cannot be fenced by the alias of its own name",
                    field="unless_alias",
                )

    def _claim(self, kind: str, name: str) -> None:
        if type(kind) is not str or kind not in _KINDS:
            _remember(validate_kind, _KINDS, kind)
        validate_name(name)
        key = (kind, name)  # one tuple for the test and the add
        seen = self._seen
        if key in seen:
            raise InvalidArgument(
                f"{kind} {name!r} appears twice in one batch for {self.scope}", field="name"
            )
        seen.add(key)

    def upsert(
        self,
        kind: str,
        name: str,
        document: Mapping[str, Any],
        *,
        indexes: Mapping[str, str | Iterable[str]] | None = None,
    ) -> Batch:
        """Add a document (a JSON object) with its index entries; returns the batch."""
        return self.add(encode_upsert(kind, name, document, indexes=indexes))

    def add(self, upsert: Upsert) -> Batch:
        """Add an upsert made by :func:`encode_upsert` (e.g. in a thread or another
        process, ahead of building the batch); returns the batch."""
        if not isinstance(upsert, Upsert):
            raise InvalidArgument("expected an Upsert from encode_upsert", field="upsert")
        self._claim(upsert.kind, upsert.name)
        self.upserts.append(upsert)
        return self

    def delete(self, kind: str, name: str) -> Batch:
        """Add a delete (stored as a tombstone); returns the batch."""
        self._claim(kind, name)
        self.deletes.append(Delete(kind, name))
        return self

    def __len__(self) -> int:
        return len(self.upserts) + len(self.deletes)


def encode_upsert(
    kind: str,
    name: str,
    document: Mapping[str, Any],
    *,
    indexes: Mapping[str, str | Iterable[str]] | None = None,
    body: bytes | None = None,
    name_is_dns_label: bool = False,
) -> Upsert:
    """Validate and encode one upsert (compact UTF-8 JSON, canonical index entries).

    Pure and picklable in and out, so it can run away from the batch: ``Batch.add`` takes the
    result. ``InvalidArgument`` names what is wrong (kind, name, document or an index).
    ``body``: the document already encoded by ``bodies.encode_body`` (the same bytes).
    ``name_is_dns_label``: the caller has checked in this process that ``name`` is a DNS label
    (``identity.dns_label_problem``; a parsed manifest's ``metadata.name`` is one), which
    ``validate_name`` always accepts (a-z, 0-9 and ``-``, 1-63 characters, starting with a
    letter or digit): the name is not checked again. ``Batch.add`` still checks it.
    """
    if type(kind) is not str or kind not in _KINDS:
        _remember(validate_kind, _KINDS, kind)
    if not name_is_dns_label:
        validate_name(name)
    try:
        if type(document) is not dict and not isinstance(document, Mapping):
            raise TypeError(f"expected a JSON object, got {type(document).__name__}")
        if body is None:
            body = _BODY(document).encode()
    except (TypeError, ValueError) as exc:
        raise InvalidArgument(
            f"document {kind} {name!r} is not valid JSON: {exc}", field="document"
        ) from exc
    canonical, entries = _canonical_indexes(indexes or {})
    return Upsert(kind, name, body, canonical, entries)


# Kinds and index names already validated: a batch repeats the same few thousands of times.
_KINDS: set[str] = set()
_INDEX_NAMES: set[str] = set()
_REMEMBERED = 1024  # names kept per set


def _remember(validate: Callable[[object], str], known: set[str], value: object) -> None:
    """``validate(value)`` (raises ``InvalidArgument``), remembering a valid string in
    ``known`` so that the next test is a set lookup."""
    validate(value)
    if type(value) is str and len(known) < _REMEMBERED:
        known.add(value)


def _canonical_indexes(
    indexes: Mapping[str, str | Iterable[str]],
) -> tuple[str, tuple[tuple[str, str], ...]]:
    if type(indexes) is not dict and not isinstance(indexes, Mapping):  # dict: no abc check
        raise InvalidArgument("indexes must map index names to values", field="indexes")
    clean: dict[str, list[str]] = {}
    entries: list[tuple[str, str]] = []
    append = entries.append
    # the last name while they come in sorted order (``document_indexes`` writes them so:
    # nothing to sort), None once one does not
    last: str | None = ""
    for index, raw in indexes.items():
        if type(index) is not str or index not in _INDEX_NAMES:
            _remember(validate_index_name, _INDEX_NAMES, index)
        if type(raw) is list:  # the common case first
            values = raw
        elif isinstance(raw, str):
            values = [raw]
        elif isinstance(raw, list | tuple | set | frozenset) or (
            isinstance(raw, Iterable) and not isinstance(raw, bytes | Mapping)
        ):
            values = list(raw)
        else:
            raise InvalidArgument(
                f"index {index!r} must be a string or a list of strings", field=index
            )
        for value in values:
            if type(value) is not str or not value or len(value) > _MAX_VALUE or "\x00" in value:
                validate_index_value(value, index)  # raises, naming what is wrong
        if not values:
            continue
        if len(values) == 1:
            append((index, values[0]))
        else:
            if len(values) != 2 or values[0] >= values[1]:  # two in order: nothing to sort
                values = sorted(set(values))
            for value in values:
                append((index, value))
        clean[index] = values
        if last is not None:
            last = index if index > last else None
    if last is None:  # names out of order: sort them and list the entries again
        clean = dict(sorted(clean.items()))
        entries = [(index, value) for index, values in clean.items() for value in values]
    # what json.dumps(clean, separators=(",", ":"), ensure_ascii=False) writes: orjson writes
    # the same for a map of string lists (backends/kv/bodies.py); it refuses lone surrogates
    try:
        return orjson.dumps(clean).decode(), tuple(entries)
    except TypeError:
        text = ",".join(
            f"{_STRING(index)}:[{','.join([_STRING(v) for v in values])}]"
            for index, values in clean.items()
        )
        return f"{{{text}}}", tuple(entries)


# one encoder each, made once (``json.dumps`` with options builds a new one per call)
_BODY = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode
_STRING: Callable[[str], str] = json.encoder.encode_basestring
_MAX_VALUE = MAX_INDEX_VALUE_CHARS


def index_entries(canonical: str | None) -> set[tuple[str, str]]:
    """The (index, value) pairs of a stored canonical index JSON (empty for None)."""
    if not canonical:
        return set()
    decoded: dict[str, list[str]] = json.loads(canonical)
    return {(index, value) for index, values in decoded.items() for value in values}


def encode_cursor(name: str) -> str:
    return base64.urlsafe_b64encode(name.encode()).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> str | None:
    """The document name a cursor points after; ``InvalidArgument`` for a foreign cursor."""
    if cursor is None:
        return None
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        name = base64.urlsafe_b64decode(padded.encode("ascii")).decode()
        return validate_name(name)
    except (ValueError, binascii.Error, InvalidArgument) as exc:
        raise InvalidArgument(
            f"after cursor {cursor!r} is not a valid cursor", field="after"
        ) from exc


def check_first(first: int) -> int:
    if isinstance(first, bool) or not isinstance(first, int) or not 0 <= first <= MAX_PAGE_SIZE:
        raise InvalidArgument(
            f"first must be an integer from 0 to {MAX_PAGE_SIZE} (got {first!r})", field="first"
        )
    return first


def page_from(rows: Sequence[Document], first: int, total: int) -> Page[Document]:
    """A page from up to ``first + 1`` rows fetched in order (the extra row means 'more')."""
    items = list(rows[:first])
    return Page(
        items=items,
        total_count=total,
        has_next_page=len(rows) > first,
        end_cursor=items[-1].cursor if items else None,
    )


class KvStore(abc.ABC):
    """The KV projection. Implementations are safe for concurrent asyncio use."""

    # ------------------------------------------------------------------ writes
    @abc.abstractmethod
    async def apply(self, batch: Batch) -> ApplyResult:
        """Apply a batch atomically under the sequence rule (see the module docstring)."""

    @abc.abstractmethod
    async def set_alias(
        self,
        repository: str,
        alias: str,
        target: str | None,
        *,
        sequence: int,
        expected_target_version: str | None = None,
    ) -> bool:
        """Point channel ``alias`` of ``repository`` at channel ``target`` (None removes the
        alias). Applies only if ``sequence`` >= the alias's stored sequence; returns whether
        it applied. With ``expected_target_version`` the switch also requires the target
        scope's head version to be that commit, checked atomically with the switch (after the
        sequence rule: an older switch returns False); a mismatch (or no head) raises
        ``FailedPrecondition(field="expected_target_version")`` and changes nothing."""

    @abc.abstractmethod
    async def prune_tombstones(self, scope: ChannelScope, *, below_sequence: int) -> int:
        """Forget tombstones with a sequence below ``below_sequence``; return how many."""

    @abc.abstractmethod
    async def drop_channel(self, scope: ChannelScope) -> None:
        """Delete every document, index entry, tombstone and the head of a scope.
        ``FailedPrecondition`` while an alias points at it."""

    @abc.abstractmethod
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
        """One atomic step of replacing ``target``'s content by a copy of ``source``'s (module
        doc, "Copies"). Start with ``cursor=COPY_START`` and pass each returned cursor on until
        it is None. Applies only if ``target``'s head sequence is ``expected_head_sequence``
        (else ``FailedPrecondition(field="expected_head_sequence")``) and, with
        ``unless_alias``, that alias does not point at ``target`` (else
        ``FailedPrecondition(field="alias")``); then nothing is written. Check the arguments
        with :func:`check_copy`."""

    # ------------------------------------------------------------------ reads
    @abc.abstractmethod
    async def resolve(self, repository: str, channel: str) -> ChannelScope:
        """The scope to read for ``channel``: its alias target, or the channel itself."""

    @abc.abstractmethod
    async def head(self, scope: ChannelScope) -> ChannelHead | None: ...

    @abc.abstractmethod
    async def get(self, scope: ChannelScope, kind: str, name: str) -> Document | None: ...

    @abc.abstractmethod
    async def get_many(
        self, scope: ChannelScope, kind: str, names: Sequence[str]
    ) -> list[Document | None]:
        """Documents in the order of ``names`` (None where missing), read consistently."""

    @abc.abstractmethod
    async def index_sets(
        self, scope: ChannelScope, kind: str, names: Sequence[str]
    ) -> list[str | None]:
        """The index entries stored with each document of ``names`` (canonical JSON of
        ``{index: [sorted values]}``, ``"{}"`` for none; None where there is no document), in
        the order of ``names``. What the projection wrote, not recomputed: the shadow
        re-index compares it between two buffers (``worker.shadow_compare``)."""

    @abc.abstractmethod
    async def list_documents(
        self, scope: ChannelScope, kind: str, *, first: int, after: str | None = None
    ) -> Page[Document]:
        """Documents of ``kind`` ordered by name; ``total_count`` counts all of them."""

    @abc.abstractmethod
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
        """Documents of ``kind`` whose ``index`` holds ``value``, ordered by name."""

    # ------------------------------------------------------------------ floor, lifecycle
    @abc.abstractmethod
    async def raw_bulk_set(self, pairs: Sequence[tuple[str, bytes]]) -> None:
        """Plain bulk write of opaque key/value pairs in the backend's fastest way: no
        versions, no indexes, a keyspace of its own. The benchmark's floor."""

    @abc.abstractmethod
    async def raw_bulk_delete(self, keys: Sequence[str]) -> None: ...

    @abc.abstractmethod
    async def raw_get(self, key: str) -> bytes | None: ...

    def longest_write_seconds(self) -> float:
        """The longest time this store held a store-wide write lock at a stretch (SQLite's);
        0.0 for backends without one."""
        return 0.0

    @abc.abstractmethod
    async def ping(self) -> None:
        """Return if the backend answers, else raise ``Unavailable``."""

    @abc.abstractmethod
    async def close(self) -> None:
        """Release connections. The store must not be used afterwards."""

    async def __aenter__(self) -> KvStore:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()
