"""Release use cases: record a release tag, publish / roll back / replay, create a tag.

A **release** is a tag matching the repository's release patterns, recorded once in the
metadata store (tag → commit; tags are immutable once recorded, which the pre-receive policy
enforces). A **publication** is one request to make a release what the ``live`` channel
shows; the metadata store gives it the repository's next sequence, and the worker, told by a
:class:`~gitstore.domain.events.PublishEvent` on the main stream, makes ``live`` equal to the
release with the *highest requested* sequence. Rolling back is therefore just publishing an
older release again: it gets a newer sequence, so it wins.

Entry points:

* :func:`on_release_tag` — a release tag arrived (post-receive of a push, or
  ``createRelease``): record it (idempotent: the same tag and commit again is fine; the same
  tag on another commit is ``ALREADY_EXISTS``); for ``ON_RELEASE_TAG`` repositories request a
  publication, unless this release already has one (a retried post-receive must not publish
  twice). Returns the human lines a pusher sees as ``remote:`` output.
* :func:`publish_release` / :func:`replay_release` — a maintainer's roll forward/back
  (kind ``PUBLISH``) or re-projection from scratch (kind ``REPLAY``); ``FAILED_PRECONDITION``
  for ``ON_COMMIT`` repositories (their ``live`` follows the default branch), ``NOT_FOUND``
  for an unknown release.
* :func:`create_release` — a writer makes the tag over gRPC (``CreateTag``: an annotated tag
  with the caller as tagger), then :func:`on_release_tag` with source ``api``.

Requesting is two steps, the store's ``create_publication`` then ``queue.publish``. If the
publish fails the publication would stay PENDING for ever, so it is completed as FAILED
(error "could not queue ...") and the caller gets ``UNAVAILABLE``: nothing half-requested is
left behind, and asking again makes a fresh publication. Permissions: see ``access``.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

from gitstore.backends.metadata.base import MetadataStore, PublishMode, RepositoryRecord
from gitstore.backends.metadata.base_git import (
    Publication,
    PublicationKind,
    PublicationState,
    Release,
)
from gitstore.backends.queue.base import Queue
from gitstore.domain.errors import (
    AlreadyExists,
    FailedPrecondition,
    InvalidArgument,
    NotFound,
    Unavailable,
)
from gitstore.domain.events import PublishEvent
from gitstore.git.client import GitClient
from gitstore.git.v1 import git_service_pb2 as pb

from ..catalog.writes.access import maintainable
from ..catalog.writes.result import EMAIL_DOMAIN
from ..identity.principal import Principal
from ..refaudit import audit_ref_update
from . import access
from .patterns import check_tag_name, is_release_tag, short_tag

log = logging.getLogger("gitstore.api.releases")

MAX_MESSAGE = 4096


class ReleaseServices(Protocol):
    """What these actions use of ``ApiServices`` (tests may pass a smaller double)."""

    @property
    def store(self) -> MetadataStore: ...

    def events(self) -> Queue: ...

    def git(self) -> GitClient: ...


@dataclass(frozen=True, slots=True)
class ReleaseOutcome:
    release: Release
    publication: Publication | None  # None: ON_COMMIT, or already requested earlier
    lines: list[str]


# ---------------------------------------------------------------------- a tag arrived
async def on_release_tag(
    services: ReleaseServices,
    record: RepositoryRecord,
    tag: str,
    commit: str,
    *,
    by: str,
    source: str,
    correlation_id: str,
    message: str = "",
) -> list[str]:
    """Record the release ``tag`` → ``commit`` and publish it if the repository publishes on
    release tags; the lines say what happened (for ``remote:`` output)."""
    outcome = await record_release(
        services,
        record,
        tag,
        commit,
        by=by,
        source=source,
        correlation_id=correlation_id,
        message=message,
    )
    return outcome.lines


async def record_release(
    services: ReleaseServices,
    record: RepositoryRecord,
    tag: str,
    commit: str,
    *,
    by: str,
    source: str,
    correlation_id: str,
    message: str = "",
) -> ReleaseOutcome:
    """:func:`on_release_tag`, returning the release and publication too."""
    store = services.store
    name = short_tag(tag)
    release, created = await _recorded(store, record, name, commit, by, source, message)
    if record.publish_mode is not PublishMode.ON_RELEASE_TAG:
        line = (
            f"release {name} recorded at {commit[:12]} (publish mode ON_COMMIT: storefronts"
            " follow the default branch; the tag does not publish)"
        )
        return ReleaseOutcome(release, None, [line])
    if not created:
        earlier = await store.list_publications(record.id, first=1, tag=name)
        if earlier.items:
            sequence = earlier.items[0].sequence
            line = f"release {name} was recorded before (publication {sequence}); not re-published"
            return ReleaseOutcome(release, None, [line])
    publication = await request_publication(
        services,
        record,
        release,
        kind=PublicationKind.PUBLISH,
        by=by,
        correlation_id=correlation_id,
    )
    line = (
        f"release {name} → publication {publication.sequence} queued (storefronts switch when"
        " the worker has projected it)"
    )
    return ReleaseOutcome(release, publication, [line])


async def _recorded(
    store: MetadataStore,
    record: RepositoryRecord,
    tag: str,
    commit: str,
    by: str,
    source: str,
    message: str,
) -> tuple[Release, bool]:
    """The release (existing or new) and whether it was created now."""
    existing = await store.get_release(record.id, tag)
    if existing is None:
        try:
            created = await store.create_release(
                record.id, tag, commit, created_by=by, source=source, message=message
            )
        except AlreadyExists:  # a concurrent recorder won: compare with its record
            existing = await store.get_release(record.id, tag)
            if existing is None:
                raise
        else:
            await store.append_audit(
                by,
                "release.create",
                f"{record.repository_id}@{tag}",
                {"commit": commit, "new": commit, "source": source, "operation": "release.create"},
            )
            return created, True
    if existing.commit_sha != commit:
        raise AlreadyExists(
            f"release {tag} of {record.repository_id} is recorded at {existing.commit_sha[:12]},"
            f" not {commit[:12]}; release tags are immutable (make a new tag)",
            field="tag",
        )
    return existing, False


async def request_publication(
    services: ReleaseServices,
    record: RepositoryRecord,
    release: Release,
    *,
    kind: PublicationKind,
    by: str,
    correlation_id: str,
) -> Publication:
    """A new PENDING publication of ``release`` and its ``PublishEvent`` on the main stream."""
    store = services.store
    publication = await store.create_publication(
        record.id,
        release.tag,
        release.commit_sha,
        kind=kind,
        requested_by=by,
        correlation_id=correlation_id,
    )
    event = PublishEvent(
        event_id=f"publish:{record.id}:{publication.sequence}",
        repository_id=record.repository_id,
        sequence=publication.sequence,
        tag=release.tag,
        commit=release.commit_sha,
        kind=kind.value,
        requested_by=by,
        correlation_id=correlation_id,
        timestamp=time.time(),
    )
    await store.append_audit(
        by,
        f"release.{kind.value.lower()}",
        f"{record.repository_id}@{release.tag}",
        {
            "sequence": publication.sequence,
            "commit": release.commit_sha,
            "new": release.commit_sha,
            "pushId": correlation_id,
            "operation": f"release.{kind.value.lower()}",
        },
    )
    try:
        await services.events().publish(event.to_json(), key=record.repository_id)
    except Exception as exc:
        log.exception(
            "queueing publication %d of %s failed", publication.sequence, record.repository_id
        )
        await store.complete_publication(
            record.id,
            publication.sequence,
            state=PublicationState.FAILED,
            at=datetime.now(UTC),
            error=f"could not queue the publish request: {exc}",
        )
        raise Unavailable(
            f"the event queue did not take publication {publication.sequence} of"
            f" {record.repository_id} (marked FAILED); try again"
        ) from exc
    return publication


# ---------------------------------------------------------------------- maintainer actions
async def publish_release(
    services: ReleaseServices, principal: Principal, repository: str, tag: str, *, request_id: str
) -> Publication:
    """Make ``live`` show release ``tag`` (roll forward or back)."""
    return await _republish(
        services, principal, repository, tag, PublicationKind.PUBLISH, request_id
    )


async def replay_release(
    services: ReleaseServices, principal: Principal, repository: str, tag: str, *, request_id: str
) -> Publication:
    """Re-project release ``tag`` into ``live`` from scratch (kind REPLAY)."""
    return await _republish(
        services, principal, repository, tag, PublicationKind.REPLAY, request_id
    )


async def _republish(
    services: ReleaseServices,
    principal: Principal,
    repository: str,
    tag: str,
    kind: PublicationKind,
    request_id: str,
) -> Publication:
    verb = "publish releases" if kind is PublicationKind.PUBLISH else "replay releases"
    store = services.store
    record = await maintainable(store, principal, repository, what=verb)
    if record.publish_mode is not PublishMode.ON_RELEASE_TAG:
        raise FailedPrecondition(
            f"{record.repository_id} publishes ON_COMMIT (storefronts follow its default"
            " branch); set publishMode ON_RELEASE_TAG to publish releases",
            field="repository",
        )
    name = short_tag(tag.strip())
    release = await store.get_release(record.id, name)
    if release is None:
        raise NotFound(f"{record.repository_id} has no release {name!r}", field="tag")
    publication = await request_publication(
        services, record, release, kind=kind, by=principal.username, correlation_id=request_id
    )
    return publication


async def create_release(
    services: ReleaseServices,
    principal: Principal,
    repository: str,
    tag: str,
    revision: str,
    message: str,
    *,
    request_id: str,
) -> ReleaseOutcome:
    """Tag ``revision`` as release ``tag`` in the git service, then record (and publish) it."""
    store = services.store
    record = await access.writable(store, principal, repository)
    name = check_tag_name(tag)
    if not is_release_tag(name, record.release_patterns):
        patterns = ", ".join(record.release_patterns) or "(none)"
        raise InvalidArgument(
            f"tag {name!r} does not match the release patterns of {record.repository_id}"
            f" ({patterns})",
            field="tag",
        )
    text = (message or "").strip() or f"Release {name}"
    if len(text) > MAX_MESSAGE:
        raise InvalidArgument(f"message must be at most {MAX_MESSAGE} characters", field="message")
    if await store.get_release(record.id, name) is not None:
        raise AlreadyExists(f"release {name} of {record.repository_id} exists", field="tag")
    request = pb.CreateTagRequest(
        repository_id=record.repository_id,
        tag=name,
        revision=(revision or "").strip() or f"refs/heads/{record.default_branch}",
        message=text,
        tagger=pb.Signature(name=principal.username, email=f"{principal.username}@{EMAIL_DOMAIN}"),
        trailers=pb.Trailers(actor=principal.username, request_id=request_id),
    )
    response = await services.git().create_tag(request)
    commit = response.ref.peeled or response.ref.target
    await audit_ref_update(
        store,
        principal.username,
        record.repository_id,
        f"refs/tags/{name}",
        None,
        response.ref.target,
        transport="api",
        operation="createRelease",
        correlation_id=request_id,
    )
    return await record_release(
        services,
        record,
        name,
        commit,
        by=principal.username,
        source="api",
        correlation_id=request_id,
        message=text,
    )
