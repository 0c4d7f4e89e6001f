"""Reading resources and writing their status, for the GraphQL resolvers.

A status write: the caller's right (``access``), the kind's ``statusSchema`` (the hub
version's, from the registry of the commit the store applied last; built-in kinds need no
Git read), the store's compare-and-set (``Conflict`` when stale, nothing changed) and, when
something changed, the ``ResourceChangedEvent`` poke - handed to the background
``Announcer`` (coalesced per repository), so the answer never waits on the queue.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from gitstore.domain.content.kinds import KindDefinition, KindRegistry
from gitstore.domain.errors import InvalidArgument
from gitstore.domain.resources.model import Resource, kind_key
from gitstore.domain.resources.paging import (
    DEFAULT_PAGE,
    ListCursor,
    ResourcePage,
    check_first,
    decode_cursor,
    encode_cursor,
    query_of,
)
from gitstore.domain.resources.rules import MetadataPatch
from gitstore.domain.resources.selector import parse_selector
from gitstore.domain.resources.status_schema import check_status

from ..catalog.access import parse_repository
from ..identity.principal import Principal
from . import access

if TYPE_CHECKING:
    from ..services import ApiServices

_BUILTIN = KindRegistry.builtin()


def parse_resource_version(value: object) -> int:
    """A resourceVersion as GraphQL carries it: a decimal string (an integer is accepted)."""
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    if isinstance(value, str) and value.isdigit() and len(value) <= 19:
        return int(value)
    raise InvalidArgument(
        f'resourceVersion {value!r} must be a decimal string, e.g. "42"',
        field="resourceVersion",
    )


def _string_map(value: object, what: str) -> dict[str, str] | None:
    if value is None:
        return None
    if not isinstance(value, Mapping) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in value.items()
    ):
        raise InvalidArgument(f"{what} must be an object of strings", field=what)
    return dict(value)


def find_kind(registry: KindRegistry, kind: str) -> KindDefinition | None:
    found = registry.find(kind)
    if found is not None:
        return found
    return next((d for d in registry if d.kind.lower() == kind.lower()), None)


async def status_schema(
    services: ApiServices, repository: str, kind: str
) -> Mapping[str, Any] | None:
    definition = find_kind(_BUILTIN, kind)
    if definition is None:
        commit = await services.resources().applied_commit(repository)
        registry = await services.kinds().registry(repository, commit)
        definition = find_kind(registry, kind)
    return definition.hub.status_schema if definition is not None else None


async def get_resource(
    services: ApiServices, principal: Principal | None, repository: str, kind: str, name: str
) -> Resource | None:
    repository = parse_repository(repository)
    await access.readable(services.store, principal, repository)
    return await services.resources().get(repository, kind, name)


async def list_page(
    services: ApiServices,
    principal: Principal | None,
    repository: str,
    kind: str | None,
    label_selector: str | None,
    first: object | None,
    after: str | None,
) -> ResourcePage:
    """The resources list, whole (no ``first``/``after``: one snapshot) or one page of it
    (``domain.resources.paging``): every page answers the first page's resourceVersion."""
    repository = parse_repository(repository)
    selector = parse_selector(label_selector)
    await access.readable(services.store, principal, repository)
    store = services.resources()
    if first is None and after is None:
        items, version = await store.select(repository, kind, selector)
        return ResourcePage(items, version, None)
    size = check_first(DEFAULT_PAGE if first is None else first)
    query = query_of(repository, kind, label_selector)
    cursor = decode_cursor(after, query) if after is not None else None
    items, version, more = await store.select_page(
        repository,
        kind,
        selector,
        after=(cursor.kind_key, cursor.name) if cursor else None,
        first=size,
    )
    listed_at = cursor.resource_version if cursor else version
    end = None
    if more and items:
        last = items[-1]
        end = encode_cursor(ListCursor(listed_at, kind_key(last.kind), last.name, query))
    return ResourcePage(items, listed_at, end, has_previous_page=cursor is not None)


async def update_status(
    services: ApiServices,
    principal: Principal | None,
    repository: str,
    kind: str,
    name: str,
    resource_version: object,
    status: object,
) -> Resource:
    """Write ``status`` (compare-and-set); the resource after the write."""
    repository = parse_repository(repository)
    expected = parse_resource_version(resource_version)
    if not isinstance(status, Mapping):
        raise InvalidArgument("status must be a JSON object", field="status")
    await access.status_writable(services.store, principal, repository, services.status_rights)
    check_status(kind, await status_schema(services, repository, kind), status)
    store = services.resources()
    resource, changed = await store.update_status(repository, kind, name, expected, dict(status))
    if changed:
        services.announcer().announce(repository, resource.resource_version)
    return resource


async def update_metadata(
    services: ApiServices,
    principal: Principal | None,
    repository: str,
    kind: str,
    name: str,
    resource_version: object,
    *,
    finalizers: list[str] | None = None,
    labels: object = None,
    annotations: object = None,
) -> Resource:
    """Replace finalizers / labels / annotations (compare-and-set; the same right as status:
    finalizers are how controllers hold a deletion). Removing the last finalizer of a
    resource being deleted removes it (the result is its last state)."""
    repository = parse_repository(repository)
    expected = parse_resource_version(resource_version)
    patch = MetadataPatch(
        finalizers, _string_map(labels, "labels"), _string_map(annotations, "annotations")
    )
    await access.status_writable(services.store, principal, repository, services.status_rights)
    store = services.resources()
    resource, changed = await store.update_metadata(repository, kind, name, expected, patch)
    if changed:
        services.announcer().announce(repository, resource.resource_version)
    return resource
