"""Claims: how a projection too large for one KV batch stays safe across crashes and races.

One batch is atomic, so a projection that fits in one (``batch_size`` documents) is simply
``apply(Batch(seq + 1, version=target, expected_head_sequence=seq))``: it either lands with
the head or not at all. A larger one is written in chunks, and two things could then go wrong:

* the writer dies after some chunks: documents of its target are in the KV while the head
  still names the previous commit; if the branch then moves on (say, reverts those files),
  a diff from the head's commit no longer mentions them and they would stay wrong forever;
* the writer stalls, someone else finishes a newer projection, and the stalled writer's next
  chunk overwrites newer documents with older ones (same or lower sequence rules can't tell).

So a chunked projection first **claims** the channel: one batch that moves the head's
*sequence* to ``c = seq + 1`` (CAS on ``seq``) while keeping its *version* at the base commit
(``NO_VERSION`` before the first projection), and writes the claim document
``(PROJECTION_KIND, PROJECTION_MARKER)``: base, every target written towards since the base
(``targets``), owner and heartbeat. Every chunk then carries ``expected_head_sequence = c``
(and refreshes the heartbeat); the last chunk has sequence ``c + 1``, moves the head to the
target and deletes the claim — atomically.

* A crashed writer leaves its claim. The next projection reads it, adds the diff of
  ``base -> t`` for every listed ``t`` to its own plan (those paths are re-read at the new
  target), and claims again (``c + 1``, CAS on ``c``), so every document the dead writer may
  have touched is rewritten from the current head.
* A stalled writer loses its claim when someone claims after it: its next chunk fails the
  head CAS (``FailedPrecondition``) and writes nothing; it starts over from the new head.
* A live claim of another owner (heartbeat younger than ``claim_stale_seconds``, by its
  clock and by ours: no change seen for that long) is waited for, not taken over, so two
  workers never keep stealing from each other.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from gitstore.backends.kv import Document, KvStore
from gitstore.domain.keys import ChannelScope
from gitstore.domain.projection import PROJECTION_KIND, PROJECTION_MARKER


@dataclass(frozen=True, slots=True)
class Claim:
    base: str | None
    targets: tuple[str, ...]
    owner: str
    heartbeat: float
    sequence: int
    full: bool = False  # a full resync: finishing it needs a full resync again
    reindex: bool = False  # re-indexes every product (rule-based collections, ``collections``)
    copying: bool = False  # a KV copy of the visible draft buffer is unfinished (``draft_copy``)
    chunks: int = 0  # chunks shared with helpers, each with a done marker (``chunks``)

    def value(self) -> dict[str, Any]:
        return {
            "base": self.base or "",
            "targets": list(self.targets),
            "owner": self.owner,
            "heartbeat": self.heartbeat,
            "sequence": self.sequence,
            "full": self.full,
            "reindex": self.reindex,
            "copying": self.copying,
            "chunks": self.chunks,
        }

    def beat(self, now: float) -> Claim:
        return Claim(
            self.base,
            self.targets,
            self.owner,
            now,
            self.sequence,
            self.full,
            self.reindex,
            self.copying,
            self.chunks,
        )

    @classmethod
    def from_document(cls, doc: Document) -> Claim:
        value = doc.value()
        targets = value.get("targets")
        heartbeat = value.get("heartbeat")
        chunks = value.get("chunks")
        return cls(
            base=str(value.get("base") or "") or None,
            targets=tuple(str(t) for t in targets) if isinstance(targets, list) else (),
            owner=str(value.get("owner") or ""),
            heartbeat=float(heartbeat)
            if isinstance(heartbeat, int | float) and math.isfinite(heartbeat)
            else 0.0,
            sequence=doc.sequence,
            full=value.get("full") is True,
            reindex=value.get("reindex") is True,
            copying=value.get("copying") is True,
            chunks=chunks if isinstance(chunks, int) and not isinstance(chunks, bool) else 0,
        )


async def read_claim(kv: KvStore, scope: ChannelScope) -> Claim | None:
    doc = await kv.get(scope, PROJECTION_KIND, PROJECTION_MARKER)
    return Claim.from_document(doc) if doc is not None else None
