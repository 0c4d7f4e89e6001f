"""Mutation input -> validated operations, before any I/O.

Everything that can be checked without Git is checked here, and *all* problems are reported
at once (``WriteRefused``), so one round trip tells an agent everything that is wrong:

* the options every catalogue mutation shares (:class:`WriteOptions`): ``idempotencyKey``
  (1-200 printable ASCII characters: it becomes a commit trailer), ``expectedVersion`` (a
  40- or 64-hex commit id), ``message`` (at most 64 KiB, no control characters but tab,
  newline and carriage return), ``indexTimeout`` (seconds, > 0 and at most 60; default 10)
  and ``branch`` (a valid git branch name: ``branch_problem``);
* manifests: built from typed fields (``upsertProduct(name, spec, labels, annotations)``,
  apiVersion = the kind's hub version) or parsed from documents (``applyManifests``: YAML,
  JSON or Markdown text, or a JSON object), then validated against the kind's schema
  (``validate_manifest``) and encoded canonically (``encode_manifest``) with the configured
  size limit (``content.max_manifest_bytes``) — a 10 MB description is ``TOO_LARGE`` here;
* one request names each resource at most once.

:func:`request_hash` fingerprints the input for idempotency: SHA-256 of the canonical JSON
of the mutation name and its input, without ``clientMutationId`` and without the options that
only change how the answer waits (``waitForIndex``, ``indexTimeout``).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from gitstore.domain.content import (
    KindRegistry,
    Manifest,
    ManifestError,
    ManifestFormat,
    encode_manifest,
    parse_manifest,
    validate_manifest,
)
from gitstore.domain.content.manifest import ResourceIdentity
from gitstore.domain.content.text import bad_character
from gitstore.domain.errors import InvalidArgument
from gitstore.domain.publishing import ref_name_problem

from .problems import (
    VALIDATION_FAILED,
    FieldMapper,
    Problem,
    WriteRefused,
    item_field,
    problems_from_content,
    typed_field,
)

DEFAULT_INDEX_TIMEOUT = 10.0
MAX_INDEX_TIMEOUT = 60.0
MAX_MESSAGE_BYTES = 64 * 1024
MAX_MANIFESTS = 10_000  # the git service's limit of actions per commit
_KEY = re.compile(r"[\x21-\x7e](?:[\x20-\x7e]{0,198}[\x21-\x7e])?")
_SHA = re.compile(r"(?:[0-9a-f]{40}|[0-9a-f]{64})")
HEADS = "refs/heads/"
MAX_BRANCH_BYTES = 255
_NOT_HASHED = frozenset({"clientMutationId", "waitForIndex", "indexTimeout"})


@dataclass(frozen=True, slots=True)
class WriteOptions:
    idempotency_key: str | None = None
    expected_version: str | None = None
    dry_run: bool = False
    wait_for_index: bool = False
    index_timeout: float = DEFAULT_INDEX_TIMEOUT
    message: str | None = None
    branch: str | None = None

    @classmethod
    def from_input(cls, data: Mapping[str, Any]) -> WriteOptions:
        """Read and check the shared options of a mutation input (camelCase keys)."""
        problems: list[Problem] = []
        key = data.get("idempotencyKey")
        if key is not None and not _KEY.fullmatch(key):
            problems.append(
                Problem(
                    "idempotencyKey",
                    "idempotencyKey must be 1-200 printable ASCII characters without"
                    " leading or trailing spaces (it is written as a commit trailer)",
                    "INVALID_ARGUMENT",
                )
            )
        expected = data.get("expectedVersion")
        if expected is not None:
            expected = expected.strip().lower()
            if not _SHA.fullmatch(expected):
                problems.append(
                    Problem(
                        "expectedVersion",
                        f"expectedVersion {data['expectedVersion']!r:.80} is not a commit"
                        " SHA (40 or 64 hex digits): pass the `version` a read returned",
                        "INVALID_ARGUMENT",
                    )
                )
        message = data.get("message")
        bad = bad_character(message) if message is not None else None
        if bad is not None:
            problems.append(
                Problem(
                    "message",
                    f"message: {bad[1]} at position {bad[0]} is not allowed (tab, newline"
                    " and carriage return are the only control characters allowed)",
                    "INVALID_ARGUMENT",
                )
            )
        elif message is not None and (
            not message.strip() or len(message.encode()) > MAX_MESSAGE_BYTES
        ):
            problems.append(
                Problem(
                    "message",
                    f"message must be non-blank and at most {MAX_MESSAGE_BYTES} bytes",
                    "INVALID_ARGUMENT",
                )
            )
        timeout = data.get("indexTimeout")
        if timeout is None:
            timeout = DEFAULT_INDEX_TIMEOUT
        elif not 0 < timeout <= MAX_INDEX_TIMEOUT:
            problems.append(
                Problem(
                    "indexTimeout",
                    f"indexTimeout must be more than 0 and at most {MAX_INDEX_TIMEOUT:g}"
                    f" seconds, got {timeout:g}",
                    "INVALID_ARGUMENT",
                )
            )
        branch = data.get("branch")
        if isinstance(branch, str) and branch.strip():
            branch = branch.strip()
            problem = branch_problem(branch)
            if problem is not None:
                problems.append(
                    Problem("branch", f"branch {branch!r:.120} {problem}", "INVALID_ARGUMENT")
                )
        if problems:
            raise WriteRefused(problems)
        return cls(
            idempotency_key=key,
            expected_version=expected,
            dry_run=bool(data.get("dryRun")),
            wait_for_index=bool(data.get("waitForIndex")),
            index_timeout=float(timeout),
            message=message,
            branch=branch or None,
        )


def branch_problem(branch: str) -> str | None:
    """Why ``branch`` (``main`` or ``refs/heads/main``) cannot name a branch, or None: git's
    ``check-ref-format`` rules, not ``HEAD``, no leading ``-``, at most ``MAX_BRANCH_BYTES``."""
    short = branch.removeprefix(HEADS)
    if short == "HEAD" or short.startswith("-"):
        return "is not allowed (HEAD, or starts with '-')"
    if bad_character(short) is not None:
        return "contains a control character or a lone surrogate"
    if len(short.encode()) > MAX_BRANCH_BYTES:
        return f"is longer than {MAX_BRANCH_BYTES} bytes"
    problem = ref_name_problem(HEADS + short)
    return None if problem is None else f"is not a valid git branch name: it {problem}"


@dataclass(frozen=True, slots=True)
class Put:
    """Create or replace one resource with ``manifest``."""

    manifest: Manifest
    fmt: ManifestFormat  # the format of a new file (an existing file keeps its own)
    content: bytes  # canonical bytes in ``fmt``
    field: FieldMapper  # manifest field path -> input field path

    @property
    def identity(self) -> ResourceIdentity:
        return self.manifest.identity


@dataclass(frozen=True, slots=True)
class Remove:
    """Delete one resource (every file that holds it)."""

    kind: str
    name: str
    field: str = "name"

    @property
    def identity(self) -> ResourceIdentity:
        return ResourceIdentity(self.kind, self.name)


Operation = Put | Remove


class ManifestBuilder:
    """Builds and validates manifests against one kind registry and size limit."""

    def __init__(self, registry: KindRegistry, max_bytes: int) -> None:
        self.registry = registry
        self.max_bytes = max_bytes

    def typed(
        self,
        kind: str,
        name: str,
        spec: Any,
        labels: Any = None,
        annotations: Any = None,
        fmt: ManifestFormat = ManifestFormat.YAML,
    ) -> Put:
        """``upsert<Kind>``: a manifest of the kind's hub version from its parts."""
        definition = self.registry.get(kind)
        metadata: dict[str, Any] = {"name": name}
        if labels is not None:
            metadata["labels"] = labels
        if annotations is not None:
            metadata["annotations"] = annotations
        data = {
            "apiVersion": definition.hub_api_version,
            "kind": kind,
            "metadata": metadata,
            "spec": spec,
        }
        return self._check(lambda: Manifest.from_object(data), fmt, typed_field)

    def document(self, index: int, item: Mapping[str, Any]) -> Put:
        """One ``ManifestInput`` of ``applyManifests``: ``{format, content}`` or ``{manifest}``."""
        field = item_field(index)
        content, manifest = item.get("content"), item.get("manifest")
        fmt = ManifestFormat(item.get("format") or ManifestFormat.YAML)
        if (content is None) == (manifest is None):
            raise WriteRefused(
                [
                    Problem(
                        field(""),
                        f"{field('')}: give exactly one of `content` (text in `format`) or"
                        " `manifest` (a JSON object)",
                        "INVALID_ARGUMENT",
                    )
                ]
            )
        if content is not None:
            raw = content.encode("utf-8", "surrogatepass")
            return self._check(
                lambda: parse_manifest(raw, fmt=fmt, max_bytes=self.max_bytes), fmt, field
            )
        return self._check(lambda: Manifest.from_object(manifest), fmt, field)

    def documents(self, items: Sequence[Mapping[str, Any]]) -> list[Put]:
        if not items:
            raise InvalidArgument("manifests must not be empty", field="manifests")
        if len(items) > MAX_MANIFESTS:
            raise InvalidArgument(
                f"at most {MAX_MANIFESTS} manifests per request, got {len(items)}",
                field="manifests",
            )
        puts: list[Put] = []
        problems: list[Problem] = []
        for index, item in enumerate(items):
            try:
                puts.append(self.document(index, item))
            except WriteRefused as refused:
                problems.extend(refused.problems)
        seen: dict[ResourceIdentity, int] = {}
        for index, put in enumerate(puts):
            first = seen.setdefault(put.identity, index)
            if first != index:
                problems.append(
                    Problem(
                        put.field("metadata.name"),
                        f"{put.identity} appears twice in one request (also"
                        f" {puts[first].field('')}); send each resource once",
                        VALIDATION_FAILED,
                    )
                )
        if problems:
            raise WriteRefused(problems)
        return puts

    def _check(self, build: Any, fmt: ManifestFormat, field: FieldMapper) -> Put:
        try:
            manifest: Manifest = build()
            errors = validate_manifest(manifest, self.registry, check_path=False)
            if errors:
                raise ManifestError(errors)
            content = self.encode(manifest, fmt)
        except ManifestError as exc:
            raise WriteRefused(problems_from_content(exc.errors, field)) from None
        return Put(manifest, fmt, content, field)

    def encode(self, manifest: Manifest, fmt: ManifestFormat) -> bytes:
        """Canonical bytes; ``ManifestError`` (too-large) over the limit."""
        schema = self.registry.schema_for(manifest)
        return encode_manifest(manifest, fmt, schema=schema, max_bytes=self.max_bytes)


def request_hash(mutation: str, data: Mapping[str, Any]) -> str:
    """Fingerprint of a mutation input for idempotency (see the module docstring)."""
    kept = {k: v for k, v in data.items() if k not in _NOT_HASHED}
    canonical = json.dumps(
        {"mutation": mutation, "input": kept},
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
        default=str,
    )
    return hashlib.sha256(canonical.encode("utf-8", "surrogatepass")).hexdigest()
