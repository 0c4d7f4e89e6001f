"""Fewer garbage collections while a chunk of manifests is prepared.

CPython's cyclic collector runs a young-generation collection every 700 net container
allocations (``gc.get_threshold()[0]``), and every tenth of those a middle-generation one.
Preparing a manifest (``worker.parsing.prepare_many``: the YAML reader's dicts and lists,
the manifest, the document value, the upsert) allocates a few dozen containers, most of
them garbage a moment later and freed by reference counting, none of them in a cycle; so
at the default threshold a collection runs every ~20 products, each walks the temporaries
that are alive at that instant and the results kept for the chunk, and the survivors are
walked again by the older generations. None of it frees anything.

``fewer_collections(gen0)`` raises the young threshold to ``gen0`` while a chunk is
prepared (the older generations keep their ratios, so they follow at the same proportion
of young collections) and puts the old value back after the last concurrent user (the
threshold is per process: ``serve`` runs the API in the same one). Collections still run —
a cycle made meanwhile is found at the next one — just ~``gen0 / 700`` times less often;
a young collection of 50,000 objects takes a few milliseconds. A collector switched off
(threshold 0) stays off; ``gen0`` <= 0 changes nothing. Measured in docs/benchmarks.md,
"Fifth round: the collector" (``GITSTORE_WORKER__GC_GEN0_THRESHOLD``).
"""

from __future__ import annotations

import contextlib
import gc
import threading
from collections.abc import Iterator

DEFAULT_GEN0 = 50_000  # young-generation threshold while preparing; CPython's default: 700

_lock = threading.Lock()
_users = 0
_saved: tuple[int, int, int] = (700, 10, 10)


@contextlib.contextmanager
def fewer_collections(gen0: int = DEFAULT_GEN0) -> Iterator[None]:
    """Run the body with the young-generation threshold at least ``gen0`` (module doc)."""
    global _users, _saved
    if gen0 <= 0:
        yield
        return
    with _lock:
        if _users == 0:
            _saved = gc.get_threshold()
            if _saved[0] > 0:  # 0: the collector is off; leave it so
                gc.set_threshold(max(gen0, _saved[0]), _saved[1], _saved[2])
        _users += 1
    try:
        yield
    finally:
        with _lock:
            _users -= 1
            if _users == 0 and _saved[0] > 0:
                gc.set_threshold(*_saved)
