"""Comparing two KV buffers of one repository at one commit (shadow re-indexing, ``shadow``).

What is compared is what the projections *wrote*, read back from the KV: every document of
the given kinds (``list_documents`` in pages) with the index entries stored beside it
(``KvStore.index_sets``). Nothing is recomputed, so a change of the projection code (a new
index, another document shape) shows as a difference. The summary of a buffer:

* ``counts``: documents per kind;
* ``indexes``: index entries per ``<kind>.<index>`` (one per value of each document);
* ``digest``: SHA-256 over the sorted (kind, name, body, index entries) of every document.

Two buffers compare **equal** when their digests are. The comparison keeps both sides' counts
and a sample of differing documents (added, removed or changed; for a changed one, the top-level
fields of the document and the indexes that differ), at most ``SAMPLE`` of them.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from gitstore.backends.kv import KvStore
from gitstore.domain.keys import ChannelScope

PAGE = 1000
SAMPLE = 10


@dataclass(slots=True)
class Summary:
    counts: dict[str, int] = field(default_factory=dict)
    indexes: dict[str, int] = field(default_factory=dict)
    digest: str = ""
    # (kind, name) -> (digest of the document, body, stored index entries)
    documents: dict[tuple[str, str], tuple[str, bytes, str]] = field(default_factory=dict)


async def summarize(kv: KvStore, scope: ChannelScope, kinds: Iterable[str]) -> Summary:
    """Read every document of ``kinds`` in ``scope`` with its index entries."""
    summary = Summary()
    whole = hashlib.sha256()
    for kind in sorted(set(kinds)):
        after: str | None = None
        count = 0
        while True:
            page = await kv.list_documents(scope, kind, first=PAGE, after=after)
            names = [d.name for d in page.items]
            index_sets = await kv.index_sets(scope, kind, names) if names else []
            for doc, indexes in zip(page.items, index_sets, strict=True):
                stored = indexes or "{}"
                one = hashlib.sha256(doc.body + b"\0" + stored.encode()).hexdigest()
                summary.documents[(kind, doc.name)] = (one, doc.body, stored)
                whole.update(f"{kind}\0{doc.name}\0{one}\n".encode())
                for index, values in _entries(stored).items():
                    key = f"{kind}.{index}"
                    summary.indexes[key] = summary.indexes.get(key, 0) + len(values)
                count += 1
            if not page.has_next_page:
                break
            after = page.end_cursor
        if count:
            summary.counts[kind] = count
    summary.digest = whole.hexdigest()
    return summary


def _entries(stored: str) -> dict[str, list[str]]:
    try:
        value = json.loads(stored)
    except ValueError:
        return {}
    return {str(k): list(v) for k, v in value.items()} if isinstance(value, dict) else {}


def _fields(before: bytes, after: bytes) -> list[str]:
    try:
        a, b = json.loads(before), json.loads(after)
    except ValueError:
        return ["<body>"]
    if not isinstance(a, dict) or not isinstance(b, dict):
        return ["<body>"]
    return sorted(k for k in set(a) | set(b) if a.get(k) != b.get(k))


def compare(live: Summary, shadow: Summary, *, sample: int = SAMPLE) -> dict[str, Any]:
    """The comparison of the buffer readers see (``live``) with the shadow (module doc); a
    JSON-ready dict: ``equal``, ``counts`` and ``indexes`` (``{key: {"live": n, "shadow":
    m}}``, every key of either side), ``differing`` (documents that differ), ``digest``
    (both sides) and ``sample`` (the first differing documents by kind and name)."""
    differing = 0
    examples: list[dict[str, Any]] = []
    for key in sorted(set(live.documents) | set(shadow.documents)):
        a, b = live.documents.get(key), shadow.documents.get(key)
        if a is not None and b is not None and a[0] == b[0]:
            continue
        differing += 1
        if len(examples) >= sample:
            continue
        example: dict[str, Any] = {"kind": key[0], "name": key[1]}
        if a is None:
            example["change"] = "added"
        elif b is None:
            example["change"] = "removed"
        else:
            example["change"] = "changed"
            example["fields"] = _fields(a[1], b[1])
            ia, ib = _entries(a[2]), _entries(b[2])
            example["indexes"] = {
                name: {"live": ia.get(name, []), "shadow": ib.get(name, [])}
                for name in sorted(set(ia) | set(ib))
                if ia.get(name) != ib.get(name)
            }
        examples.append(example)
    return {
        "equal": live.digest == shadow.digest and differing == 0,
        "counts": _sides(live.counts, shadow.counts),
        "indexes": _sides(live.indexes, shadow.indexes),
        "documents": {"live": len(live.documents), "shadow": len(shadow.documents)},
        "differing": differing,
        "digest": {"live": live.digest, "shadow": shadow.digest},
        "sample": examples,
    }


def _sides(a: dict[str, int], b: dict[str, int]) -> dict[str, dict[str, int]]:
    return {k: {"live": a.get(k, 0), "shadow": b.get(k, 0)} for k in sorted(set(a) | set(b))}
