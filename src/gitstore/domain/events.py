"""Events that cross process boundaries through the queue.

A ``RefUpdateEvent`` is published by the git service for every ref it changes, after the
change is durable. Consumers (the worker) must treat delivery as at-least-once: the
``event_id`` is stable across redeliveries and republishing after a crash, so it can be used
to deduplicate. ``old``/``new`` are 40-hex commit or tag-object ids; all zeros means "did not
exist" (creation) or "no longer exists" (deletion).

Size: an event must fit every queue backend whatever the push, so its body is kept under
``MAX_EVENT_BYTES``. The only part that grows with the push is ``changed_paths`` (a push of
~6,000 files with long names made a 2 MB event, over NATS' 1 MiB maximum payload); when the
full event is over the budget, ``fitted()`` gives its *reference form*: repository, ref, old
and new sha, actor and correlation id, no paths, and ``changed_count`` = the number of
changed paths (``changed_truncated`` is then true). Consumers list the changes themselves
from Git (a diff ``old -> new``), as they already did for an event without paths.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, replace
from typing import Any

ZERO_SHA = "0" * 40

REF_UPDATE = "ref.updated"

# The size budget of an event body: a quarter of the smallest queue backend limit (NATS'
# default max_payload, 1 MiB, less room for headers), so every event fits every backend.
MAX_EVENT_BYTES = 256 * 1024
# Longest ``actor`` / ``correlation_id`` an event keeps once its changed paths are dropped.
MAX_LABEL_CHARS = 512


@dataclass(frozen=True, slots=True)
class ChangedPathInfo:
    path: str
    change_type: str  # ADDED | MODIFIED | DELETED | RENAMED | TYPE_CHANGED
    old_blob_id: str = ""
    new_blob_id: str = ""
    old_path: str = ""


@dataclass(frozen=True, slots=True)
class RefUpdateEvent:
    event_id: str
    repository_id: str
    ref: str
    old: str
    new: str
    actor: str = ""
    correlation_id: str = ""
    timestamp: float = 0.0
    changed_paths: tuple[ChangedPathInfo, ...] = field(default_factory=tuple)
    type: str = REF_UPDATE
    # How many paths the change touched; more than ``len(changed_paths)`` when the list was
    # left out to keep the event small (0: not known, as in events from older versions).
    changed_count: int = 0

    @property
    def changed_truncated(self) -> bool:
        """True when ``changed_paths`` is not the whole list: diff ``old -> new`` instead."""
        return self.changed_count > len(self.changed_paths)

    def fitted(self, max_bytes: int = MAX_EVENT_BYTES) -> RefUpdateEvent:
        """This event if its body fits ``max_bytes``, else its reference form (see above)."""
        if len(self.to_json()) <= max_bytes:
            return self
        return self.reference()

    def reference(self) -> RefUpdateEvent:
        """The event without its changed paths (and with bounded labels)."""
        return replace(
            self,
            changed_paths=(),
            changed_count=max(self.changed_count, len(self.changed_paths)),
            actor=self.actor[:MAX_LABEL_CHARS],
            correlation_id=self.correlation_id[:MAX_LABEL_CHARS],
        )

    @property
    def is_deletion(self) -> bool:
        return self.new == ZERO_SHA

    @property
    def is_creation(self) -> bool:
        return self.old == ZERO_SHA

    def to_json(self) -> bytes:
        return json.dumps(asdict(self), separators=(",", ":"), sort_keys=True).encode()

    @classmethod
    def from_json(cls, raw: bytes | str) -> RefUpdateEvent:
        data: dict[str, Any] = json.loads(raw)
        paths = tuple(ChangedPathInfo(**p) for p in data.pop("changed_paths", []))
        return cls(changed_paths=paths, **data)


# ---------------------------------------------------------------- publishing (issue 5)
#
# The API asks for a release to go live by publishing a ``PublishEvent`` on the main event
# stream (``settings.queue.stream``, the worker's); the worker makes the ``live`` channel equal
# to the release's tree and reports the outcome as a ``PublishedEvent`` on the stream
# ``published_stream(settings.queue.stream)``, which the API consumes (publication state,
# webhooks). Both are at-least-once: ``event_id`` is stable across redeliveries.

PUBLISH_REQUESTED = "release.publish"
RELEASE_PUBLISHED = "release.published"
# A PublishedEvent names at most this many changed resources (a first release of a large
# catalogue changes all of them; queues cap message sizes, NATS at 1 MiB by default);
# ``changed_count`` always holds the full number.
MAX_CHANGED_IDS = 1000


def published_stream(events_stream: str) -> str:
    """The stream of ``PublishedEvent``s beside the main event stream."""
    return f"{events_stream}-published"


@dataclass(frozen=True, slots=True)
class PublishEvent:
    event_id: str
    repository_id: str
    # The publication's sequence (metadata store; 1, 2, 3, ... per repository). The highest
    # sequence is what ``live`` must show; it is also the KV alias sequence.
    sequence: int
    tag: str  # short tag name, e.g. "v1.2.0"
    commit: str  # the commit the tag peels to
    kind: str = "PUBLISH"  # "PUBLISH" (incremental) or "REPLAY" (re-project from scratch)
    requested_by: str = ""
    correlation_id: str = ""
    timestamp: float = 0.0
    type: str = PUBLISH_REQUESTED

    @property
    def lock_key(self) -> str:
        """The consumer's lock: not the repository's, so a release of a commit whose draft
        projection is still running in the same worker can wait for that projection and copy
        it (``worker.release_copy``) instead of queueing behind the whole ref update (its
        commit status and resource sync); publications of one repository stay one at a time."""
        return f"{self.repository_id}#publish"

    def to_json(self) -> bytes:
        return json.dumps(asdict(self), separators=(",", ":"), sort_keys=True).encode()

    @classmethod
    def from_json(cls, raw: bytes | str) -> PublishEvent:
        data: dict[str, Any] = json.loads(raw)
        return cls(**data)


REINDEX_REQUESTED = "reindex.requested"
REINDEX_ACTIONS = ("START", "ACCEPT", "ABANDON")


@dataclass(frozen=True, slots=True)
class ReindexEvent:
    """A shadow re-index request for the worker (``worker.shadow``): ``START`` one (with
    ``accept_differences``: switch even when the comparison differs), ``ACCEPT`` the
    differences of a compared one, or ``ABANDON`` it. ``reindex_id`` names the re-index."""

    event_id: str
    repository_id: str
    reindex_id: str
    action: str = "START"
    accept_differences: bool = False
    requested_by: str = ""
    correlation_id: str = ""
    timestamp: float = 0.0
    type: str = REINDEX_REQUESTED

    @property
    def lock_key(self) -> str:
        """The consumer's lock: not the repository's, so projections go on meanwhile; an
        ``ABANDON`` has its own, so it need not wait for a build to end."""
        if self.action == "ABANDON":
            return f"{self.repository_id}#reindex-abandon"
        return f"{self.repository_id}#reindex"

    def to_json(self) -> bytes:
        return json.dumps(asdict(self), separators=(",", ":"), sort_keys=True).encode()

    @classmethod
    def from_json(cls, raw: bytes | str) -> ReindexEvent:
        data: dict[str, Any] = json.loads(raw)
        return cls(**data)


@dataclass(frozen=True, slots=True)
class PublishedEvent:
    event_id: str
    repository_id: str
    sequence: int
    tag: str
    commit: str
    # "PUBLISHED", "SUPERSEDED" (a newer publication won first) or "FAILED".
    state: str
    # The KV channel ``live`` now resolves to.
    channel: str = ""
    # The commit ``live`` showed before ("" = nothing).
    previous_commit: str = ""
    # Resource ids "<kind>/<name>" (kind in lower case) whose live document changed, sorted;
    # the first MAX_CHANGED_IDS of ``changed_count``.
    changed: tuple[str, ...] = ()
    error: str = ""
    correlation_id: str = ""
    timestamp: float = 0.0
    type: str = RELEASE_PUBLISHED
    changed_count: int = 0

    @property
    def changed_truncated(self) -> bool:
        return self.changed_count > len(self.changed)

    def to_json(self) -> bytes:
        return json.dumps(asdict(self), separators=(",", ":"), sort_keys=True).encode()

    @classmethod
    def from_json(cls, raw: bytes | str) -> PublishedEvent:
        data: dict[str, Any] = json.loads(raw)
        data["changed"] = tuple(data.get("changed", ()))
        return cls(**data)


# ---------------------------------------------------------------- resources (issue 10)
#
# After every committed write of the resource store, the writer publishes a
# ``ResourceChangedEvent`` on the stream ``resources`` (key: the repository id). It is only a
# poke: watch caches read the changes themselves with ``changes_since``.

RESOURCE_CHANGED = "resource.changed"
RESOURCES_STREAM = "resources"


@dataclass(frozen=True, slots=True)
class ResourceChangedEvent:
    repository_id: str
    resource_version: int
    type: str = RESOURCE_CHANGED

    def to_json(self) -> bytes:
        return json.dumps(asdict(self), separators=(",", ":"), sort_keys=True).encode()

    @classmethod
    def from_json(cls, raw: bytes | str) -> ResourceChangedEvent:
        data: dict[str, Any] = json.loads(raw)
        return cls(**data)
