"""Relay conventions shared by every schema module: global IDs, page sizes, connections.

* **Global IDs** are opaque to clients: ``base64("gid://GitStore/<Type>/<id>")`` (standard
  alphabet, padded). :func:`decode_global_id` accepts unpadded and URL-safe spellings too and
  says exactly what is wrong with a bad one (not base64, wrong prefix, wrong type). The raw id is
  not checked for being a UUID; a well-formed ID that names nothing simply finds nothing.
* **Page sizes**: ``first`` must be 1..``max_page_size`` (100 by default); anything else is an
  ``InvalidArgument`` naming ``first`` and the allowed range.
* **Connections**: :class:`Connection` is what a connection field resolves to; the
  ``<Node>Connection`` / ``<Node>Edge`` types are made by ``SchemaBuilder.connection`` and
  resolve against it. Cursors come from the store (one per item) so pagination is exactly the
  store's own; ``hasPreviousPage`` is true when the page was asked for with ``after`` (forward
  pagination only).
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from gitstore.domain.errors import InvalidArgument

T = TypeVar("T")

GID_PREFIX = "gid://GitStore/"
_TYPE_NAME = re.compile(r"[A-Z][A-Za-z0-9]*")
DEFAULT_MAX_PAGE_SIZE = 100


@dataclass(frozen=True, slots=True)
class GlobalId:
    type_name: str
    id: str

    def encode(self) -> str:
        return encode_global_id(self.type_name, self.id)


def encode_global_id(type_name: str, raw_id: str) -> str:
    """The opaque ID of object ``raw_id`` of GraphQL type ``type_name``."""
    if not _TYPE_NAME.fullmatch(type_name):
        raise ValueError(f"global ID type {type_name!r} must be a GraphQL type name")
    if not raw_id or "/" in raw_id:
        raise ValueError(f"global ID raw id {raw_id!r} must be non-empty and contain no '/'")
    return base64.b64encode(f"{GID_PREFIX}{type_name}/{raw_id}".encode()).decode("ascii")


def decode_global_id(
    value: str, expected_type: str | None = None, *, field: str = "id"
) -> GlobalId:
    """Decode an opaque ID; ``InvalidArgument`` (naming ``field``) when it is not one, or when it
    names a different type than ``expected_type``."""
    if not isinstance(value, str) or not value.strip():
        raise InvalidArgument(f"{field} must be a non-empty global ID", field=field)
    text = value.strip()
    try:
        padded = text + "=" * (-len(text) % 4)
        decoded = base64.b64decode(padded.replace("-", "+").replace("_", "/"), validate=True)
        plain = decoded.decode("utf-8")
    except (binascii.Error, UnicodeDecodeError, ValueError) as exc:
        raise InvalidArgument(
            f"{field} {value!r} is not a global ID (not base64 of gid://GitStore/<Type>/<id>)",
            field=field,
        ) from exc
    if not plain.startswith(GID_PREFIX):
        raise InvalidArgument(
            f"{field} {value!r} is not a global ID (it does not decode to gid://GitStore/...)",
            field=field,
        )
    type_name, sep, raw_id = plain[len(GID_PREFIX) :].partition("/")
    if not sep or not _TYPE_NAME.fullmatch(type_name) or not raw_id or "/" in raw_id:
        raise InvalidArgument(
            f"{field} {value!r} is not a global ID (expected gid://GitStore/<Type>/<id>)",
            field=field,
        )
    if expected_type is not None and type_name != expected_type:
        raise InvalidArgument(
            f"{field} {value!r} is a {type_name} ID, not a {expected_type} ID", field=field
        )
    return GlobalId(type_name, raw_id)


def check_first(first: Any, *, max_page_size: int = DEFAULT_MAX_PAGE_SIZE) -> int:
    """``first`` as a page size; ``InvalidArgument`` unless 1 <= first <= max_page_size."""
    if isinstance(first, bool) or not isinstance(first, int) or not 1 <= first <= max_page_size:
        raise InvalidArgument(
            f"first must be between 1 and {max_page_size} (got {first!r})", field="first"
        )
    return first


@dataclass(frozen=True, slots=True)
class Edge(Generic[T]):
    cursor: str
    node: T


@dataclass(frozen=True, slots=True)
class Connection(Generic[T]):
    """One page of a list, shaped for the ``<Node>Connection`` types."""

    edges: Sequence[Edge[T]]
    total_count: int
    has_next_page: bool
    has_previous_page: bool

    @property
    def nodes(self) -> list[T]:
        return [edge.node for edge in self.edges]

    @property
    def start_cursor(self) -> str | None:
        return self.edges[0].cursor if self.edges else None

    @property
    def end_cursor(self) -> str | None:
        return self.edges[-1].cursor if self.edges else None

    @classmethod
    def of(
        cls,
        items: Sequence[T],
        cursor_of: Callable[[T], str],
        *,
        total_count: int,
        has_next_page: bool,
        after: str | None,
    ) -> Connection[T]:
        """A page from its items and a function giving each item's (store) cursor."""
        return cls(
            edges=[Edge(cursor_of(item), item) for item in items],
            total_count=total_count,
            has_next_page=has_next_page,
            has_previous_page=after is not None,
        )
