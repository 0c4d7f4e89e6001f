"""Parsing and validating fetched files, and turning valid ones into KV upserts.

``parse_file`` never raises for bad content: it returns a ``Parsed`` holding either the
valid manifest or every ``ContentError`` found (syntax, envelope, path convention, schema,
product rules), so one bad file never stops a projection. Cross-file checks (references,
duplicate handles, unique SKUs) are not applied here: a file is projected when it is valid
on its own; two files claiming one identity are caught by the change plan (``changes``).

``prepare_many`` is what the projector runs away from the event loop (a thread) per chunk:
parse, validate and also *encode* each valid file into its KV write (``encode_upsert``: the
compact JSON body and the canonical index entries), so the loop only adds finished upserts to
a batch while the next chunk is being prepared. The body is encoded *before* validation
(``backends/kv/bodies.encode_body``: ``orjson`` where it writes ``json``'s bytes) and the
text rule reads it instead of writing a JSON text of its own (``validate_manifest(...,
encoded=body)``); the result is exactly ``parse_file`` then ``encode_upsert``
(``tests/worker/test_prepare_body.py``). ``parse_many`` (parse and validate only) is what
commit statuses need; both live in ``gitstore.domain.content.files`` (shared with the
API's push policy) and are re-exported here.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from gitstore.backends.kv import Upsert, encode_body, encode_upsert
from gitstore.domain.content import DEFAULT_MAX_MANIFEST_BYTES, ContentError, KindRegistry
from gitstore.domain.content.errors import ManifestError
from gitstore.domain.content.files import Parsed, parse_file, parse_many
from gitstore.domain.content.formats import parse_manifest
from gitstore.domain.content.manifest import Manifest
from gitstore.domain.content.paths import PathIdentity
from gitstore.domain.content.validation import validate_manifest
from gitstore.domain.conversion.hub import spoke_of
from gitstore.domain.projection import (
    document_indexes,
    document_kind,
    document_value,
    status_error,
)

__all__ = [
    "Parsed",
    "Prepared",
    "error_dicts",
    "parse_file",
    "parse_many",
    "prepare_file",
    "prepare_many",
    "upsert_args",
]


@dataclass(frozen=True, slots=True)
class Prepared:
    """One file made ready to write: its KV upsert when valid, else why it is not."""

    path: str
    blob_id: str
    upsert: Upsert | None
    errors: tuple[ContentError, ...] = ()
    # valid, but written in a spoke version: converted to the hub (``worker.hub``) before
    # it is written or cached
    pending: Manifest | None = None


def prepare_file(
    path: str,
    blob_id: str,
    content: bytes,
    registry: KindRegistry,
    *,
    max_bytes: int = DEFAULT_MAX_MANIFEST_BYTES,
    identity: PathIdentity | None = None,
) -> Prepared:
    """``parse_file``, then the valid manifest's KV upsert (``InvalidArgument`` if the KV
    refuses it, as ``Batch.upsert`` would). ``identity``: ``identity_for_path(path,
    registry)`` when the caller has it (the plan's ``FileAt.identity``, also when a prepare
    pool process gets it with its chunk); its name, a DNS label that function checked, is not
    checked again as ``metadata.name`` when the two are equal (``Manifest.from_object``'s
    ``known_name``)."""
    try:
        manifest = parse_manifest(
            content,
            path,
            max_bytes=max_bytes,
            known_name=None if identity is None else identity.name,
        )
    except ManifestError as err:
        return Prepared(path, blob_id, None, err.errors)
    value = _value(manifest, path, blob_id)
    try:
        body: bytes | None = encode_body(value)
    except (TypeError, ValueError):  # not JSON: the text rule looks itself, encode_upsert raises
        body = None
    errors = validate_manifest(manifest, registry, encoded=body, identity=identity)
    if errors:
        return Prepared(path, blob_id, None, tuple(errors))
    if spoke_of(manifest, registry) is not None:
        return Prepared(path, blob_id, None, pending=manifest)
    indexes = document_indexes(manifest.kind, manifest.name, manifest.spec)
    kind = document_kind(manifest.kind)
    # the envelope found metadata.name a DNS label (or equal to the file name the plan did)
    upsert = encode_upsert(
        kind, manifest.name, value, indexes=indexes, body=body, name_is_dns_label=True
    )
    return Prepared(path, blob_id, upsert)


def prepare_many(
    items: Iterable[tuple[str, str, bytes]],
    registry: KindRegistry,
    *,
    max_bytes: int = DEFAULT_MAX_MANIFEST_BYTES,
    identities: Sequence[PathIdentity | None] | None = None,
) -> list[Prepared]:
    """``prepare_file`` of each ``(path, blob_id, content)``, in order; ``identities``: the
    path identity of each, where known (same order and length as ``items``)."""
    if identities is None:
        return [prepare_file(p, b, c, registry, max_bytes=max_bytes) for p, b, c in items]
    files = list(items)
    if len(identities) != len(files):
        raise ValueError(f"{len(identities)} identities for {len(files)} files")
    return [
        prepare_file(p, b, c, registry, max_bytes=max_bytes, identity=i)
        for (p, b, c), i in zip(files, identities, strict=True)
    ]


def upsert_args(parsed: Parsed) -> tuple[str, str, dict[str, Any], dict[str, list[str]]]:
    """``(kv kind, name, document value, indexes)`` of a valid file."""
    m = parsed.manifest
    assert m is not None, "only valid files are projected"
    value = _value(m, parsed.path, parsed.blob_id)
    return document_kind(m.kind), m.name, value, document_indexes(m.kind, m.name, m.spec)


def _value(m: Manifest, path: str, blob_id: str) -> dict[str, Any]:
    return document_value(
        api_version=m.api_version,
        kind=m.kind,
        name=m.name,
        spec=m.spec,
        labels=m.labels,
        annotations=m.annotations,
        path=path,
        blob_id=blob_id,
    )


def error_dicts(errors: Iterable[ContentError]) -> list[dict[str, Any]]:
    """Content errors in the commit-status shape."""
    return [
        status_error(
            path=e.path,
            field=e.field,
            rule=e.rule,
            message=e.message,
            line=e.line,
            column=e.column,
        )
        for e in errors
    ]
