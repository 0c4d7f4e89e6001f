"""The helper's side of shared chunks (``chunks``): project one chunk, and the loop that
takes chunk messages in every worker process.

:func:`project_chunk` projects one :class:`~gitstore.worker.chunks.ChunkWork` with every
check of the projector (``Projector.prepare``: fetch by blob id, parse, validate, convert to
the hub, encode; the target's rule-based collections added to product entries) and writes it
as ONE batch with its done marker (``sequence c``, ``expected_head_sequence = c``, no head
move, the target's alias fence). Before any work it reads the head and the marker: a head
no longer at ``c`` (a newer claim, or the coordinator already finished) makes the chunk
**obsolete**, a marker already written (a redelivery) makes it **done**; neither is
projected again. A compare-and-set lost while writing is obsolete too.

:class:`ChunkConsumer` leases chunk messages from the chunk stream (consumer group
``settings.worker.group``), ``concurrency`` at a time (two by default: one is prepared while
the other is written), keeps each lease extended while it works, acks after the batch is
written (or found obsolete / done), gives a message back on a passing error and dead-letters
one that cannot be read or fails for good; the coordinator then projects that chunk itself
after ``stall_seconds``. No repository lock: chunks of one claim are order-free, and the
coordinator's own event holds that lock while it waits for them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from gitstore.backends.kv import Batch
from gitstore.backends.queue.base import Message, Queue
from gitstore.domain.errors import FailedPrecondition, GitStoreError, PermanentError
from gitstore.domain.projection import PROJECTION_KIND
from gitstore.worker.chunks import ChunkWork, marker_value, rules_from
from gitstore.worker.collections import RuleIndex
from gitstore.worker.fetching import FetchLoop
from gitstore.worker.projector import Projector
from gitstore.worker.targets import ProjectionResult

log = logging.getLogger(__name__)

WRITTEN, DONE, OBSOLETE = "written", "done", "obsolete"


async def project_chunk(p: Projector, chunk: ChunkWork) -> str:
    """Project ``chunk`` into its scope with its done marker; ``written``, ``done`` (its
    marker already exists) or ``obsolete`` (its claim is over)."""
    scope, c = chunk.scope, chunk.sequence
    head = await p.kv.head(scope)
    if head is None or head.sequence != c:
        return OBSOLETE
    marker = await p.kv.get(scope, PROJECTION_KIND, chunk.marker)
    if marker is not None and marker.sequence == c:
        return DONE
    repository = scope.repository
    registry = await p.kinds.registry(repository, chunk.target)
    ready = await p.prepare(repository, chunk.work(), registry, chunk.target)
    if chunk.rules:
        index = RuleIndex(p.kv, scope, rules_from(chunk.rules))
        ready.files = await index.adjust(ready.files)
    batch = Batch(
        scope,
        c,
        chunk.target,
        advance_head=False,
        expected_head_sequence=c,
        unless_alias=chunk.fence,
    )
    result = ProjectionResult(repository, chunk.target, None, c)
    p.fill(batch, ready, result)
    batch.upsert(PROJECTION_KIND, chunk.marker, marker_value(p.owner, result))
    try:
        await p.apply(batch)
    except FailedPrecondition as exc:
        log.info("%s: chunk %d of claim %d is obsolete (%s)", scope, chunk.index, c, exc.message)
        return OBSOLETE
    log.info(
        "%s: chunk %d/%d of claim %d written by %s: %d upserts, %d deletes, %d invalid",
        scope,
        chunk.index,
        chunk.count,
        c,
        p.owner,
        result.upserts,
        result.deletes,
        result.invalid_files,
    )
    return WRITTEN


class ChunkConsumer(FetchLoop):
    """Takes chunk messages and projects them (see the module doc)."""

    noun = "chunk"

    def __init__(
        self,
        queue: Queue,
        projector: Projector,
        *,
        group: str,
        name: str,
        concurrency: int = 2,
        max_deliveries: int = 10,
        fetch_timeout: float = 1.0,
    ) -> None:
        super().__init__(
            queue,
            group=group,
            name=name,
            concurrency=concurrency,
            max_deliveries=max_deliveries,
            fetch_timeout=fetch_timeout,
        )
        self.projector = projector
        self.outcomes: dict[str, int] = {}

    def _fetch_failed(self, exc: GitStoreError, failures: int) -> float:
        log.warning("cannot fetch chunks (%s); retrying", exc.message)
        return 1.0

    async def _process(self, message: Message) -> None:
        try:
            chunk = ChunkWork.from_json(message.body)
        except PermanentError as exc:
            await self._dead(message, exc)
            return
        keeper = asyncio.create_task(self._keep_leased(message))
        try:
            outcome = await project_chunk(self.projector, chunk)
        except PermanentError as exc:
            await self._dead(message, exc)
            return
        except Exception as exc:  # passing errors and surprises: give it back
            log.warning(
                "chunk %d of %s (claim %d) failed, given back: %s",
                chunk.index,
                chunk.scope,
                chunk.sequence,
                exc.message if isinstance(exc, GitStoreError) else repr(exc),
                exc_info=not isinstance(exc, GitStoreError),
            )
            with contextlib.suppress(GitStoreError):
                await self.queue.nack(self.group, message.id)
            return
        finally:
            keeper.cancel()
            await asyncio.wait([keeper])
        self.outcomes[outcome] = self.outcomes.get(outcome, 0) + 1
        if outcome != WRITTEN:
            log.info(
                "%s: chunk %d of claim %d (delivery %d) %s, not projected",
                chunk.scope,
                chunk.index,
                chunk.sequence,
                message.delivery_count,
                outcome,
            )
        try:
            await self.queue.ack(self.group, message.id)
        except GitStoreError as exc:
            log.warning("cannot ack chunk message %s (%s)", message.id, exc.message)

    async def _keep_leased(self, message: Message) -> None:
        while True:
            await asyncio.sleep(self.queue.ack_wait / 3)
            with contextlib.suppress(GitStoreError):
                await self.queue.extend_lease(self.group, message.id)

    async def _dead(self, message: Message, exc: GitStoreError) -> None:
        log.error("chunk message %s dead-lettered: %s", message.id, exc.message)
        try:
            await self.queue.dead_letter(self.group, message, exc.message)
        except GitStoreError as err:
            log.warning("cannot dead-letter chunk message %s (%s)", message.id, err.message)
