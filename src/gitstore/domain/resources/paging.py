"""Paginated resource lists that keep the list + watch contract (docs/resources.md).

Kubernetes' answer, kept: a list is read in pages of ``first`` objects ordered by (kind,
name); the first page's answer carries the repository's resourceVersion ``R`` it was read at
and a cursor; the cursor of every page carries ``R`` on, and every page of the list answers
``resourceVersion: R``. A client watches from ``R`` after the last page, so it misses
nothing.

Pages after the first read the *current* objects after the cursor (the store keeps no old
versions of objects to read them "at R"): an object that changed after ``R`` is listed as it
is now (its ``metadata.resourceVersion`` is then greater than ``R``), and the watch from
``R`` replays that change too. The rule for clients (the informer's): skip a watch event
whose ``resourceVersion`` is not greater than the ``metadata.resourceVersion`` of the object
held - that change is already in hand. An object deleted after ``R`` that a later page
would have held is simply not listed; its DELETED event follows on the watch.

The cursor is opaque (base64url JSON): ``R``, the last (kind key, name) handed out, and the
query it belongs to (repository, kind, label selector). Using it with another query is
``INVALID_ARGUMENT``, as is a cursor that does not parse.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass

from gitstore.domain.errors import InvalidArgument

from .model import Resource

MAX_PAGE = 1000
DEFAULT_PAGE = 100


@dataclass(frozen=True, slots=True)
class ListCursor:
    resource_version: int  # R: the version the list's first page was read at
    kind_key: str  # the last object handed out
    name: str
    query: str  # repository, kind filter and selector the cursor belongs to


@dataclass(frozen=True, slots=True)
class ResourcePage:
    """One page of a list: its objects, the list's version ``R`` and where to go on."""

    items: list[Resource]
    resource_version: int
    end_cursor: str | None  # None on the last page
    has_previous_page: bool = False

    @property
    def has_next_page(self) -> bool:
        return self.end_cursor is not None

    @property
    def start_cursor(self) -> None:
        return None


def query_of(repository: str, kind: str | None, selector: str | None) -> str:
    return json.dumps([repository, (kind or "").lower(), selector or ""], separators=(",", ":"))


def encode_cursor(cursor: ListCursor) -> str:
    raw = json.dumps(
        [1, cursor.resource_version, cursor.kind_key, cursor.name, cursor.query],
        separators=(",", ":"),
    )
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(value: str, query: str) -> ListCursor:
    """The cursor ``value`` for ``query``; ``INVALID_ARGUMENT`` (field ``after``) if it is not
    one of ours or belongs to another query."""
    try:
        padded = value + "=" * (-len(value) % 4)
        parsed = json.loads(base64.urlsafe_b64decode(padded.encode()))
        version, rv, kind, name, of = parsed
        if version != 1 or not isinstance(rv, int) or rv < 0:
            raise ValueError("version")
        if not all(isinstance(x, str) for x in (kind, name, of)):
            raise ValueError("fields")
    except (ValueError, TypeError, binascii.Error, UnicodeError) as exc:
        raise InvalidArgument(
            f"after {value[:40]!r} is not a cursor of the resources list (use pageInfo.endCursor"
            " of the previous page)",
            field="after",
        ) from exc
    if of != query:
        raise InvalidArgument(
            "after is a cursor of another list (repository, kind and labelSelector must be the"
            " same as for the first page)",
            field="after",
        )
    return ListCursor(rv, kind, name, of)


def check_first(first: object) -> int:
    if isinstance(first, bool) or not isinstance(first, int) or not 1 <= first <= MAX_PAGE:
        raise InvalidArgument(f"first must be 1..{MAX_PAGE} (got {first!r})", field="first")
    return first
