"""Requesting a shadow re-index and reading its state (the worker does the work:
``worker.shadow``; ``docs/projection.md``, "Shadow re-indexing").

The API writes nothing of the re-index itself: it checks who asks (maintainer, owner or admin:
``catalog.writes.access.maintainable``, like publishing a release), reads the state the worker
keeps in the KV (scope ``(repo, "reindex")``), refuses a second start while one is unfinished,
and queues a ``ReindexEvent`` (``reindex.requested``) on the main event stream.
"""

from __future__ import annotations

import time
import uuid
from typing import Any, Protocol

from gitstore.backends.kv import KvStore
from gitstore.backends.metadata.base import MetadataStore
from gitstore.backends.queue.base import Queue
from gitstore.domain.errors import FailedPrecondition, NotFound, Unavailable
from gitstore.domain.events import ReindexEvent
from gitstore.domain.keys import ChannelScope
from gitstore.domain.reindex import (
    DIFFERENT,
    STATE_KIND,
    STATE_NAME,
    TERMINAL,
    reindex_scope,
    validate_reindex_id,
)

from ..catalog.writes.access import maintainable
from ..identity.principal import Principal


class ReindexServices(Protocol):
    @property
    def store(self) -> MetadataStore: ...

    def events(self) -> Queue: ...

    def kv(self) -> KvStore: ...


async def current(services: ReindexServices, repository: str) -> dict[str, Any] | None:
    doc = await services.kv().get(reindex_scope(repository), STATE_KIND, STATE_NAME)
    return doc.value() if doc is not None else None


async def read_state(
    services: ReindexServices, principal: Principal, repository: str
) -> dict[str, Any] | None:
    """The latest re-index of ``repository`` (None: none yet); maintainers only."""
    record = await maintainable(services.store, principal, repository, what="see the re-index")
    state = await current(services, record.repository_id)
    if state is not None and state.get("state") not in TERMINAL:
        state["progress"] = await progress(services.kv(), record.repository_id)
    return state


PROGRESS_KINDS = ("product", "category", "collection")
SHADOWS = {"draft": "shadow-draft", "live": "shadow-live"}


async def progress(kv: KvStore, repository: str) -> dict[str, dict[str, int]]:
    """Documents in each shadow channel so far, per core kind (a build in progress)."""
    out: dict[str, dict[str, int]] = {}
    for view, channel in SHADOWS.items():
        scope = ChannelScope(repository, channel)
        counts = {}
        for kind in PROGRESS_KINDS:
            counts[kind] = (await kv.list_documents(scope, kind, first=1)).total_count
        out[view] = counts
    return out


async def request(
    services: ReindexServices,
    principal: Principal,
    repository: str,
    action: str,
    *,
    reindex_id: str = "",
    accept_differences: bool = False,
    request_id: str = "",
) -> dict[str, Any]:
    """Queue ``action`` (START, ACCEPT, ABANDON); what the caller is told: the id, the
    action, and the state stored now (the worker changes it when it gets there)."""
    record = await maintainable(services.store, principal, repository, what="re-index")
    repo = record.repository_id
    stored = await current(services, repo)
    if action == "START":
        if stored is not None and stored.get("state") not in TERMINAL:
            raise FailedPrecondition(
                f"re-index {stored.get('id')} of {repo} is {stored.get('state')}: accept or "
                "abandon it first",
                field="repository",
            )
        reindex_id = uuid.uuid4().hex[:16]
    else:
        validate_reindex_id(reindex_id)
        if stored is None or stored.get("id") != reindex_id:
            raise NotFound(f"{repo} has no re-index {reindex_id!r} in progress", field="id")
        if stored.get("state") in TERMINAL:
            raise FailedPrecondition(
                f"re-index {reindex_id} of {repo} is already {stored.get('state')}", field="id"
            )
        if action == "ACCEPT" and stored.get("state") != DIFFERENT:
            raise FailedPrecondition(
                f"re-index {reindex_id} of {repo} is {stored.get('state')}: only a DIFFERENT "
                "comparison waits for acceptance",
                field="id",
            )
    event = ReindexEvent(
        event_id=f"reindex:{reindex_id}:{action.lower()}",
        repository_id=repo,
        reindex_id=reindex_id,
        action=action,
        accept_differences=accept_differences,
        requested_by=principal.username,
        correlation_id=request_id,
        timestamp=time.time(),
    )
    try:
        await services.events().publish(event.to_json(), key=repo)
    except Exception as exc:
        raise Unavailable(f"the event queue did not take the re-index request: {exc}") from exc
    await services.store.append_audit(
        principal.username, f"reindex.{action.lower()}", repo, {"id": reindex_id}
    )
    return {"id": reindex_id, "action": action, "state": stored if action != "START" else None}
