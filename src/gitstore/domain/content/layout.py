"""Repository layouts: where the files of one kind sit inside its directory.

Two layouts exist; reads accept both, writes follow the repository's (``layout_of``):

``fanout`` (the default for new repositories)
    ``<plural>/<bucket>/<name>.<ext>`` where ``<bucket>`` is the first two hex digits of the
    SHA-1 of the name (``printf %s oxford-shirt | sha1sum | cut -c1-2``): 256 buckets, evenly
    filled whatever the names look like (SKU-like names sharing a prefix included). A
    one-file commit rewrites the root tree, the kind's tree (at most 256 entries) and one
    bucket (about ``N / 256`` entries: ~390 at 100,000 products), instead of a tree of all
    ``N`` files.
``flat`` (every repository made before the fan-out layout)
    ``<plural>/<name>.<ext>``.

How a repository's layout is known: the marker file ``.gitstore/layout`` at the commit
(one line, ``fanout`` or ``flat``), which travels with clones and is visible to ``git push``
users. Without a marker, a branch with commits is ``flat`` (it predates the marker) and a
repository without any commit is ``fanout`` (its first API commit writes the marker).
"""

from __future__ import annotations

import hashlib
from enum import StrEnum

from gitstore.domain.content.errors import LAYOUT, ContentError
from gitstore.domain.errors import FailedPrecondition

LAYOUT_MARKER = ".gitstore/layout"
BUCKET_CHARS = 2


class Layout(StrEnum):
    FLAT = "flat"
    FANOUT = "fanout"


DEFAULT_LAYOUT = Layout.FANOUT


# The bucket of each first byte of a SHA-1: ``_BUCKETS[digest[0]]`` is ``hexdigest()[:2]``
# without formatting the other 38 digits (``bucket_for`` runs once per file of a projection).
_BUCKETS = tuple(f"{i:02x}" for i in range(256))
assert BUCKET_CHARS == 2, "_BUCKETS holds two-digit buckets"


def bucket_for(name: str) -> str:
    """The fan-out directory of ``name``: two lowercase hex digits of its SHA-1."""
    return _BUCKETS[hashlib.sha1(name.encode("utf-8"), usedforsecurity=False).digest()[0]]


def is_bucket(component: str) -> bool:
    return len(component) == BUCKET_CHARS and not component.strip("0123456789abcdef")


def marker_content(layout: Layout) -> bytes:
    return f"{layout.value}\n".encode()


def layout_of(marker: bytes | None, *, has_commits: bool) -> Layout:
    """The layout of a branch whose ``.gitstore/layout`` holds ``marker`` (None: absent)."""
    if marker is None:
        return Layout.FLAT if has_commits else DEFAULT_LAYOUT
    text = marker.decode("utf-8", errors="replace").strip()
    try:
        return Layout(text)
    except ValueError:
        raise FailedPrecondition(
            f"{LAYOUT_MARKER} holds {text[:40]!r}; it must be one of "
            f"{', '.join(v.value for v in Layout)}",
            field="layout",
        ) from None


def marker_problem(content: bytes) -> str | None:
    """Why ``content`` is no valid ``.gitstore/layout`` (pre-receive), or None."""
    text = content.decode("utf-8", errors="replace").strip()
    if text in {v.value for v in Layout}:
        return None
    return (
        f"{LAYOUT_MARKER} holds {text[:40]!r}; it must be one line: "
        f"{' or '.join(v.value for v in Layout)}"
    )


def marker_errors(content: bytes | None, *, was: Layout | None = None) -> list[ContentError]:
    """The pre-receive rule of a pushed ``.gitstore/layout`` (``content`` None: the push
    deleted it; ``was``: the layout of the ref before the push, None for a new ref).

    The content must be one line naming a layout. Deleting the marker of a fan-out branch
    is refused: without it the branch would read as flat while its files are fanned out,
    and API writes would start putting new files in the flat spelling.
    """
    if content is None:
        if was is Layout.FANOUT:
            return [
                ContentError(
                    LAYOUT_MARKER,
                    "",
                    LAYOUT,
                    f"{LAYOUT_MARKER} cannot be deleted from a fan-out branch (its files are "
                    "in <plural>/<bucket>/); keep it holding: fanout",
                )
            ]
        return []
    problem = marker_problem(content)
    return [] if problem is None else [ContentError(LAYOUT_MARKER, "", LAYOUT, problem)]


__all__ = [
    "BUCKET_CHARS",
    "DEFAULT_LAYOUT",
    "LAYOUT_MARKER",
    "Layout",
    "bucket_for",
    "is_bucket",
    "layout_of",
    "marker_content",
    "marker_errors",
    "marker_problem",
]
