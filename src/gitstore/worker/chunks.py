"""Sharing the chunks of one big commit between worker processes (the worker pool).

A projection too large for one batch is written in chunks under a claim (``claims``). Every
non-final chunk of a claim is order-free: it carries ``sequence c`` and
``expected_head_sequence = c``, writes documents no other chunk writes (a plan holds each
identity once) and does not move the head. So one **coordinator** per claim can hand its
chunks to **helpers** — any worker process, the coordinator's own included — and only the
final batch stays its own:

1. *Plan and publish.* The coordinator plans as before, writes the claim (now holding
   ``chunks: n``), and publishes one :class:`ChunkWork` message per shared chunk on the
   chunk stream (``chunk_stream``: ``<events stream>-chunks``, on the event queue's backend;
   consumer group ``settings.worker.group``). A message carries the chunk's whole work list
   (``(path, blob id)`` upserts, ``(kind, name)`` deletes, ≤ ``batch_size`` entries), the
   target's rule-based collections (``rules``) and the claim's sequence: the queue's lease
   **is** the claim on a chunk, no new compare-and-set primitive is needed.
2. *Helpers* (``chunk_helper``) take a message, fetch, prepare (every check of the
   projector: the same ``Projector.prepare``), adjust rule-based collections, and apply ONE
   batch: the chunk's documents **plus its done marker** ``(PROJECTION_KIND,
   done-<c>-<k>)`` (counts and the invalid files' errors), ``sequence c``,
   ``expected_head_sequence = c``, ``advance_head=False``, the target's alias fence. A lost
   head CAS means a newer claim took over: the chunk is obsolete, acked and dropped.
3. *Finish.* The coordinator writes the chunks it cannot share (relocated documents, files
   whose content the plan already holds, a work list too large for a queue message) itself
   (fetched and prepared ahead of their writes: ``pipeline``),
   beats the claim's heartbeat, polls the done markers (``get_many``), and writes the final
   batch: ``sequence c + 1``, head → target, claim and markers deleted, atomically. The
   draft's standby switch follows as before, so readers still see the commit all or
   nothing.

What is shared: only plans of at least ``min_chunks`` shareable chunks (smaller ones are
written by the coordinator alone, exactly as before), and never a re-index of rule-based
collections over products already in the KV (its chunks must know every product the plan
wrote: ``collections``).

Failures: a redelivered chunk (a helper died, a lease ran out) rewrites the same documents
at the same sequence and sets the same marker — idempotent; a helper that finds the marker
already written skips the work. A chunk nobody finishes within ``stall_seconds`` (every
helper gone, a message dead-lettered) is projected by the coordinator itself. A dead
coordinator stops beating: the next projection takes its claim over as before (``c + 1``,
the claim's ``chunks`` tell it which markers to delete) and every late chunk of the old
claim fails its CAS on ``c``.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from gitstore.backends.kv import Batch, Document
from gitstore.backends.queue.base import Queue
from gitstore.domain.content import ContentError
from gitstore.domain.content.rules import RuleSet, rule_set
from gitstore.domain.errors import InvalidArgument
from gitstore.domain.keys import ChannelScope
from gitstore.domain.projection import NO_VERSION, PROJECTION_KIND, PROJECTION_MARKER
from gitstore.worker.changes import FileAt, Plan
from gitstore.worker.claims import Claim
from gitstore.worker.collections import RuleIndex
from gitstore.worker.staging import join
from gitstore.worker.targets import ProjectionResult, Target, Work

if TYPE_CHECKING:
    from gitstore.domain.content import KindRegistry
    from gitstore.worker.projector import Projector

log = logging.getLogger(__name__)

CHUNK_TYPE = "projection.chunk"
MIN_CHUNKS = 3


def chunk_stream(events_stream: str) -> str:
    """The stream of chunk work beside the main event stream."""
    return f"{events_stream}-chunks"


def marker_name(sequence: int, index: int) -> str:
    """The done marker of chunk ``index`` of the claim at ``sequence``."""
    return f"done-{sequence}-{index}"


def shareable(item: Work) -> bool:
    """Whether a helper can redo ``item`` from its path and blob id alone."""
    return not isinstance(item, FileAt) or (item.relocated is None and item.content is None)


def rules_value(rules: Mapping[str, RuleSet]) -> dict[str, Any]:
    """Rule-based collections as the collection ``spec`` parts :func:`rule_set` reads."""
    return {
        name: {
            "rules": [
                {"field": r.field, "relation": r.relation, "condition": r.condition}
                for r in rs.rules
            ],
            "appliedDisjunctively": rs.disjunctive,
        }
        for name, rs in rules.items()
    }


def rules_from(value: Mapping[str, Any]) -> dict[str, RuleSet]:
    out = {}
    for name, spec in value.items():
        rs = rule_set(spec) if isinstance(spec, Mapping) else None
        if rs is not None:
            out[str(name)] = rs
    return out


def _need(data: Mapping[str, Any], key: str, kind: type | tuple[type, ...]) -> Any:
    value = data.get(key)
    if not isinstance(value, kind) or (isinstance(value, bool) and kind is int):
        raise InvalidArgument(f"chunk message field {key!r} is missing or not valid", field=key)
    return value


@dataclass(frozen=True, slots=True)
class ChunkWork:
    """One shared chunk: what a helper needs to project it (see the module doc)."""

    scope: ChannelScope
    sequence: int  # the claim's sequence c
    index: int  # k, 0-based
    count: int  # n, the claim's shared chunks
    target: str  # the commit projected
    owner: str  # the coordinator
    fence: str | None = None
    upserts: tuple[tuple[str, str], ...] = ()  # (path, blob id)
    deletes: tuple[tuple[str, str], ...] = ()  # (kv kind, name)
    rules: Mapping[str, Any] | None = None  # ``rules_value`` of the target; None: no rules

    @property
    def marker(self) -> str:
        return marker_name(self.sequence, self.index)

    def work(self) -> list[Work]:
        return [*self.deletes, *(FileAt(path, blob) for path, blob in self.upserts)]

    def to_json(self) -> bytes:
        return json.dumps(
            {
                "type": CHUNK_TYPE,
                "repository": self.scope.repository,
                "channel": self.scope.channel,
                "sequence": self.sequence,
                "index": self.index,
                "count": self.count,
                "target": self.target,
                "owner": self.owner,
                "fence": self.fence,
                "upserts": [list(u) for u in self.upserts],
                "deletes": [list(d) for d in self.deletes],
                "rules": self.rules,
            },
            separators=(",", ":"),
        ).encode()

    @classmethod
    def from_json(cls, body: bytes) -> ChunkWork:
        """Parse a chunk message; ``InvalidArgument`` naming what is wrong."""
        try:
            data = json.loads(body)
        except ValueError as exc:
            raise InvalidArgument(f"chunk message is not JSON: {exc}", field="body") from None
        if not isinstance(data, dict) or data.get("type") != CHUNK_TYPE:
            raise InvalidArgument(f"not a {CHUNK_TYPE} message", field="type")
        pairs: dict[str, tuple[tuple[str, str], ...]] = {}
        for key in ("upserts", "deletes"):
            items = _need(data, key, list)
            if not all(
                isinstance(i, list) and len(i) == 2 and all(isinstance(s, str) for s in i)
                for i in items
            ):
                raise InvalidArgument(f"chunk message {key!r} must be string pairs", field=key)
            pairs[key] = tuple((i[0], i[1]) for i in items)
        fence, rules = data.get("fence"), data.get("rules")
        if fence is not None and not isinstance(fence, str):
            raise InvalidArgument("chunk message field 'fence' must be a string", field="fence")
        if rules is not None and not isinstance(rules, dict):
            raise InvalidArgument("chunk message field 'rules' must be an object", field="rules")
        return cls(
            scope=ChannelScope(_need(data, "repository", str), _need(data, "channel", str)),
            sequence=_need(data, "sequence", int),
            index=_need(data, "index", int),
            count=_need(data, "count", int),
            target=_need(data, "target", str),
            owner=_need(data, "owner", str),
            fence=fence,
            upserts=pairs["upserts"],
            deletes=pairs["deletes"],
            rules=rules,
        )


def marker_value(owner: str, result: ProjectionResult) -> dict[str, Any]:
    """What a done marker records: who wrote the chunk, its counts, the invalid files."""
    return {
        "owner": owner,
        "upserts": result.upserts,
        "deletes": result.deletes,
        "invalid": [
            {"path": path, "blob": blob, "errors": [e.to_dict() for e in errors]}
            for (path, blob), errors in result.checked.items()
            if errors
        ],
    }


def _error(d: Mapping[str, Any]) -> ContentError:
    line, column = d.get("line"), d.get("column")
    return ContentError(
        str(d.get("path", "")),
        str(d.get("field", "")),
        str(d.get("rule", "")),
        str(d.get("message", "")),
        line if isinstance(line, int) else None,
        column if isinstance(column, int) else None,
    )


def merge_marker(result: ProjectionResult, work: ChunkWork, doc: Document) -> str:
    """Add a done chunk's figures to the coordinator's ``result``; the helper's name."""
    value = doc.value()
    invalid: dict[tuple[str, str], tuple[ContentError, ...]] = {}
    for item in value.get("invalid") or ():
        errors = tuple(_error(e) for e in item.get("errors") or () if isinstance(e, dict))
        invalid[(str(item.get("path")), str(item.get("blob")))] = errors
    for path, blob in work.upserts:
        errors = invalid.get((path, blob), ())
        result.checked[(path, blob)] = errors
        result.invalid.extend(errors)
    result.upserts += int(value.get("upserts") or 0)
    result.deletes += int(value.get("deletes") or 0)
    result.chunks += 1
    return str(value.get("owner") or "")


@dataclass(slots=True)
class ChunkSharer:
    """The coordinator's side: publish shareable chunks, wait for their markers, finish."""

    queue: Queue
    min_chunks: int = MIN_CHUNKS
    stall_seconds: float = 60.0
    poll_interval: float = 0.1
    helpers: dict[str, int] = field(default_factory=dict)  # last projection: chunks by writer

    async def write(
        self,
        p: Projector,
        spec: Target,
        seq: int,
        plan: Plan,
        previous: Claim | None,
        result: ProjectionResult,
        rules: RuleIndex | None,
        registry: KindRegistry,
    ) -> bool:
        """Project ``plan`` with shared chunks; False (nothing written) when not worth it."""
        if self.min_chunks <= 0 or (rules is not None and rules.chunks(p.batch_size) > 0):
            return False  # re-index chunks need every product the plan wrote: alone
        work: list[Work] = [*plan.deletes, *plan.upserts]
        plain = [w for w in work if shareable(w)]
        local = [w for w in work if not shareable(w)]
        size = p.batch_size
        parts = [plain[i : i + size] for i in range(0, len(plain), size)]
        if len(parts) < max(2, self.min_chunks):
            return False
        scope, fence = spec.scope, spec.fence
        c = max(seq + 1, spec.floor)
        wire = rules_value(rules.rules) if rules is not None and rules.rules else None

        def message(part: list[Work], index: int, count: int) -> ChunkWork:
            return ChunkWork(
                scope,
                c,
                index,
                count,
                plan.target,
                p.owner,
                fence,
                upserts=tuple((w.path, w.blob_id) for w in part if isinstance(w, FileAt)),
                deletes=tuple(w for w in part if not isinstance(w, FileAt)),
                rules=wire,
            )

        fits = []  # a work list larger than a queue message (long paths, a big batch): kept
        for part in parts:
            if len(message(part, len(parts), len(parts)).to_json()) < self.queue.max_payload:
                fits.append(part)
            else:
                local.extend(part)
        if len(fits) < max(2, self.min_chunks):
            return False
        chunks = [message(part, k, len(fits)) for k, part in enumerate(fits)]
        targets = tuple(dict.fromkeys([*(previous.targets if previous else ()), plan.target]))
        reindex = rules is not None and rules.reindex  # a takeover must re-index, as before
        claim = Claim(
            plan.base,
            targets,
            p.owner,
            p.clock(),
            c,
            full=plan.full,
            reindex=reindex,
            chunks=len(chunks),
        )
        version = NO_VERSION if spec.hide_claims else (plan.base or NO_VERSION)
        first = Batch(scope, c, version, expected_head_sequence=seq, unless_alias=fence)
        first.upsert(PROJECTION_KIND, PROJECTION_MARKER, claim.value())
        for stale in stale_markers(previous):
            first.delete(PROJECTION_KIND, stale)
        await p.apply(first)
        for chunk in chunks:
            await self.queue.publish(chunk.to_json(), key=scope.repository)
        log.info(
            "%s: %d chunk(s) of claim %d published for helpers, %d kept",
            scope,
            len(chunks),
            c,
            -(-len(local) // size),
        )
        mine = [local[i : i + size] for i in range(0, len(local), size)]
        async with p.pipeline(scope.repository, mine, rules, registry, plan.target) as ahead:
            for _ in mine:  # what only the coordinator can write, fetched ahead (``pipeline``)
                ready = join(await ahead.take())
                claim = claim.beat(p.clock())
                batch = _middle(scope, c, plan.target, fence)
                batch.upsert(PROJECTION_KIND, PROJECTION_MARKER, claim.value())
                p.fill(batch, ready, result)
                await p.apply(batch)
                result.chunks += 1
        await self._finish_shared(p, chunks, claim, fence, result)
        final = Batch(scope, c + 1, plan.target, expected_head_sequence=c, unless_alias=fence)
        final.delete(PROJECTION_KIND, PROJECTION_MARKER)
        for chunk in chunks:
            final.delete(PROJECTION_KIND, chunk.marker)
        await p.apply(final)
        result.sequence = c + 1
        log.info(
            "%s: the %d shared chunk(s) of claim %d were written by %s",
            scope,
            len(chunks),
            c,
            json.dumps(self.helpers, sort_keys=True),
        )
        return True

    async def _finish_shared(
        self,
        p: Projector,
        chunks: Sequence[ChunkWork],
        claim: Claim,
        fence: str | None,
        result: ProjectionResult,
    ) -> None:
        """Wait for every chunk's done marker (beating the claim); project stalled ones."""
        from gitstore.worker.chunk_helper import project_chunk  # it builds on this module

        scope, c = claim_scope(chunks), claim.sequence
        pending = {chunk.index: chunk for chunk in chunks}
        self.helpers = {}
        progress = beat = time.monotonic()
        while pending:
            await asyncio.sleep(self.poll_interval)
            names = [chunk.marker for chunk in pending.values()]
            docs = await p.kv.get_many(scope, PROJECTION_KIND, names)
            for chunk, doc in zip(list(pending.values()), docs, strict=True):
                if doc is not None and doc.sequence == c:
                    helper = merge_marker(result, chunk, doc)
                    self.helpers[helper] = self.helpers.get(helper, 0) + 1
                    del pending[chunk.index]
                    progress = time.monotonic()
            now = time.monotonic()
            if pending and now - beat >= p.claim_stale_seconds / 4:
                claim = claim.beat(p.clock())
                batch = _middle(scope, c, chunks[0].target, fence)
                batch.upsert(PROJECTION_KIND, PROJECTION_MARKER, claim.value())
                await p.apply(batch)  # a lost CAS: taken over, the projection starts over
                beat = now
            if pending and now - progress >= self.stall_seconds:
                chunk = next(iter(pending.values()))
                log.warning(
                    "%s: chunk %d of claim %d not done after %.0fs: projecting it here",
                    scope,
                    chunk.index,
                    c,
                    now - progress,
                )
                await project_chunk(p, chunk)
                progress = time.monotonic()


def claim_scope(chunks: Sequence[ChunkWork]) -> ChannelScope:
    return chunks[0].scope


def _middle(scope: ChannelScope, c: int, target: str, fence: str | None) -> Batch:
    return Batch(scope, c, target, advance_head=False, expected_head_sequence=c, unless_alias=fence)


def stale_markers(previous: Claim | None) -> list[str]:
    """The done markers an unfinished claim may have left (deleted by the next claim)."""
    if previous is None:
        return []
    return [marker_name(previous.sequence, k) for k in range(previous.chunks)]
