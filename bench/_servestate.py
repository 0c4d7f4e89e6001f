"""A cache of a ``gitstore serve`` data dir after its first, full projection (embedded only).

Projecting 100,000 products takes minutes; the benchmark measures it once and then reuses
the result. After setup, with the server stopped cleanly, the whole data dir (bare
repositories, SQLite metadata, queue and KV, the JWT key) is copied to
``bench/.cache/serve-state-<products>-<key>/`` together with ``setup.json`` (the setup figures as
measured then, and when). Later runs copy it back instead of projecting again and report
those figures marked ``"cached": true``.

The key hashes what could make a stored state wrong for the current code: the fixture
(layout, version, size), :data:`STATE_VERSION`, and every ``.py`` file under the packages
that write or read that state (``backends``, ``domain``, ``gitservice``, ``worker``,
``api/identity``). Editing any of them makes the next run project afresh. ``--fresh``
ignores the cache and refreshes it; deleting ``bench/.cache`` works too.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import tempfile
from pathlib import Path
from typing import Any

import _catalog

STATE_VERSION = 1
ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("backends", "domain", "gitservice", "worker", "api/identity")


def state_key(layout: _catalog.Layout, count: int) -> str:
    digest = hashlib.sha256(f"{layout.name}{layout.version}:{count}:{STATE_VERSION}".encode())
    for package in PACKAGES:
        for path in sorted((ROOT / "src" / "gitstore" / package).rglob("*.py")):
            digest.update(str(path.relative_to(ROOT)).encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def _entry(count: int, key: str) -> Path:
    return _catalog.CACHE_DIR / f"serve-state-{count}-{key}"


def restore(count: int, key: str, data_dir: Path) -> dict[str, Any] | None:
    """Copy the cached data dir to ``data_dir`` (must not exist); its setup figures, or None."""
    entry = _entry(count, key)
    if not (entry / "setup.json").is_file():
        return None
    shutil.copytree(entry / "data", data_dir)
    setup: dict[str, Any] = json.loads((entry / "setup.json").read_text())
    return setup


def save(count: int, key: str, data_dir: Path, setup: dict[str, Any]) -> None:
    """Store a copy of ``data_dir`` (its server stopped) under ``key``; older entries of the
    same size go."""
    for old in _catalog.CACHE_DIR.glob(f"serve-state-{count}-*"):
        shutil.rmtree(old, ignore_errors=True)
    staging = Path(tempfile.mkdtemp(prefix="build-state-", dir=_catalog.CACHE_DIR))
    try:
        shutil.copytree(data_dir, staging / "data")
        (staging / "setup.json").write_text(json.dumps(setup))
        staging.rename(_entry(count, key))
    finally:
        shutil.rmtree(staging, ignore_errors=True)


async def copy_projection(source_url: str, target_url: str, repository: str) -> int:
    """Copy the draft projection readers see (``draft`` or ``draft-b`` behind the alias
    ``draft-view``) of ``repository`` from one KV store to another: every
    catalogue document with the index entries the worker derives for it
    (``document_indexes``), then the head (same version and sequence). Returns the number
    of documents. Used to give a Redis run the state the worker projected for the embedded
    run, instead of projecting 100,000 products a second time."""
    from gitstore.backends.kv import Batch, open_kv_store
    from gitstore.backends.kv.base import MAX_PAGE_SIZE
    from gitstore.domain.projection import DRAFT_VIEW, document_indexes, draft_view

    source, target = await open_kv_store(source_url), await open_kv_store(target_url)
    try:
        scope = draft_view(await source.resolve(repository, DRAFT_VIEW))
        head = await source.head(scope)
        if head is None:
            raise RuntimeError(f"{source_url} holds no projection of {repository}")

        def batch(last: bool) -> Batch:
            return Batch(scope, sequence=head.sequence, version=head.version, advance_head=last)

        pending, copied = batch(False), 0
        for kind in ("category", "collection", "product"):
            after: str | None = None
            while True:
                page = await source.list_documents(scope, kind, first=MAX_PAGE_SIZE, after=after)
                for document in page.items:
                    value = document.value()
                    indexes = document_indexes(value["kind"], document.name, value["spec"])
                    pending.upsert(kind, document.name, value, indexes=indexes)
                    copied += 1
                if len(pending.upserts) >= 5000:
                    await target.apply(pending)
                    pending = batch(False)
                if not page.has_next_page:
                    break
                after = page.end_cursor
        final = batch(True)
        for upsert in pending.upserts:
            final.add(upsert)
        await target.apply(final)
        if scope.channel != "draft":
            await target.set_alias(
                repository,
                DRAFT_VIEW,
                scope.channel,
                sequence=head.sequence,
                expected_target_version=head.version,
            )
        return copied
    finally:
        await source.close()
        await target.close()
