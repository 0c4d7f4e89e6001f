"""The checks every KV store makes before it writes: reads named validly, alias writes that
only move forward and land on the version they expect, copy steps within their scope, and
the errors that say which head, fence or version a write lost to. Shared by the memory,
SQLite and Redis stores (``base`` re-exports them), so every backend refuses alike.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from gitstore.domain.errors import FailedPrecondition, InvalidArgument
from gitstore.domain.keys import (
    ChannelScope,
    validate_channel,
    validate_kind,
    validate_name,
    validate_repository,
    validate_sequence,
    validate_version,
)

COPY_START = ""  # the cursor of a copy's first step


def check_read(scope: ChannelScope, kind: str, names: Iterable[str] = ()) -> None:
    if not isinstance(scope, ChannelScope):
        raise InvalidArgument("scope must be a ChannelScope", field="scope")
    validate_kind(kind)
    if isinstance(names, str):
        raise InvalidArgument("names must be a list of document names", field="names")
    for name in names:
        validate_name(name)


def check_alias(
    repository: str,
    alias: str,
    target: str | None,
    sequence: int,
    expected_target_version: str | None = None,
) -> None:
    validate_repository(repository)
    validate_channel(alias)
    if target is not None:
        validate_channel(target)
        if target == alias:
            raise InvalidArgument(f"channel {alias!r} cannot be an alias of itself", field="target")
    validate_sequence(sequence)
    if expected_target_version is not None:
        if target is None:
            raise InvalidArgument(
                "expected_target_version needs a target channel (not a removal)",
                field="expected_target_version",
            )
        try:
            validate_version(expected_target_version)
        except InvalidArgument as exc:
            raise InvalidArgument(
                f"expected_target_version: {exc.message}", field="expected_target_version"
            ) from None


def check_copy(
    source: ChannelScope,
    target: ChannelScope,
    cursor: str,
    sequence: int,
    expected_head_sequence: int,
    unless_alias: str | None,
    keep_kind: str | None,
    limit: int,
) -> list[Any]:
    """Validate the arguments of ``copy_step``; returns the decoded cursor (``[]`` at the
    start; backends put a JSON list in it)."""
    for what, scope in (("source", source), ("target", target)):
        if not isinstance(scope, ChannelScope):
            raise InvalidArgument(f"copy {what} must be a ChannelScope", field=what)
    if source == target:
        raise InvalidArgument(f"cannot copy {source} onto itself", field="target")
    validate_sequence(sequence)
    if expected_head_sequence != 0:
        validate_sequence(expected_head_sequence, "expected_head_sequence")
    if unless_alias is not None:
        validate_channel(unless_alias)
        if unless_alias == target.channel:
            raise InvalidArgument(
                f"a copy into {target} cannot be fenced by the alias of its own name",
                field="unless_alias",
            )
    if keep_kind is not None:
        validate_kind(keep_kind)
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
        raise InvalidArgument(
            f"copy limit must be a positive integer (got {limit!r})", field="limit"
        )
    if not isinstance(cursor, str):
        raise InvalidArgument("copy cursor must be a string", field="cursor")
    if cursor == COPY_START:
        return []
    try:
        decoded = json.loads(cursor)
    except ValueError:
        decoded = None
    if not isinstance(decoded, list) or not decoded:
        raise InvalidArgument(f"copy cursor {cursor[:80]!r} is not a copy cursor", field="cursor")
    return decoded


def copy_cursor(*parts: Any) -> str:
    """A copy cursor (JSON list) made by a backend for its next step."""
    return json.dumps(list(parts), separators=(",", ":"), ensure_ascii=False)


def alias_fenced(scope: ChannelScope, alias: str) -> FailedPrecondition:
    """The error of a batch refused by its alias fence."""
    return FailedPrecondition(
        f"alias {alias!r} of {scope.repository} points at {scope.channel!r}: a batch fenced by "
        f"that alias may not write into {scope}",
        field="alias",
    )


def head_mismatch(
    scope: ChannelScope, current: int | str, noun: str, expected: int | None
) -> FailedPrecondition:
    """The error of a ``noun`` ("batch", "copy") refused by its head compare-and-swap."""
    return FailedPrecondition(
        f"channel {scope} head is at sequence {current}, {noun} expected {expected}",
        field="expected_head_sequence",
    )


def target_version_mismatch(
    repository: str, alias: str, target: str, expected: str, found: str | None
) -> FailedPrecondition:
    """The error of a switch refused by ``expected_target_version``."""
    return FailedPrecondition(
        f"alias {alias!r} of {repository} not switched to {target!r}: its head is at "
        f"{found or 'nothing'}, expected {expected}",
        field="expected_target_version",
    )
