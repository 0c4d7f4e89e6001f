"""The projection's hub: files written in a spoke version become hub documents in the KV.

``prepare_many`` leaves a valid file written in a served version other than its kind's hub
as ``Prepared.pending``; ``to_hub_prepared`` converts those of one chunk with
``domain.conversion.to_hub`` — one hook request per ``(kind, version)``, the module read from
the commit being projected, run on the worker's bounded ``AsyncHookRunner`` (never on the
event loop) — validates the hub documents and encodes their KV upserts in a thread. So the
KV, and every storefront read, sees one shape per kind.

A hook that fails (``HookFailed``, a refused or missing module) makes every file of its
group invalid with the hook's message (counted, reported in the commit status, not written:
the runner is all or nothing, so no document is ever half converted). ``HookTimedOut`` and a
busy pool are raised: the projection attempt fails before this chunk is written and is
retried (a chunked projection resumes from its claim).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import replace

from gitstore.backends.kv import encode_upsert
from gitstore.backends.wasm.pool import AsyncHookRunner
from gitstore.domain.content import KindRegistry, Manifest
from gitstore.domain.conversion import to_hub
from gitstore.domain.conversion.hub import ModuleReader
from gitstore.git.client import GitClient
from gitstore.git.kinds import file_at
from gitstore.worker.parsing import Parsed, Prepared, upsert_args


def module_at(git: GitClient, repository: str, commit: str) -> ModuleReader:
    async def read(path: str) -> bytes | None:
        return await file_at(git, repository, commit, path)

    return read


async def to_hub_prepared(
    prepared: Sequence[Prepared],
    registry: KindRegistry,
    module: ModuleReader,
    pool: AsyncHookRunner,
) -> list[Prepared]:
    """``prepared`` with every ``pending`` file converted: its upsert, or its errors."""
    at = [i for i, p in enumerate(prepared) if p.pending is not None]
    if not at:
        return list(prepared)
    manifests: list[Manifest] = [m for i in at if (m := prepared[i].pending) is not None]
    result = await to_hub(manifests, registry, module, pool.convert)
    out = list(prepared)
    done: list[tuple[int, Manifest]] = []
    for j, i in enumerate(at):
        hub = result.manifests[j]
        if hub is None:
            out[i] = replace(prepared[i], pending=None, errors=tuple(result.failures.get(j, ())))
        else:
            done.append((i, hub))

    def encode() -> list[tuple[int, Prepared]]:
        encoded = []
        for i, hub in done:
            p = prepared[i]
            kind, name, value, indexes = upsert_args(Parsed(p.path, p.blob_id, hub))
            upsert = encode_upsert(kind, name, value, indexes=indexes)
            encoded.append((i, Prepared(p.path, p.blob_id, upsert)))
        return encoded

    for i, p in await asyncio.to_thread(encode):
        out[i] = p
    return out


async def hub_errors_of(
    parsed: Sequence[Parsed],
    registry: KindRegistry,
    module: ModuleReader,
    pool: AsyncHookRunner,
) -> list[Parsed]:
    """``parsed`` (commit statuses) with valid spoke files whose hub form fails made invalid."""
    at = [i for i, p in enumerate(parsed) if p.manifest is not None]
    manifests: list[Manifest] = [m for i in at if (m := parsed[i].manifest) is not None]
    result = await to_hub(manifests, registry, module, pool.convert)
    out = list(parsed)
    for j, errors in result.failures.items():
        p = parsed[at[j]]
        out[at[j]] = Parsed(p.path, p.blob_id, None, tuple(errors), p.document)
    return out
