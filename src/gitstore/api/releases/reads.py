"""Release reads: pages of releases and publications, the live release, and each release's
status as storefronts see it.

A release's **status** comes from its publications (read per release, newest first, at most
``STATUS_SCAN`` of them — a tag requested more often than that is judged by its recent
history) and the repository's live publication (the PUBLISHED one with the highest sequence,
read once per request):

* ``LIVE`` — the live publication is of this tag;
* ``PENDING`` — not live, and a publication of it is still PENDING (the worker is on it);
* ``PUBLISHED`` — it was live before (a PUBLISHED publication) and is not now;
* ``NEVER_PUBLISHED`` — none of the above (ON_COMMIT repositories, superseded or failed
  requests).

``publishedAt`` / ``publishedBy`` are the completion time and requester of the release's
newest PUBLISHED publication.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from gitstore.backends.metadata.base import MetadataStore, RepositoryRecord
from gitstore.backends.metadata.base_git import Publication, PublicationState, Release

from ..graphql.relay import Connection, Edge
from ..namespaces import paging

STATUS_SCAN = 100


class ReleaseStatus(enum.StrEnum):
    LIVE = "LIVE"
    PUBLISHED = "PUBLISHED"
    NEVER_PUBLISHED = "NEVER_PUBLISHED"
    PENDING = "PENDING"


@dataclass(frozen=True, slots=True)
class ReleaseView:
    """A release with its repository, for the GraphQL ``Release`` type."""

    record: RepositoryRecord
    release: Release

    @property
    def repository(self) -> str:
        return self.record.repository_id


@dataclass(frozen=True, slots=True)
class ReleaseState:
    status: ReleaseStatus
    published_at: datetime | None
    published_by: str | None


async def list_releases(
    store: MetadataStore, record: RepositoryRecord, *, first: int, after: str | None
) -> Connection[ReleaseView]:
    """Releases of ``record``, newest first."""

    async def fetch(size: int, cursor: str | None) -> Any:
        return await store.list_releases(record.id, first=size, after=cursor)

    page: Connection[Release] = await paging.connection(fetch, first=first, after=after)
    return Connection(
        edges=[Edge(edge.cursor, ReleaseView(record, edge.node)) for edge in page.edges],
        total_count=page.total_count,
        has_next_page=page.has_next_page,
        has_previous_page=page.has_previous_page,
    )


async def list_publications(
    store: MetadataStore,
    record: RepositoryRecord,
    *,
    first: int,
    after: str | None,
    tag: str | None = None,
) -> Connection[Publication]:
    """Publications of ``record``, newest (highest sequence) first; ``tag`` filters."""

    async def fetch(size: int, cursor: str | None) -> Any:
        return await store.list_publications(record.id, first=size, after=cursor, tag=tag)

    return await paging.connection(fetch, first=first, after=after)


async def get_release(
    store: MetadataStore, record: RepositoryRecord, tag: str
) -> ReleaseView | None:
    release = await store.get_release(record.id, tag)
    return ReleaseView(record, release) if release is not None else None


async def live_release(store: MetadataStore, record: RepositoryRecord) -> ReleaseView | None:
    """The release ``live`` shows (per the metadata store), or None."""
    live = await store.live_publication(record.id)
    if live is None:
        return None
    return await get_release(store, record, live.tag)


async def release_state(
    store: MetadataStore, view: ReleaseView, live: Publication | None
) -> ReleaseState:
    """The status of ``view`` given the repository's live publication (see the docstring)."""
    page = await store.list_publications(view.record.id, first=STATUS_SCAN, tag=view.release.tag)
    published = next((p for p in page.items if p.state is PublicationState.PUBLISHED), None)
    when = published.completed_at if published else None
    who = published.requested_by if published else None
    if live is not None and live.tag == view.release.tag:
        return ReleaseState(ReleaseStatus.LIVE, when, who)
    if any(p.state is PublicationState.PENDING for p in page.items):
        return ReleaseState(ReleaseStatus.PENDING, when, who)
    if published is not None:
        return ReleaseState(ReleaseStatus.PUBLISHED, when, who)
    return ReleaseState(ReleaseStatus.NEVER_PUBLISHED, None, None)
