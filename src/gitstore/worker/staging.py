"""The two stages of preparing a chunk of the projection's work: fetch, then digest.

``Projector.prepare`` was one step: look the files up in the prepared-file ``cache``,
fetch the others' blobs from the git service, then parse, validate and encode them. The
pipeline of a chunked projection (``pipeline``) runs the two halves apart — the fetch of a
later chunk (a wait on the git service) while an earlier one is parsed (CPU here) — so
they are two functions:

* :func:`fetch_work` sorts the work (deletes, relocated documents, files to prepare), takes
  the cache's hits, and fetches the misses' blobs (``changes.contents``, by blob id) into a
  :class:`Fetched`; a blob the service does not have is ``NotFound`` here, as before.
* :func:`digest` parses, validates and encodes the fetched files (``pool``: a thread, or
  processes for a large chunk), converts those that need a hook to the hub (``hub``),
  stores them in the cache and returns the chunk's :class:`~gitstore.worker.targets.Ready`.

:func:`join` makes one ``Ready`` of the pieces of a chunk the pipeline prepared apart (the
first chunk is cut into pieces so parsing starts sooner).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from gitstore.domain.errors import NotFound
from gitstore.worker.changes import FileAt, contents, plan_changes
from gitstore.worker.hub import module_at, to_hub_prepared
from gitstore.worker.parsing import Prepared
from gitstore.worker.prepared_cache import Context, merge
from gitstore.worker.targets import Ready, Work

if TYPE_CHECKING:
    from gitstore.domain.content import KindRegistry
    from gitstore.worker.projector import Projector


@dataclass(slots=True)
class Fetched:
    """A chunk after its fetch: what is left to prepare, and what needs no preparing."""

    deletes: list[tuple[str, str]] = field(default_factory=list)
    moved: list[Prepared] = field(default_factory=list)  # relocated documents
    misses: list[FileAt] = field(default_factory=list)  # files to prepare, in plan order
    files: list[tuple[str, str, bytes]] = field(default_factory=list)  # their contents
    cached: list[Prepared | None] = field(default_factory=list)  # per planned file; None: miss
    context: Context | None = None  # the cache's context (None: no cache)


async def fetch_work(
    p: Projector, repository: str, work: Sequence[Work], registry: KindRegistry
) -> Fetched:
    """The cache's hits and the blobs of the other files of ``work`` (module doc)."""
    out = Fetched()
    planned: list[FileAt] = []
    for item in work:
        if isinstance(item, FileAt) and item.relocated is not None:
            out.moved.append(Prepared(item.path, item.blob_id, item.relocated))
        elif isinstance(item, FileAt):
            planned.append(item)
        else:
            out.deletes.append(item)
    cache = p.cache if p.cache is not None and p.cache.enabled else None
    out.context = cache.context(registry, p.max_bytes) if cache is not None else None
    out.cached = [None] * len(planned)
    if cache is not None and out.context is not None:
        out.cached = cache.get_many(out.context, repository, [(f.path, f.blob_id) for f in planned])
    out.misses = [f for f, hit in zip(planned, out.cached, strict=True) if hit is None]
    wanted = [f.blob_id for f in out.misses if f.content is None]
    fetched = await contents(p.git, repository, wanted) if wanted else {}
    for item in out.misses:
        content = item.content if item.content is not None else fetched.get(item.blob_id)
        if content is None:
            raise NotFound(f"blob {item.blob_id} of {item.path} is missing")
        out.files.append((item.path, item.blob_id, content))
    return out


async def digest(
    p: Projector, repository: str, fetched: Fetched, registry: KindRegistry, at: str
) -> Ready:
    """Parse, validate and encode the fetched files; the chunk ready to write."""
    prepared = await p.pool.prepare(
        fetched.files,
        registry,
        max_bytes=p.max_bytes,
        identities=[item.identity for item in fetched.misses],  # the plan's, with ``registry``
    )
    if any(x.pending is not None for x in prepared):
        module = module_at(p.git, repository, at)
        prepared = await to_hub_prepared(prepared, registry, module, p.hooks)
    if p.cache is not None and fetched.context is not None:
        p.cache.put_many(fetched.context, repository, prepared)
    return Ready(
        deletes=fetched.deletes,
        files=merge(fetched.cached, prepared) + fetched.moved,
        moved=len(fetched.moved),
    )


def join(pieces: Sequence[Ready]) -> Ready:
    """One chunk's ``Ready`` from its pieces, in order."""
    if len(pieces) == 1:
        return pieces[0]
    out = Ready()
    for piece in pieces:
        out.deletes.extend(piece.deletes)
        out.files.extend(piece.files)
        out.extra.extend(piece.extra)
        out.moved += piece.moved
    return out


async def warm(projector: Projector, repository: str, base: str, target: str) -> int:
    """Fetch and prepare into the projector's ``cache`` the files of the plan ``base ->
    target``, so a projection of it soon after only writes (``draft_copy`` runs it while it
    copies the standby); how many were prepared. Without a cache: nothing, 0."""
    cache = projector.cache
    if cache is None or not cache.enabled:
        return 0
    registry = await projector.kinds.registry(repository, target)
    plan = await plan_changes(
        projector.git, repository, base=base, target=target, registry=registry
    )
    files = [f for f in plan.upserts if f.relocated is None]
    size = projector.batch_size
    for start in range(0, len(files), size):
        await projector.prepare(repository, files[start : start + size], registry, target)
    return len(files)
