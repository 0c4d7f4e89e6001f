"""Names that arrive in requests: branches, tags, revisions and object ids.

* Branch and tag names follow ``git check-ref-format --branch`` (checked by libgit2 on the
  full ``refs/heads/<name>`` / ``refs/tags/<name>``), plus: not ``HEAD``, no leading ``-``,
  at most 255 bytes. Callers may pass the short name (``main``) or the full one
  (``refs/heads/main``); the full ref name is returned.
* A revision is anything ``git rev-parse`` understands (``main``, ``v1.0``, a sha,
  ``HEAD~2``); empty means ``HEAD``. Syntax errors surface later as ``InvalidArgument``,
  unknown names as ``NotFound``; here only length, control characters and a leading ``-``
  are refused, so a revision can never be mistaken for an option.
* Object ids are 40 lowercase hex digits (uppercase is accepted and lowered); all zeros is
  ``ZERO_SHA`` ("does not exist").
"""

from __future__ import annotations

import re

import pygit2

from gitstore.domain.errors import InvalidArgument
from gitstore.domain.events import ZERO_SHA

HEADS = "refs/heads/"
TAGS = "refs/tags/"
MAX_REF_BYTES = 255
MAX_REVISION_CHARS = 1024
_SHA = re.compile(r"[0-9a-f]{40}")


def _ref_name(name: str, prefix: str, what: str) -> str:
    short = name[len(prefix) :] if name.startswith(prefix) else name
    if not short:
        raise InvalidArgument(f"{what} name must not be empty", field=what)
    if short == "HEAD" or short.startswith("-"):
        raise InvalidArgument(f"{what} name {name!r} is not allowed", field=what)
    if len(short.encode("utf-8")) > MAX_REF_BYTES:
        raise InvalidArgument(f"{what} name {name!r} is longer than {MAX_REF_BYTES} bytes")
    full = prefix + short
    if "\x00" in full or not pygit2.reference_is_valid_name(full):
        raise InvalidArgument(
            f"{what} name {name!r} is not a valid git ref name (see git check-ref-format)",
            field=what,
        )
    return full


def branch_ref(name: str) -> str:
    """``main`` or ``refs/heads/main`` -> ``refs/heads/main``; ``InvalidArgument`` if bad."""
    return _ref_name(name, HEADS, "branch")


def tag_ref(name: str) -> str:
    """``v1`` or ``refs/tags/v1`` -> ``refs/tags/v1``; ``InvalidArgument`` if bad."""
    return _ref_name(name, TAGS, "tag")


def revision(value: str, field: str = "revision") -> str:
    """A revision expression; empty means ``HEAD``."""
    if not value:
        return "HEAD"
    if len(value) > MAX_REVISION_CHARS:
        raise InvalidArgument(f"{field} is longer than {MAX_REVISION_CHARS} characters")
    if value.startswith("-") or any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in value):
        raise InvalidArgument(f"{field} {value!r} is not a valid revision", field=field)
    return value


def object_id(value: str, field: str) -> str:
    """A full 40-hex object id, lowercased."""
    lowered = value.lower()
    if not _SHA.fullmatch(lowered):
        raise InvalidArgument(
            f"{field} {value!r} must be a full 40-character hex object id", field=field
        )
    return lowered


def expected_head(value: str, field: str = "expected_head") -> str | None:
    """``""`` -> None (no precondition); else a 40-hex id (``ZERO_SHA`` = must not exist)."""
    if not value:
        return None
    return object_id(value, field)


__all__ = [
    "HEADS",
    "TAGS",
    "ZERO_SHA",
    "branch_ref",
    "expected_head",
    "object_id",
    "revision",
    "tag_ref",
]
