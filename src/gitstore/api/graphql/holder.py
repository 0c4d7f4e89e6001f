"""The live executable schema: a versioned snapshot swapped atomically on publish.

Requests take one :class:`SchemaSnapshot` when they start and use it to the end, so a swap
never changes the schema under a running request. ``publish`` validates a candidate with
graphql-core's ``validate_schema`` and only then replaces the snapshot, incrementing the
version (monotonic, starting at 1). A candidate that fails to build or validate leaves the
last known-good snapshot in place; the reason is kept in ``last_failure`` and returned.
Document caches key on the version, so documents validated against an old schema are never
reused against a new one.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from graphql import GraphQLSchema, validate_schema

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class SchemaSnapshot:
    schema: GraphQLSchema
    version: int
    published_at: datetime


@dataclass(frozen=True, slots=True)
class PublishResult:
    ok: bool
    version: int  # the version in force after the attempt
    errors: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class PublishFailure:
    at: datetime
    errors: tuple[str, ...]


class NoSchemaError(RuntimeError):
    """No schema has been published yet."""


class SchemaHolder:
    def __init__(self, on_swap: Callable[[SchemaSnapshot], None] | None = None) -> None:
        self._snapshot: SchemaSnapshot | None = None
        self._lock = threading.Lock()
        self._on_swap = on_swap
        self.last_failure: PublishFailure | None = None

    @property
    def current(self) -> SchemaSnapshot:
        snapshot = self._snapshot
        if snapshot is None:
            raise NoSchemaError("no GraphQL schema has been published yet")
        return snapshot

    @property
    def ready(self) -> bool:
        return self._snapshot is not None

    @property
    def version(self) -> int:
        snapshot = self._snapshot
        return 0 if snapshot is None else snapshot.version

    def publish(self, candidate: GraphQLSchema) -> PublishResult:
        """Validate ``candidate``; swap it in if valid, else keep the current schema."""
        errors = tuple(error.message for error in validate_schema(candidate))
        if errors:
            return self._fail(errors)
        with self._lock:
            snapshot = SchemaSnapshot(candidate, self.version + 1, datetime.now(UTC))
            self._snapshot = snapshot
        log.info("published GraphQL schema version %d", snapshot.version)
        if self._on_swap is not None:
            self._on_swap(snapshot)
        return PublishResult(True, snapshot.version)

    def publish_from(self, build: Callable[[], GraphQLSchema]) -> PublishResult:
        """Build a candidate with ``build`` and publish it; a build that raises is a failed
        publish like an invalid schema."""
        try:
            candidate = build()
        except Exception as exc:  # noqa: BLE001 - any build failure keeps the old schema
            return self._fail((f"schema build failed: {exc}",))
        return self.publish(candidate)

    def _fail(self, errors: tuple[str, ...]) -> PublishResult:
        self.last_failure = PublishFailure(datetime.now(UTC), errors)
        log.error(
            "GraphQL schema candidate rejected; keeping version %d: %s",
            self.version,
            "; ".join(errors),
        )
        return PublishResult(False, self.version, errors)
