"""Reading hub documents in older served versions: what the hub no longer has, and the cache.

Storage and the KV projection hold the **hub** form of every resource; a reader that wants a
resource as an older served version (a spoke) gets the hub document converted *down*
(``from-hub``) by the kind's WASI hook. This module is the pure half of that:

* ``spoke_fields(definition)`` — the top-level ``spec`` properties of older served versions
  that the hub does not have (v1's ``price`` beside the hub's ``pricingMatrix``), each with
  the version it is read from and its deprecation reason. Versions are searched from the last
  declared to the first, so a property in several spokes is read from the newest. Only kinds
  with a Wasm hook have them: ``strategy: None`` versions share the hub's shape.
* ``deprecation_reason`` — the reason of a spoke field: the version's ``deprecatedFields``
  entry for ``spec.<property>`` when it declares one (``Use pricingMatrix``), else the
  version's ``deprecationWarning``, else ``Served in shop.example/v1 only; the hub
  shop.example/v2 has no price (read by converting the hub document to v1).``
* ``served_version`` — a version asked for by name (``v1``) or apiVersion
  (``shop.example/v1``), or ``InvalidArgument`` naming the served ones.
* ``DownKey`` and ``DownCache`` — converted specs and permanent hook failures cached by
  (repository, kind, name, digest of the hub spec, hook sha256, target version) in an LRU
  bounded by entries and bytes. The digest (not the commit) keys the document, so a resource
  unchanged across commits keeps its entry; a changed hook is a new sha256, a new key.

Batching the conversions of one response into one hook run is ``downbatch``.
"""

from __future__ import annotations

import hashlib
import json
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from gitstore.domain.content.kinds import KindDefinition, KindVersion
from gitstore.domain.content.schemas import resolve
from gitstore.domain.conversion.contract import encode_document
from gitstore.domain.conversion.errors import HookFailed, HookModuleRefused
from gitstore.domain.errors import InvalidArgument

DEFAULT_ENTRIES = 10_000
DEFAULT_BYTES = 32 * 1024 * 1024
FAILURE_BYTES = 512  # what a cached failure counts for


@dataclass(frozen=True, slots=True)
class SpokeField:
    """A top-level property of ``version`` that the hub does not have."""

    version: KindVersion
    prop: str
    reason: str


def _properties(schema: Mapping[str, Any]) -> Mapping[str, Any]:
    properties = resolve(schema, schema).get("properties")
    return properties if isinstance(properties, Mapping) else {}


def deprecation_reason(definition: KindDefinition, version: KindVersion, prop: str) -> str:
    for deprecated in version.deprecated_fields:
        if deprecated.path == f"spec.{prop}":
            return deprecated.reason
    if version.deprecated and version.deprecation_warning:
        return version.deprecation_warning
    return (
        f"Served in {definition.api_version(version)} only; the hub "
        f"{definition.hub_api_version} has no {prop} (read by converting the hub document "
        f"to {version.name})."
    )


def spoke_fields(definition: KindDefinition) -> list[SpokeField]:
    if definition.conversion.strategy != "Wasm":
        return []
    hub = _properties(definition.hub.schema)
    found: dict[str, SpokeField] = {}
    for version in reversed(definition.versions):
        if version.storage or not version.served:
            continue
        for prop in _properties(version.schema):
            if prop not in hub and prop not in found:
                found[prop] = SpokeField(
                    version, prop, deprecation_reason(definition, version, prop)
                )
    return list(found.values())


def served_version(definition: KindDefinition, wanted: str) -> KindVersion:
    """The served version named ``v1`` or ``<group>/v1``."""
    group, _, name = wanted.rpartition("/")
    if not group or group == definition.group:
        for version in definition.versions:
            if version.served and version.name == name:
                return version
    served = ", ".join(v.name for v in definition.versions if v.served)
    raise InvalidArgument(
        f"kind {definition.kind} has no served version {wanted!r} (served: {served})",
        field="version",
    )


def spec_digest(spec: Mapping[str, Any]) -> str:
    """SHA-256 of the canonical JSON of ``spec`` (keys sorted)."""
    text = json.dumps(spec, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass(frozen=True, slots=True)
class DownKey:
    repository: str
    kind: str
    name: str
    digest: str  # of the hub spec
    hook: str  # sha256 of the module
    version: str  # the target version's name


Failure = HookFailed | HookModuleRefused  # permanent: cached like results
Entry = dict[str, Any] | Failure


class DownCache:
    """An LRU of converted specs (and permanent failures), bounded by entries and bytes."""

    def __init__(self, entries: int = DEFAULT_ENTRIES, max_bytes: int = DEFAULT_BYTES) -> None:
        if entries < 1 or max_bytes < 1:
            raise ValueError("a DownCache needs room for at least one entry and one byte")
        self.entries = entries
        self.max_bytes = max_bytes
        self.bytes = 0
        self.hits = 0
        self.misses = 0
        self._items: OrderedDict[DownKey, tuple[Entry, int]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._items)

    def get(self, key: DownKey) -> Entry | None:
        found = self._items.get(key)
        if found is None:
            self.misses += 1
            return None
        self.hits += 1
        self._items.move_to_end(key)
        return found[0]

    def put(self, key: DownKey, entry: Entry) -> None:
        size = (
            FAILURE_BYTES
            if isinstance(entry, HookFailed | HookModuleRefused)
            else len(encode_document(entry))
        )
        if size > self.max_bytes:
            return  # larger than the whole cache: not kept
        old = self._items.pop(key, None)
        if old is not None:
            self.bytes -= old[1]
        self._items[key] = (entry, size)
        self.bytes += size
        while len(self._items) > self.entries or self.bytes > self.max_bytes:
            _, (_, dropped) = self._items.popitem(last=False)
            self.bytes -= dropped
