"""The convergent projection of one repository's default branch into the KV channel ``draft``.

Not event replay: whatever event arrives, the projector makes the KV equal to the branch
head *now*. One attempt:

1. ``target`` = ResolveRevision(HEAD) (the default branch head); the KV head of ``draft``
   gives ``base`` (the commit last fully materialised) and its sequence ``seq``; the claim
   document (``claims``) says whether a chunked projection is unfinished.
2. No claim and ``base == target``: nothing to do (a redelivered or late event).
3. The plan (``changes``): the documents to upsert and delete, from the diff
   ``base -> target`` plus what an unfinished projection may have touched, plus every file
   of a kind whose definition or hook module the diff changed (``rekind``: re-converted
   with the new hook, re-validated with the new schemas, although the files did not change).
4. Each upsert's blob is fetched (``GetBlobBatches`` by id), parsed, validated and encoded
   into its KV write (``parsing.prepare_many``) in a thread, or for a large chunk on the
   ``pool``'s processes. Chunks are fetched and prepared ahead while earlier ones are
   written, ``depth`` chunks deep (``pipeline``; the two stages: ``staging``). Valid files
   become documents with their indexes (``domain.projection``); invalid ones are counted and
   skipped, so the KV keeps the last valid document of that resource.
   Files the ``cache`` (``prepared_cache``) already holds for the same path, blob id and
   kind registry — ``draft`` projected this commit just before its release — are neither
   fetched nor prepared again.
5. Written in one batch (``sequence = seq + 1``, ``version = target``,
   ``expected_head_sequence = seq``) when it fits ``batch_size``, else in chunks under a
   claim (see ``claims``). Losing the head CAS (``FailedPrecondition`` on
   ``expected_head_sequence``: another worker moved the head) starts over from 1.

Every document write is stamped with the target commit and a sequence above everything the
channel held, and the head moves only with the write that completes the target, so a crash
anywhere leaves a state the next attempt repairs: the KV converges to exactly the branch head.

**Pruning tombstones** (``draft`` only, after a projection that moved the head to ``h``):
the tombstones below ``h`` are dropped (``prune_tombstones``), so deleted documents do not
pile up. Safe for the reason ``publisher`` gives for its buffers: a tombstone only blocks a
write with a *lower* sequence, and every write into ``draft`` is one of this module's
batches, compare-and-setting the head (``expected_head_sequence``) with a sequence at or
above it (``seq + 1``; a claim's chunks use the claim's sequence, which is the head). The
head is at or above every stored sequence and never goes down, so an applied batch is
never below a tombstone, and a batch planned against an older head (a stalled chunk after
a takeover, a worker that lost the race) is refused whole by the compare-and-set. Late and
redelivered events carry no state: they re-resolve the branch head. No other code writes
``draft`` (statuses and publication intents live in their own channels). A failed prune is
logged, not raised; the next projection makes up for it. The last projection's own
tombstones (at ``h``) stay until the next one.

**Other targets** (``project_into``, used by the publisher, ``publisher``): the same algorithm
for any scope and a given commit, described by a :class:`Target`. Three extra knobs, all off
for ``draft``: ``floor`` (the lowest sequence to write with; a head at or above ``ceiling``
means a newer writer owns the scope: :class:`Overtaken`), ``fence`` (every batch carries
the KV alias fence ``unless_alias``) and ``hide_claims`` (a chunked projection's claim batch
sets the head version to ``NO_VERSION``, the claim document keeps the base, so a guarded
alias switch — ``expected_target_version`` — can never expose a half-written scope).
``single_only`` refuses a plan larger than one batch (:class:`TooLarge`, nothing written);
``full`` forces a full resync.

**Rule-based collections** (``collections``): product index entries include the rule-based
collections of the target they match; a plan that changes those collections' rules also
re-indexes every other product from its KV document, as extra writes of the same projection
(re-index chunks after the plan's, flagged in the claim).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import replace

from gitstore.backends.kv import Batch, KvStore
from gitstore.backends.wasm.pool import AsyncHookRunner
from gitstore.backends.wasm.runner import WasmHookRunner
from gitstore.domain.content import DEFAULT_MAX_MANIFEST_BYTES, KindRegistry
from gitstore.domain.conversion import HookLimits
from gitstore.domain.errors import Aborted, FailedPrecondition, NotFound
from gitstore.domain.keys import ChannelScope
from gitstore.domain.projection import (
    NO_VERSION,
    PROJECTION_KIND,
    PROJECTION_MARKER,
    materialised_version,
)
from gitstore.gcpace import fewer_collections
from gitstore.git.client import GitClient
from gitstore.git.kinds import KindsLoader
from gitstore.worker.changes import Plan, contents, plan_changes, plan_full, relocate
from gitstore.worker.chunks import ChunkSharer, stale_markers
from gitstore.worker.claims import Claim, read_claim
from gitstore.worker.collections import RuleIndex, rule_index
from gitstore.worker.metrics import WorkerMetrics
from gitstore.worker.pipeline import DEFAULT_DEPTH, Pipeline
from gitstore.worker.pool import PreparePool
from gitstore.worker.prepared_cache import PreparedCache
from gitstore.worker.staging import Fetched, digest, fetch_work, join
from gitstore.worker.targets import (
    Again,
    Overtaken,
    ProjectionResult,
    Ready,
    Target,
    TooLarge,
    Work,
    plan_key,
    prune_quietly,
)

__all__ = [
    "Overtaken",
    "ProjectionResult",
    "Projector",
    "Target",
    "TooLarge",
    "prune_quietly",
]

log = logging.getLogger(__name__)

MAX_HEAD_RACES = 32
FIRST_PIECES = 4  # the first chunk's pieces when prepared in a thread (``pipeline``: the fill)

Part = tuple[Sequence[Work] | None, bool]  # a pipeline part: work (None: re-index), last chunk


class Projector:
    """Projects repositories into ``draft``; one instance per worker (``owner`` unique)."""

    def __init__(
        self,
        git: GitClient,
        kv: KvStore,
        *,
        owner: str,
        registry: KindRegistry | None = None,
        batch_size: int = 2000,
        claim_stale_seconds: float = 15.0,
        metrics: WorkerMetrics | None = None,
        max_bytes: int = DEFAULT_MAX_MANIFEST_BYTES,
        clock: Callable[[], float] = time.time,
        poll_interval: float = 0.1,
        pool: PreparePool | None = None,
        cache: PreparedCache | None = None,
        kinds: KindsLoader | None = None,
        hooks: AsyncHookRunner | None = None,
        hook_limits: HookLimits | None = None,
        hook_workers: int = 2,
        depth: int = DEFAULT_DEPTH,
    ) -> None:
        self.git = git
        self.kv = kv
        self.owner = owner
        self.registry = registry or KindRegistry.builtin()
        self.batch_size = batch_size
        self.claim_stale_seconds = claim_stale_seconds
        self.metrics = metrics or WorkerMetrics()
        self.max_bytes = max_bytes
        self.clock = clock
        self.poll_interval = poll_interval
        self.pool = pool or PreparePool(0)
        self.cache = cache  # prepared files by (path, blob id): see ``prepared_cache``
        # the registry of each commit projected: built-ins plus its kinds/ (``git.kinds``)
        self.kinds = kinds or KindsLoader(git, max_bytes=max_bytes, base=self.registry)
        self._hooks = hooks  # conversion hooks to the hub (``worker.hub``); made on first use
        self.hook_limits = hook_limits  # of the runner made here (None: HookLimits())
        self.hook_workers = hook_workers
        self.depth = depth  # chunks fetched and prepared ahead of the one written (``pipeline``)
        self._runner: WasmHookRunner | None = None  # the runner of hooks made here
        # the plan a ``single_only`` attempt made before it found it too large: the next
        # ``_plan`` of the very same change (the standby round of ``draft_switch``) reuses it
        self._spare: tuple[tuple[object, ...], KindRegistry, Plan] | None = None
        # shares the chunks of a big plan with other worker processes (``chunks``); None: alone
        self.sharer: ChunkSharer | None = None
        # draft projections running here: repository -> target ("" before it is resolved)
        self.drafting: dict[str, str] = {}

    @property
    def hooks(self) -> AsyncHookRunner:
        if self._hooks is None:
            self._runner = WasmHookRunner(self.hook_limits)
            self._hooks = AsyncHookRunner(self._runner, max_workers=self.hook_workers)
        return self._hooks

    @property
    def runner(self) -> WasmHookRunner | None:
        """The hook runner this projector made (None before first use, or when given one)."""
        return self._runner

    def close(self) -> None:
        """Stop the hook runner this projector made (if any)."""
        if self._runner is not None and self._hooks is not None:
            self._hooks.close()
            self._runner.close()
            self._hooks = self._runner = None

    async def project(self, repository: str, *, correlation_id: str = "") -> ProjectionResult:
        """Bring the draft of ``repository`` to its default branch head, seen by readers all
        or nothing (the two draft buffers: ``draft_switch``); see the module doc."""
        from gitstore.worker.draft_switch import project_draft  # it builds on this module

        return await project_draft(self, repository, correlation_id=correlation_id)

    async def prune(self, scope: ChannelScope, below: int, correlation_id: str) -> int:
        """Drop the tombstones of ``scope`` below ``below`` (the head the projection just
        wrote; why that is safe: the module doc)."""
        pruned = await prune_quietly(self.kv, scope, below, correlation_id)
        if pruned:
            log.info(
                "pruned %d tombstone(s) of %s below sequence %d [correlation_id=%s]",
                pruned,
                scope,
                below,
                correlation_id,
            )
        return pruned

    async def project_into(self, target: Target, *, correlation_id: str = "") -> ProjectionResult:
        """Bring ``target.scope`` to ``target.commit`` (see :class:`Target`), with fewer
        garbage collections meanwhile (``gcpace``: the pool's threshold)."""
        with fewer_collections(self.pool.gc_gen0):
            return await self._project_into(target, correlation_id)

    async def _project_into(self, target: Target, correlation_id: str) -> ProjectionResult:
        repository = target.scope.repository
        stale: Claim | None = None
        races = 0
        while True:
            try:
                outcome = await self._attempt(target, stale, correlation_id)
            except FailedPrecondition as exc:
                if exc.field != "expected_head_sequence":
                    raise
                races += 1
                if races >= MAX_HEAD_RACES:
                    raise Aborted(
                        f"projection of {repository} lost the head race {races} times"
                    ) from None
                log.info(
                    "projection of %s lost the head race (%s); starting over [correlation_id=%s]",
                    repository,
                    exc.message,
                    correlation_id,
                )
                continue
            if isinstance(outcome, ProjectionResult):
                return outcome
            stale = outcome.stale

    # ------------------------------------------------------------------ one attempt

    async def _attempt(
        self, spec: Target, stale: Claim | None, correlation_id: str
    ) -> ProjectionResult | Again:
        started = time.monotonic()
        scope = spec.scope
        repository = scope.repository
        target = spec.commit or (await self.git.resolve_revision(repository, "HEAD")).commit_sha
        head = await self.kv.head(scope)
        seq = head.sequence if head else 0
        if spec.ceiling is not None and seq >= spec.ceiling:
            raise Overtaken(
                f"{scope} is at sequence {seq}, at or above {spec.ceiling}: a newer writer owns it"
            )
        base = materialised_version(head.version if head else None)
        claim = await read_claim(self.kv, scope)
        if spec.hide_claims and claim is not None:
            base = claim.base  # the head version is hidden while a claim is open
        if claim is None and base == target and not spec.full:
            return ProjectionResult(repository, target, base, seq)
        if (
            claim is not None
            and claim.owner != self.owner
            and claim != stale
            and self.clock() - claim.heartbeat < self.claim_stale_seconds
        ):
            return await self._wait(scope, seq, claim)
        # A head without a materialised version but no claim to explain it: trust nothing.
        suspect = head is not None and base is None and claim is None
        registry = await self.kinds.registry(repository, target)
        plan = await self._plan(
            repository, scope, base, target, claim, suspect or spec.full, registry
        )
        # as planned, before ``relocate`` (which reads this scope) changes it
        planned = replace(plan, upserts=list(plan.upserts)) if spec.single_only else None
        result = ProjectionResult(
            repository, target, base, seq, full=plan.full, took_over=claim is not None
        )
        result.invalid.extend(plan.conflicts)
        if plan.rekinded:
            log.info(
                "%s %s: kind(s) %s changed (definition or hook): re-projecting their files "
                "[correlation_id=%s]",
                repository,
                target[:12],
                ", ".join(plan.rekinded),
                correlation_id,
            )
        if claim is None and not plan.full:
            plan.upserts = await relocate(self.kv, scope, plan.upserts, self.registry)
        rules = await rule_index(
            self.kv,
            scope,
            plan,
            fetch=lambda ids: contents(self.git, repository, ids),
            registry=registry,
            max_bytes=self.max_bytes,
            force_reindex=claim is not None and claim.reindex,
        )
        extra = rules.extra if rules is not None else 0
        if len(plan) + extra + (1 if claim else 0) <= self.batch_size:
            await self._write_single(spec, seq, plan, claim is not None, result, rules, registry)
        elif spec.single_only:
            assert planned is not None
            key = plan_key(repository, base, target, claim, suspect or spec.full)
            self._spare = (key, registry, planned)
            raise TooLarge(
                f"{len(plan)} writes from {(base or 'nothing')[:12]} to {target[:12]} do not fit "
                f"one batch of {self.batch_size} into {scope}",
                field="batch_size",
            )
        else:
            await self._write_chunked(spec, seq, plan, claim, result, rules, registry)
        result.changed = True
        result.seconds = time.monotonic() - started
        self.metrics.projection_seconds.observe(result.seconds)
        self.metrics.validation_failures.inc(result.invalid_files)
        log.info(
            "projected %s %s -> %s: %d upserts, %d deletes, %d invalid, %d chunk(s)%s%s "
            "in %.3fs [correlation_id=%s]",
            repository,
            (base or "nothing")[:12],
            target[:12],
            result.upserts,
            result.deletes,
            result.invalid_files,
            result.chunks,
            ", full resync" if plan.full else "",
            ", finishing an unfinished claim" if claim else "",
            result.seconds,
            correlation_id,
        )
        for error in result.invalid[:20]:
            log.warning("not projected: %s [correlation_id=%s]", error, correlation_id)
        return result

    async def _plan(
        self,
        repository: str,
        scope: ChannelScope,
        base: str | None,
        target: str,
        claim: Claim | None,
        suspect: bool,
        registry: KindRegistry,
    ) -> Plan:
        spare, self._spare = self._spare, None
        key = plan_key(repository, base, target, claim, suspect)
        if spare is not None and spare[1] is registry and spare[0] == key:
            return spare[2]
        if not suspect and (claim is None or (claim.base == base and not claim.full)):
            try:
                return await plan_changes(
                    self.git,
                    repository,
                    base=base,
                    target=target,
                    dirty=claim.targets if claim else (),
                    registry=registry,
                    base_registry=lambda: self.kinds.registry(repository, base),
                )
            except NotFound as exc:
                log.warning("cannot diff %s from %s (%s): full resync", repository, base, exc)
        return await plan_full(
            self.git, self.kv, scope, repository, target=target, registry=registry
        )

    async def _wait(self, scope: ChannelScope, seq: int, claim: Claim) -> Again:
        """Wait while another owner's claim is alive; ``stale`` if it stopped moving."""
        seen, last_change = claim, time.monotonic()
        while time.monotonic() - last_change < self.claim_stale_seconds:
            await asyncio.sleep(self.poll_interval)
            head = await self.kv.head(scope)
            now = await read_claim(self.kv, scope)
            if (head.sequence if head else 0) != seq or now is None:
                return Again()
            if (now.owner, now.sequence) != (seen.owner, seen.sequence):
                return Again()
            if now.heartbeat != seen.heartbeat:
                seen, last_change = now, time.monotonic()
            if self.clock() - now.heartbeat >= self.claim_stale_seconds:
                return Again()
        log.warning("claim of %s by %s looks abandoned: taking over", scope, seen.owner)
        return Again(stale=seen)

    # ------------------------------------------------------------------ writing

    async def _write_single(
        self,
        spec: Target,
        seq: int,
        plan: Plan,
        had_claim: bool,
        result: ProjectionResult,
        rules: RuleIndex | None,
        registry: KindRegistry,
    ) -> None:
        scope = spec.scope
        s = max(seq + 1, spec.floor)
        batch = Batch(scope, s, plan.target, expected_head_sequence=seq, unless_alias=spec.fence)
        if had_claim:
            batch.delete(PROJECTION_KIND, PROJECTION_MARKER)
        work: list[Work] = [*plan.deletes, *plan.upserts]
        ready = await self.prepare_part(scope.repository, work, rules, registry, at=plan.target)
        if rules is not None and rules.reindex:
            ready.extra = await rules.next_chunk(0, last=True)
        self.fill(batch, ready, result)
        await self.apply(batch)
        result.sequence = s
        result.chunks = 1

    async def _write_chunked(
        self,
        spec: Target,
        seq: int,
        plan: Plan,
        previous: Claim | None,
        result: ProjectionResult,
        rules: RuleIndex | None,
        registry: KindRegistry,
    ) -> None:
        if self.sharer is not None and await self.sharer.write(
            self, spec, seq, plan, previous, result, rules, registry
        ):
            return
        scope, fence = spec.scope, spec.fence
        c = max(seq + 1, spec.floor)
        targets = tuple(dict.fromkeys([*(previous.targets if previous else ()), plan.target]))
        reindex = rules is not None and rules.reindex
        claim = Claim(
            plan.base, targets, self.owner, self.clock(), c, full=plan.full, reindex=reindex
        )
        version = NO_VERSION if spec.hide_claims else (plan.base or NO_VERSION)
        claim_batch = Batch(scope, c, version, expected_head_sequence=seq, unless_alias=fence)
        claim_batch.upsert(PROJECTION_KIND, PROJECTION_MARKER, claim.value())
        for stale in stale_markers(previous):  # of a coordinator that died (``chunks``)
            claim_batch.delete(PROJECTION_KIND, stale)
        # The chunks are fetched and prepared ahead while the claim and earlier chunks are
        # written (``pipeline``); None: a re-index chunk, after the plan's (``collections``).
        work: list[Work] = [*plan.deletes, *plan.upserts]
        chunks: list[list[Work] | None] = [
            work[i : i + self.batch_size] for i in range(0, len(work), self.batch_size)
        ]
        chunks += [None] * (rules.chunks(self.batch_size) if rules is not None else 0)
        async with self.pipeline(
            scope.repository, chunks or [[]], rules, registry, plan.target
        ) as ahead:
            await self.apply(claim_batch)
            for number in range(len(ahead.chunks)):
                ready = join(await ahead.take())
                if number == len(ahead.chunks) - 1:
                    batch = Batch(
                        scope, c + 1, plan.target, expected_head_sequence=c, unless_alias=fence
                    )
                    batch.delete(PROJECTION_KIND, PROJECTION_MARKER)
                else:
                    batch = Batch(
                        scope,
                        c,
                        plan.target,
                        advance_head=False,
                        expected_head_sequence=c,
                        unless_alias=fence,
                    )
                    claim = claim.beat(self.clock())
                    batch.upsert(PROJECTION_KIND, PROJECTION_MARKER, claim.value())
                self.fill(batch, ready, result)
                await self.apply(batch)
                result.chunks += 1
        result.sequence = c + 1

    def pipeline(
        self,
        repository: str,
        chunks: Sequence[Sequence[Work] | None],
        rules: RuleIndex | None,
        registry: KindRegistry,
        at: str,
    ) -> Pipeline[Part, Fetched | None, Ready]:
        """The chunks' fetch and prepare ahead of their writes, ``depth`` chunks deep
        (``pipeline``); the first chunk in pieces when it is prepared in a thread and every
        kind is built in."""
        parts: list[list[Part]] = []
        # not with hooks: each piece would be a hook request (``hub``)
        cut = FIRST_PIECES if not self.pool.processes and self.pool.accepts(registry) else 1
        for n, chunk in enumerate(chunks):
            last = n == len(chunks) - 1
            pieces = cut if n == 0 and chunk else 1
            size = -(-len(chunk) // pieces) if chunk else 0
            if chunk is None or size == 0:
                parts.append([(chunk, last)])
            else:
                parts.append([(chunk[i : i + size], last) for i in range(0, len(chunk), size)])

        async def fetch(part: Part) -> Fetched | None:
            return None if part[0] is None else await self.fetch(repository, part[0], registry)

        async def prepare(part: Part, fetched: Fetched | None) -> Ready:
            return await self.finish_part(repository, fetched, rules, registry, at=at, last=part[1])

        return Pipeline(parts, fetch, prepare, depth=self.depth)

    async def fetch(self, repository: str, work: Sequence[Work], registry: KindRegistry) -> Fetched:
        """The first stage of ``prepare``: the cache's hits and the other files' blobs
        (``staging``)."""
        return await fetch_work(self, repository, work, registry)

    async def prepare(
        self, repository: str, work: Sequence[Work], registry: KindRegistry, at: str
    ) -> Ready:
        """Fetch the chunk's blobs, then parse, validate and encode them (``pool``: in a
        thread, or on worker processes for a large chunk). Files the ``cache`` holds are
        neither fetched nor prepared again."""
        return await self.digest(
            repository, await self.fetch(repository, work, registry), registry, at
        )

    async def digest(
        self, repository: str, fetched: Fetched, registry: KindRegistry, at: str
    ) -> Ready:
        """The second stage of ``prepare``: parse, validate, encode (``staging``)."""
        return await digest(self, repository, fetched, registry, at)

    async def prepare_part(
        self,
        repository: str,
        part: Sequence[Work] | None,
        rules: RuleIndex | None,
        registry: KindRegistry,
        *,
        at: str,
        last: bool = False,
    ) -> Ready:
        """``prepare`` a chunk of the plan, its products' collection entries recomputed
        with the target's rule-based collections; None: the next re-index chunk
        (``collections``; ``last``: every product left)."""
        fetched = None if part is None else await self.fetch(repository, part, registry)
        return await self.finish_part(repository, fetched, rules, registry, at=at, last=last)

    async def finish_part(
        self,
        repository: str,
        fetched: Fetched | None,
        rules: RuleIndex | None,
        registry: KindRegistry,
        *,
        at: str,
        last: bool = False,
    ) -> Ready:
        """The second stage of ``prepare_part``: a fetched part prepared (or, None, the
        next re-index chunk)."""
        if fetched is None:
            assert rules is not None, "re-index chunks come with rules"
            return Ready(extra=await rules.next_chunk(self.batch_size, last=last))
        ready = await self.digest(repository, fetched, registry, at)
        if rules is not None:
            ready.files = await rules.adjust(ready.files)
        return ready

    def fill(self, batch: Batch, ready: Ready, result: ProjectionResult) -> None:
        for kind, name in ready.deletes:
            batch.delete(kind, name)
        for upsert in ready.extra:
            batch.add(upsert)
        result.reindexed += len(ready.extra)
        self.metrics.documents.labels("upsert").inc(len(ready.extra))
        upserts = 0
        for p in ready.files:
            result.checked[(p.path, p.blob_id)] = p.errors
            if p.upsert is not None:
                batch.add(p.upsert)
                upserts += 1
            else:
                result.invalid.extend(p.errors)
        result.relocated += ready.moved
        result.deletes += len(ready.deletes)
        result.upserts += upserts
        self.metrics.documents.labels("delete").inc(len(ready.deletes))
        self.metrics.documents.labels("upsert").inc(upserts)

    async def apply(self, batch: Batch) -> None:
        started = time.monotonic()
        await self.kv.apply(batch)
        self.metrics.kv_apply_seconds.observe(time.monotonic() - started)
