"""``_entities``: catalogue resources by their key, from the KV projection.

A gateway sends *representations*, ``{"__typename": "Product", "id": "<global id>"}`` or
``{"__typename": "Product", "name": "shirt"}``; each is answered with the resource of that
kind in the endpoint's repository, read from the LIVE channel (what storefronts see: the
published release, or the default branch head of an ``ON_COMMIT`` repository) with the access
rules of ``catalog`` (one check per ``_entities`` field). The answers keep the order of the
representations; one that names nothing existing is null; a malformed one (not an object,
an unknown ``__typename``, neither or both keys, an id of another kind or repository) is an
error at its own index (``_entities.<i>``), the others are still answered. Loads of one
request are batched per kind by the view's loader (one ``get_many`` per kind and tick).
"""

from __future__ import annotations

from collections.abc import Awaitable, Mapping
from dataclasses import dataclass
from typing import Any

from gitstore.domain.errors import InvalidArgument
from gitstore.domain.projection import document_kind

from ..catalog.access import Channel
from ..catalog.ids import decode_resource_id
from ..catalog.reads import KINDS, CatalogReads, CatalogView
from ..catalog.resources import CatalogResource
from ..context import context_of
from ..graphql.catalog_reads import endpoint_repository
from ..graphql.info import ResolveInfo

KEY_FIELDS = ("id", "name")
MAX_REPRESENTATIONS = 1000


@dataclass(frozen=True, slots=True)
class Representation:
    type_name: str
    kind: str  # the manifest kind
    name: str  # metadata.name
    repository: str | None  # the repository an id names (None: keyed by name)


def parse_representation(index: int, value: object, kinds: Mapping[str, str]) -> Representation:
    """Representation ``index`` checked; ``InvalidArgument`` naming what is wrong.
    ``kinds``: entity type name -> manifest kind."""
    where = f"representations[{index}]"
    if not isinstance(value, Mapping):
        raise InvalidArgument(f"{where} must be an object, not {type(value).__name__}", field=where)
    type_name = value.get("__typename")
    if not isinstance(type_name, str):
        raise InvalidArgument(f"{where} needs __typename (a string)", field=where)
    kind = kinds.get(type_name)
    if kind is None:
        known = ", ".join(sorted(kinds))
        raise InvalidArgument(
            f"{where}: {type_name!r} is not an entity of this subgraph (entities: {known})",
            field=f"{where}.__typename",
        )
    given = [k for k in KEY_FIELDS if value.get(k) is not None]
    if len(given) != 1:
        raise InvalidArgument(
            f"{where} needs exactly one key of {type_name}, id or name (got {len(given)})",
            field=where,
        )
    key = given[0]
    raw = value[key]
    if not isinstance(raw, str) or not raw:
        raise InvalidArgument(f"{where}.{key} must be a non-empty string", field=f"{where}.{key}")
    if key == "name":
        return Representation(type_name, kind, raw, None)
    rid = decode_resource_id(raw, kind, field=f"{where}.id")
    return Representation(type_name, kind, rid.name, rid.repository)


async def _resolve_one(
    view: CatalogView, index: int, value: object, kinds: Mapping[str, str]
) -> CatalogResource | None:
    wanted = parse_representation(index, value, kinds)
    if wanted.repository is not None and wanted.repository != view.repository:
        raise InvalidArgument(
            f"representations[{index}].id is a {wanted.kind} of repository "
            f"{wanted.repository!r}, not of this subgraph's {view.repository!r}",
            field=f"representations[{index}].id",
        )
    kv_kind = document_kind(wanted.kind)
    document = await view.load(kv_kind, wanted.name)
    if document is None:
        return None
    resource = (
        view.resource(document)  # built-ins: a product's collections from the same view
        if kv_kind in KINDS
        else CatalogResource.from_document(view.repository, document)
    )
    return resource


async def resolve_entities(
    _root: Any, info: ResolveInfo, representations: list[Any], kinds: Mapping[str, str]
) -> list[Awaitable[CatalogResource | None]]:
    """The ``_entities`` resolver: one awaitable per representation (graphql-core reports a
    failing item at its index and answers the rest)."""
    if len(representations) > MAX_REPRESENTATIONS:
        raise InvalidArgument(
            f"representations: at most {MAX_REPRESENTATIONS} per request "
            f"(got {len(representations)})",
            field="representations",
        )
    ctx = context_of(info)
    reads = CatalogReads(ctx.services.store, ctx.services.kv())
    view = await reads.open(ctx.actor(), endpoint_repository(info, None), Channel.LIVE)
    return [_resolve_one(view, i, value, kinds) for i, value in enumerate(representations)]
