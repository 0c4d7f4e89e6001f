"""One repository file, checked on its own: parse, then validate against the kind registry.

Shared by the projection worker (what it projects), commit statuses and the API's push
policy (what pre-receive refuses), so a file is judged the same way everywhere.
``parse_file`` never raises for bad content: it returns a ``Parsed`` holding either the valid
manifest or every ``ContentError`` found (syntax, envelope, path convention, schema, product
rules), so one bad file never stops the caller from looking at the next. Cross-file checks
(references, duplicate identities, unique SKUs) are not applied here.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from gitstore.domain.content.errors import ContentError, ManifestError
from gitstore.domain.content.formats import DEFAULT_MAX_MANIFEST_BYTES, parse_manifest
from gitstore.domain.content.kinds import KindRegistry
from gitstore.domain.content.manifest import Manifest
from gitstore.domain.content.validation import validate_manifest


@dataclass(frozen=True, slots=True)
class Parsed:
    """One file at one blob id: the valid manifest, or why it is not valid."""

    path: str
    blob_id: str
    manifest: Manifest | None
    errors: tuple[ContentError, ...] = ()
    # The parsed document even when it breaks its schema (None: it could not be parsed), so
    # that cross-file checks (references) can still report on it in the same answer.
    document: Manifest | None = None

    @property
    def valid(self) -> bool:
        return self.manifest is not None


def parse_file(
    path: str,
    blob_id: str,
    content: bytes,
    registry: KindRegistry,
    *,
    max_bytes: int = DEFAULT_MAX_MANIFEST_BYTES,
) -> Parsed:
    try:
        manifest = parse_manifest(content, path, max_bytes=max_bytes)
    except ManifestError as err:
        return Parsed(path, blob_id, None, err.errors)
    errors = validate_manifest(manifest, registry)
    if errors:
        return Parsed(path, blob_id, None, tuple(errors), manifest)
    return Parsed(path, blob_id, manifest, (), manifest)


def parse_many(
    items: Iterable[tuple[str, str, bytes]],
    registry: KindRegistry,
    *,
    max_bytes: int = DEFAULT_MAX_MANIFEST_BYTES,
) -> list[Parsed]:
    """``parse_file`` of each ``(path, blob_id, content)``, in order."""
    return [parse_file(p, b, c, registry, max_bytes=max_bytes) for p, b, c in items]
