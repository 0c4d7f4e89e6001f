"""Deterministic keys of the KV projection (pure: no I/O).

A projected document is addressed by four parts, and its key is their join::

    <namespace>/<repo>:<channel>:<kind>:<name>      e.g. acme/catalog:live:product:blue-shirt

* ``<namespace>/<repo>`` is a repository id (two DNS labels, see ``identity``);
* ``channel`` is what a reader sees: ``draft`` (the working state) or ``live`` (what storefronts
  see), or any other channel name a publisher chooses (e.g. ``rel-42`` for one materialised
  release, which ``live`` may then point to — see ``docs/kv.md``);
* ``kind`` is the document kind; the convention is the manifest kind in lower case
  (``product``, ``category``, ``collection``);
* ``name`` is the resource's ``metadata.name``.

None of the parts may contain ``:`` (nor ``{``/``}``, which Redis uses for hash tags, nor ``#``,
which backends use to separate their own bookkeeping keys), so a key splits back into its parts
without ambiguity (:func:`parse_document_key`). Sequences, the per-(repository, channel) order of
writes, are positive integers below 2**53 so that every backend (including Lua's doubles in
Redis) compares them exactly. Versions are commit ids: 40 (SHA-1) or 64 (SHA-256) hex digits.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from gitstore.domain.errors import InvalidArgument
from gitstore.domain.identity import RepositoryId

DRAFT = "draft"
LIVE = "live"

MAX_SEQUENCE = 2**53 - 1
MAX_INDEX_VALUE_CHARS = 512

_CHANNEL = re.compile(r"[a-z0-9](?:[a-z0-9._-]{0,61}[a-z0-9])?")
_KIND = re.compile(r"[A-Za-z][A-Za-z0-9._-]{0,62}")
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,252}")
_INDEX = re.compile(r"[a-z0-9](?:[a-z0-9._+-]{0,61}[a-z0-9])?")
_VERSION = re.compile(r"(?:[0-9a-f]{40}|[0-9a-f]{64})")


def _check(pattern: re.Pattern[str], value: object, what: str, rule: str) -> str:
    if not isinstance(value, str) or not value.isascii() or not pattern.fullmatch(value):
        raise InvalidArgument(f"{what} {value!r} is not valid: {rule}", field=what)
    return value


def validate_channel(value: object) -> str:
    return _check(
        _CHANNEL,
        value,
        "channel",
        "use 1-63 lowercase letters, digits, '.', '_' or '-', starting and ending with a "
        "letter or digit (e.g. 'draft', 'live')",
    )


def validate_kind(value: object) -> str:
    return _check(
        _KIND,
        value,
        "kind",
        "use 1-63 letters, digits, '.', '_' or '-', starting with a letter (e.g. 'product')",
    )


def validate_name(value: object) -> str:
    return _check(
        _NAME,
        value,
        "name",
        "use 1-253 letters, digits, '.', '_' or '-', starting with a letter or digit",
    )


def validate_index_name(value: object) -> str:
    return _check(
        _INDEX,
        value,
        "index",
        "use 1-63 lowercase letters, digits, '.', '_', '+' or '-' (e.g. 'category')",
    )


def validate_index_value(value: object, index: str = "index") -> str:
    if not isinstance(value, str) or not value:
        raise InvalidArgument(f"value of index {index!r} must be a non-empty string", field=index)
    if len(value) > MAX_INDEX_VALUE_CHARS or "\x00" in value:
        raise InvalidArgument(
            f"value of index {index!r} must be at most {MAX_INDEX_VALUE_CHARS} characters "
            "without NUL bytes",
            field=index,
        )
    return value


def validate_sequence(value: object, what: str = "sequence") -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_SEQUENCE:
        raise InvalidArgument(
            f"{what} {value!r} is not valid: use an integer from 1 to 2**53-1", field=what
        )
    return value


def validate_version(value: object) -> str:
    return _check(_VERSION, value, "version", "use a commit id of 40 or 64 lowercase hex digits")


def validate_repository(value: object) -> str:
    if not isinstance(value, str):
        raise InvalidArgument(f"repository {value!r} must be a string", field="repository")
    return str(RepositoryId.parse(value))


@dataclass(frozen=True, slots=True)
class ChannelScope:
    """One repository's channel: the unit of batches, sequences, heads and atomicity."""

    repository: str
    channel: str

    def __post_init__(self) -> None:
        validate_repository(self.repository)
        validate_channel(self.channel)

    @property
    def prefix(self) -> str:
        """``<namespace>/<repo>:<channel>`` — the start of every key in the scope."""
        return f"{self.repository}:{self.channel}"

    def key(self, kind: str, name: str) -> str:
        return document_key(self, kind, name)

    def __str__(self) -> str:
        return self.prefix


def document_key(scope: ChannelScope, kind: str, name: str) -> str:
    """``<namespace>/<repo>:<channel>:<kind>:<name>`` after validating kind and name."""
    return f"{scope.prefix}:{validate_kind(kind)}:{validate_name(name)}"


def parse_document_key(key: str) -> tuple[ChannelScope, str, str]:
    """Split a document key back into (scope, kind, name); ``InvalidArgument`` if malformed."""
    parts = key.split(":") if isinstance(key, str) else []
    if len(parts) != 4:
        raise InvalidArgument(
            f"key {key!r} must have the form <namespace>/<repo>:<channel>:<kind>:<name>",
            field="key",
        )
    repository, channel, kind, name = parts
    return ChannelScope(repository, channel), validate_kind(kind), validate_name(name)
