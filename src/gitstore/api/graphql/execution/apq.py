"""Automatic Persisted Queries (the Apollo APQ protocol, version 1).

A client sends ``extensions.persistedQuery = {version: 1, sha256Hash: <hex>}``:

* with ``query``: the hash must be the SHA-256 of the query text (lowercase hex), else the
  request is malformed (HTTP 400, ``PERSISTED_QUERY_HASH_MISMATCH``); the pair is remembered;
* without ``query``: the remembered text is used; an unknown hash answers the error message
  ``PersistedQueryNotFound`` (``extensions.code`` ``PERSISTED_QUERY_NOT_FOUND``), upon which
  the client retries with the full text.

Pairs live in a bounded LRU in process memory: a restart or eviction costs one round trip.
Works with POST and GET (hash-only GETs make queries CDN-cacheable).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import Any, Literal

from ..lru import LRU

_SHA256_HEX = re.compile(r"[0-9a-f]{64}")

Outcome = Literal["hit", "miss", "registered", "none"]


class PersistedQueryError(Exception):
    def __init__(self, message: str, code: str, *, malformed: bool) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.malformed = malformed  # True: HTTP 400 whatever the media type


@dataclass(frozen=True, slots=True)
class Resolved:
    query: str | None
    outcome: Outcome


class PersistedQueries:
    def __init__(self, capacity: int) -> None:
        self._store: LRU[str, str] = LRU(capacity)

    def resolve(self, query: str | None, extensions: dict[str, Any] | None) -> Resolved:
        """The query text to run, registering or looking up a persisted query as asked."""
        persisted = (extensions or {}).get("persistedQuery")
        if persisted is None:
            return Resolved(query, "none")
        if not isinstance(persisted, dict):
            raise PersistedQueryError(
                "extensions.persistedQuery must be an object", "BAD_REQUEST", malformed=True
            )
        if persisted.get("version") != 1:
            raise PersistedQueryError(
                f"persisted query version {persisted.get('version')!r} is not supported"
                " (only version 1)",
                "PERSISTED_QUERY_NOT_SUPPORTED",
                malformed=True,
            )
        digest = persisted.get("sha256Hash")
        if not isinstance(digest, str) or not _SHA256_HEX.fullmatch(digest.lower()):
            raise PersistedQueryError(
                "extensions.persistedQuery.sha256Hash must be 64 hex digits",
                "BAD_REQUEST",
                malformed=True,
            )
        digest = digest.lower()
        if query is None:
            stored = self._store.get(digest)
            if stored is None:
                raise PersistedQueryError(
                    "PersistedQueryNotFound", "PERSISTED_QUERY_NOT_FOUND", malformed=False
                )
            return Resolved(stored, "hit")
        actual = hashlib.sha256(query.encode("utf-8")).hexdigest()
        if actual != digest:
            raise PersistedQueryError(
                f"provided sha256Hash does not match the query (its SHA-256 is {actual})",
                "PERSISTED_QUERY_HASH_MISMATCH",
                malformed=True,
            )
        self._store.put(digest, query)
        return Resolved(query, "registered")
