"""Relay pages over the metadata store's lists, with a valid cursor on every edge.

The store pages by an opaque ``after`` cursor and returns only the cursor of a page's *last*
row (``Page.end_cursor``); Relay wants one per edge. We never take a store cursor apart.
Instead an edge cursor names a position *relative* to a store cursor: ``(store_after, skip)``
= "the row ``skip`` places after ``store_after``" (``store_after`` empty = the start).
Resuming from it asks the store for ``skip + first`` rows after ``store_after`` and drops the
first ``skip``. The last edge of a store page gets ``(end_cursor, 0)``, so chaining
``pageInfo.endCursor`` costs nothing extra. Positions are key-based like the store's own
cursors: rows created or deleted meanwhile do not shift later pages, except that a ``skip``
counts rows after a fixed key, so a delete *inside* the skipped rows of the current page can
move the resume point by one row (the same trade every offset-within-page scheme makes).

Our cursor is URL-safe base64 of ``p1|<skip>|<store cursor>``; anything else is an
``InvalidArgument`` naming ``after`` (a tampered store part is refused by the store itself).

``keep`` filters rows (e.g. private repositories the caller may not see): pages are then
filled by reading further store pages, and ``totalCount`` counts the kept rows of the whole
list (one full scan; lists of a namespace are small).
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Awaitable, Callable
from typing import TypeVar

from gitstore.backends.metadata.base import Page
from gitstore.domain.errors import InvalidArgument

from ..graphql.relay import Connection, Edge

T = TypeVar("T")
Fetch = Callable[[int, str | None], Awaitable[Page[T]]]

SCAN_BATCH = 100
MAX_SKIP = 10_000  # far above any page size; bounds what a forged cursor can make us read
_PREFIX = "p1"


def encode_cursor(store_after: str | None, skip: int) -> str:
    text = f"{_PREFIX}|{skip}|{store_after or ''}"
    return base64.urlsafe_b64encode(text.encode()).decode("ascii").rstrip("=")


def decode_cursor(cursor: str | None) -> tuple[str | None, int]:
    """``(store_after, skip)`` of one of our cursors; None means the start of the list."""
    if cursor is None:
        return None, 0
    problem = InvalidArgument(
        f"after {cursor!r} is not a cursor returned by this list", field="after"
    )
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        text = base64.urlsafe_b64decode(padded.encode("ascii")).decode("utf-8")
    except (binascii.Error, UnicodeError, ValueError):
        raise problem from None
    prefix, sep, rest = text.partition("|")
    skip_text, sep2, store_after = rest.partition("|")
    if prefix != _PREFIX or not sep or not sep2 or not skip_text.isdigit():
        raise problem
    skip = int(skip_text)
    if skip > MAX_SKIP:
        raise problem
    return store_after or None, skip


async def connection(
    fetch: Fetch[T],
    *,
    first: int,
    after: str | None,
    keep: Callable[[T], bool] | None = None,
) -> Connection[T]:
    """One page of ``first`` rows after ``after`` (one of our cursors) as a Connection."""
    store_after, skip = decode_cursor(after)
    if keep is None:
        page = await fetch(skip + first, store_after)
        edges = _edges(page, store_after, skip)
        return Connection(edges, page.total_count, page.has_next_page, after is not None)
    edges, has_next = await _filtered(fetch, first, store_after, skip, keep)
    total = await _count(fetch, keep)
    return Connection(edges, total, has_next, after is not None)


def _edges(page: Page[T], store_after: str | None, skip: int) -> list[Edge[T]]:
    rows = page.items
    edges: list[Edge[T]] = []
    for index in range(skip, len(rows)):
        edges.append(Edge(_cursor_at(page, store_after, index), rows[index]))
    return edges


def _cursor_at(page: Page[T], store_after: str | None, index: int) -> str:
    if index == len(page.items) - 1 and page.end_cursor is not None:
        return encode_cursor(page.end_cursor, 0)
    return encode_cursor(store_after, index + 1)


async def _filtered(
    fetch: Fetch[T], first: int, store_after: str | None, skip: int, keep: Callable[[T], bool]
) -> tuple[list[Edge[T]], bool]:
    """Kept rows after the position, reading store pages of ``SCAN_BATCH`` until full."""
    if skip:  # re-anchor on a store cursor, so skips never grow while scanning
        anchor = await fetch(skip, store_after)
        if len(anchor.items) < skip or anchor.end_cursor is None:
            return [], False
        store_after = anchor.end_cursor
    edges: list[Edge[T]] = []
    while True:
        page = await fetch(SCAN_BATCH, store_after)
        for index in range(len(page.items)):
            row = page.items[index]
            if not keep(row):
                continue
            if len(edges) == first:
                return edges, True
            edges.append(Edge(_cursor_at(page, store_after, index), row))
        if not page.has_next_page or page.end_cursor is None:
            return edges, False
        store_after = page.end_cursor


async def _count(fetch: Fetch[T], keep: Callable[[T], bool]) -> int:
    total, store_after = 0, None
    while True:
        page = await fetch(SCAN_BATCH, store_after)
        total += sum(1 for row in page.items if keep(row))
        if not page.has_next_page or page.end_cursor is None:
            return total
        store_after = page.end_cursor
