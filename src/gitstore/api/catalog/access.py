"""Who may read a repository's catalogue, and which KV scope a read uses.

Storefront reads never touch Git: the metadata store says whether the repository exists,
who may read it and how it publishes; the KV store holds the state. The rules:

* **LIVE** of a PUBLIC repository: anyone, anonymous included.
* **LIVE** of a PRIVATE repository, and **DRAFT** of any repository: a caller who may read
  the repository's private content (``can_read_repository`` of the namespaces module: the
  creator of a USER namespace, any member of an organisation, an admin; a personal access
  token needs the ``read`` scope).
* A caller who may not read a PRIVATE repository gets ``NOT_FOUND`` — the same answer as for
  a repository that does not exist, so names do not leak. DRAFT of a PUBLIC repository is
  ``UNAUTHENTICATED`` (HTTP 401) anonymously and ``PERMISSION_DENIED`` for others.

The channel is resolved once per read (``open_view``): ``kv.resolve(repo, channel)`` follows
an alias (issue 5 points ``live`` at a release channel). ``LIVE`` of an ``ON_COMMIT``
repository whose ``live`` scope has no head (no alias, nothing materialised) falls back to
``draft``, the default branch's projection. ``ON_RELEASE_TAG`` never falls back: until a
release is published, ``live`` is empty.

``draft`` itself is two buffers (``draft``, ``draft-b``) behind the alias ``draft-view``, so
that a commit too large for one KV batch becomes visible at once: a DRAFT read (and the
``ON_COMMIT`` fallback) resolves that alias, once per read too (``domain.projection``).
"""

from __future__ import annotations

import enum

from gitstore.backends.kv import KvStore
from gitstore.backends.metadata.base import (
    MetadataStore,
    PublishMode,
    RepositoryRecord,
    Visibility,
)
from gitstore.domain.errors import InvalidArgument, NotFound, PermissionDenied, Unauthenticated
from gitstore.domain.identity import RepositoryId
from gitstore.domain.keys import DRAFT, LIVE, ChannelScope
from gitstore.domain.projection import DRAFT_VIEW, draft_view

from ..identity.principal import Principal
from ..namespaces.permissions import can_read_repository


class Channel(enum.StrEnum):
    LIVE = LIVE
    DRAFT = DRAFT


def parse_repository(value: object, field: str = "repository") -> str:
    """``<namespace>/<repo>`` checked, or ``InvalidArgument`` naming ``field``."""
    try:
        return str(RepositoryId.parse(value))  # type: ignore[arg-type]
    except InvalidArgument as exc:
        message = exc.message.replace("repository_id", field, 1)
        raise InvalidArgument(message, field=field) from None


def not_found(repository: str) -> NotFound:
    return NotFound(
        f"repository {repository!r} not found (or it is private: send a token with read access)",
        field="repository",
    )


async def readable_repository(
    store: MetadataStore,
    principal: Principal | None,
    repository: str,
    *,
    draft: bool = False,
) -> RepositoryRecord:
    """The repository record if ``principal`` may read it (its DRAFT channel when ``draft``);
    else the error the module docstring gives."""
    repository = parse_repository(repository)
    namespace_id, _, name = repository.partition("/")
    record = await store.get_repository_by_name(namespace_id, name)
    if record is None:
        raise not_found(repository)
    public = record.visibility is Visibility.PUBLIC
    if public and not draft:
        return record
    namespace = await store.get_namespace(record.namespace_id)
    if namespace is None:
        raise not_found(repository)
    if principal is not None and await can_read_repository(store, principal, namespace):
        return record
    if not public:
        raise not_found(repository)
    if principal is None:
        raise Unauthenticated(
            f"reading the DRAFT channel of {repository!r} needs a token with read access"
        )
    raise PermissionDenied(
        f"you may not read the DRAFT channel of {repository!r} (needs read access to its"
        " namespace)",
        field="channel",
    )


async def resolve_scope(kv: KvStore, record: RepositoryRecord, channel: Channel) -> ChannelScope:
    """The KV scope a read of ``channel`` uses (see the module docstring)."""
    repository = record.repository_id
    if channel is Channel.DRAFT:
        return draft_view(await kv.resolve(repository, DRAFT_VIEW))
    scope = await kv.resolve(repository, channel.value)
    if scope.channel != LIVE:
        return scope
    if record.publish_mode is PublishMode.ON_COMMIT and await kv.head(scope) is None:
        return draft_view(await kv.resolve(repository, DRAFT_VIEW))
    return scope
