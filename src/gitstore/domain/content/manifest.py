"""The manifest envelope: ``apiVersion``, ``kind``, ``metadata``, ``spec``.

Every resource in a catalogue repository, built-in or custom, has the same envelope::

    apiVersion: gitstore.dev/v1        # <group>/<version>; the group is a DNS subdomain
    kind: Product                      # PascalCase, 1-63 characters
    metadata:
      name: blue-t-shirt               # DNS label: a-z 0-9 -, 1-63 chars, no hyphen at an end
      labels: {team: apparel}          # optional string map, Kubernetes label syntax
      annotations: {note: anything}    # optional string map, any string values
    spec: {...}                        # a mapping, checked against the kind's JSON Schema

``Manifest.from_object`` checks this envelope (nothing of ``spec`` beyond "is a mapping") and
collects every problem it finds, so one round trip tells an author everything that is wrong.
Data the readers built (plain ``dict``s and ``str``s) that is valid as it stands takes a
shorter way to the same manifest (``_plain_envelope``); anything else, the full pass.
``status`` is not part of a manifest: controllers own it and it lives in the resource store,
never in Git. Identity inside a repository is ``(kind, metadata.name)``.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from gitstore.domain.content.errors import (
    INVALID_API_VERSION,
    INVALID_KIND,
    INVALID_LABEL,
    INVALID_NAME,
    INVALID_TYPE,
    MISSING_FIELD,
    NOT_A_MAPPING,
    UNKNOWN_FIELD,
    ContentError,
    ManifestError,
    short_repr,
)
from gitstore.domain.content.yamlio import LazyPositions
from gitstore.domain.identity import dns_label_problem

_DNS_SUBDOMAIN = re.compile(
    r"[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*"
)
_VERSION = re.compile(r"v[1-9][0-9]*(?:(?:alpha|beta)[1-9][0-9]*)?")
_KIND = re.compile(r"[A-Z][A-Za-z0-9]{0,62}")
_LABEL_NAME = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9._-]{0,61}[A-Za-z0-9])?")
_LABEL_VALUE = re.compile(r"(?:[A-Za-z0-9](?:[A-Za-z0-9._-]{0,61}[A-Za-z0-9])?)?")

ENVELOPE_FIELDS = ("apiVersion", "kind", "metadata", "spec")
METADATA_FIELDS = ("name", "labels", "annotations")


@dataclass(frozen=True, slots=True)
class ResourceIdentity:
    """Who a manifest is inside one repository."""

    kind: str
    name: str

    def __str__(self) -> str:
        return f"{self.kind}/{self.name}"


@dataclass(frozen=True, slots=True)
class Manifest:
    """A parsed manifest. Treat it as immutable: ``spec`` is a plain dict for speed.

    ``path`` (where it was read from) and ``positions`` (JSON field path -> 1-based line and
    column in that file) are provenance, not content: they take no part in equality.
    """

    api_version: str
    kind: str
    name: str
    spec: dict[str, Any]
    labels: Mapping[str, str] = field(default_factory=dict)
    annotations: Mapping[str, str] = field(default_factory=dict)
    path: str = field(default="", compare=False)
    positions: Mapping[str, tuple[int, int]] = field(
        default_factory=dict, compare=False, repr=False
    )

    @property
    def identity(self) -> ResourceIdentity:
        return ResourceIdentity(self.kind, self.name)

    @property
    def group(self) -> str:
        return self.api_version.rpartition("/")[0]

    @property
    def version(self) -> str:
        return self.api_version.rpartition("/")[2]

    def to_dict(self) -> dict[str, Any]:
        """The manifest as plain data in canonical envelope order (empty maps left out)."""
        metadata: dict[str, Any] = {"name": self.name}
        if self.labels:
            metadata["labels"] = dict(sorted(self.labels.items()))
        if self.annotations:
            metadata["annotations"] = dict(sorted(self.annotations.items()))
        return {
            "apiVersion": self.api_version,
            "kind": self.kind,
            "metadata": metadata,
            "spec": self.spec,
        }

    def position(self, field_path: str) -> tuple[int, int] | None:
        """Line and column of ``field_path`` or of its nearest written ancestor."""
        probe = field_path
        while probe:
            if probe in self.positions:
                return self.positions[probe]
            probe = _parent(probe)
        return None

    def error(self, field_path: str, rule: str, message: str) -> ContentError:
        """A ``ContentError`` about ``field_path`` of this manifest, with its position."""
        pos = self.position(field_path)
        return ContentError(
            self.path,
            field_path,
            rule,
            message,
            pos[0] if pos else None,
            pos[1] if pos else None,
        )

    @classmethod
    def from_object(
        cls,
        data: Any,
        path: str = "",
        positions: Mapping[str, tuple[int, int]] | None = None,
        *,
        known_name: str | None = None,
    ) -> Manifest:
        """Check the envelope of plain data and build a manifest; raise ``ManifestError``.

        ``known_name``: a name this process has already found to be a DNS label (the worker
        passes the file name ``identity_for_path`` checked); ``metadata.name`` equal to it is
        not checked again. It changes no result: the same check would pass."""
        positions = {} if positions is None else positions
        fields = _plain_envelope(data, known_name)
        if fields is not None:  # plain data our readers return, and nothing to report
            kept = positions if isinstance(positions, LazyPositions) else dict(positions)
            return cls(*fields, path, kept)
        errors: list[ContentError] = []

        def err(fld: str, rule: str, message: str) -> None:
            pos = positions.get(fld)
            errors.append(ContentError(path, fld, rule, message, *(pos if pos else (None, None))))

        if not isinstance(data, Mapping):
            got = "an empty document" if data is None else type_name(data)
            err(
                "",
                NOT_A_MAPPING,
                f"a manifest must be a mapping with apiVersion, kind, metadata and spec, got {got}",
            )
            raise ManifestError(errors)
        for key in data:
            if key not in ENVELOPE_FIELDS:
                err(
                    str(key),
                    UNKNOWN_FIELD,
                    f"{key}: unknown top-level field; a manifest has "
                    "only apiVersion, kind, metadata and spec",
                )
        api_version = _required_str(data, "apiVersion", err)
        if api_version is not None:
            problem = api_version_problem(api_version)
            if problem:
                err("apiVersion", INVALID_API_VERSION, f"apiVersion: {problem}")
        kind = _required_str(data, "kind", err)
        if kind is not None and not _KIND.fullmatch(kind):
            err(
                "kind",
                INVALID_KIND,
                f"kind: {short_repr(kind)} must be PascalCase: a capital "
                "letter, then letters and digits, at most 63 characters",
            )
        name, labels, annotations = _metadata(data, err)
        spec = data.get("spec")
        if "spec" not in data:
            err("spec", MISSING_FIELD, "spec is required")
        elif not isinstance(spec, dict):
            err("spec", NOT_A_MAPPING, f"spec must be a mapping, got {type_name(spec)}")
        if errors:
            raise ManifestError(errors)
        assert api_version is not None and kind is not None and name is not None
        assert isinstance(spec, dict)
        # A lazy mapping stays lazy (positions are read only when reporting an error).
        kept = positions if isinstance(positions, LazyPositions) else dict(positions)
        return cls(api_version, kind, name, spec, labels, annotations, path, kept)


def _plain_envelope(
    data: Any, known_name: str | None = None
) -> tuple[str, str, str, dict[str, Any], dict[str, str], dict[str, str]] | None:
    """``(api_version, kind, name, spec, labels, annotations)`` when ``data`` is a valid
    envelope made of plain ``dict``s and ``str``s (what the YAML and JSON readers build), else
    None: then ``from_object``'s full pass decides and words every problem. It accepts only
    what that pass accepts, with the same result, and skips its per-field bookkeeping (error
    closure, abstract ``Mapping`` checks); ``tests/domain/test_prepare_fast_paths.py``. A kind
    or label value that passed its pattern before is a set lookup (``_remembered``), and a
    name equal to ``known_name`` (a DNS label already, see ``from_object``) is not checked."""
    if type(data) is not dict or len(data) != len(ENVELOPE_FIELDS):
        return None
    # four values of the right types: the four keys are there, so there is no other
    api_version = data.get("apiVersion")
    kind = data.get("kind")
    meta = data.get("metadata")
    spec = data.get("spec")
    if (
        type(api_version) is not str
        or type(kind) is not str
        or type(meta) is not dict
        or type(spec) is not dict
        or (kind not in _GOOD_KINDS and not _remembered(_KIND, _GOOD_KINDS, kind))
        or api_version_problem(api_version) is not None
    ):
        return None
    name = meta.get("name")
    labels = meta.get("labels")
    annotations = meta.get("annotations")
    if (
        type(name) is not str
        # the name, then labels and annotations where present: no other key
        or len(meta) != 1 + ("labels" in meta) + ("annotations" in meta)
        or (name != known_name and dns_label_problem(name) is not None)
    ):
        return None
    labels = {} if labels is None else _plain_map(labels, True)
    annotations = {} if annotations is None else _plain_map(annotations, False)
    if labels is None or annotations is None:
        return None
    return api_version, kind, name, spec, labels, annotations


def _plain_map(value: Any, label_values: bool) -> dict[str, str] | None:
    """``_string_map``'s result for a map (not None) with nothing to report, else None."""
    if type(value) is not dict:
        return None
    for k, v in value.items():
        if (
            type(k) is not str
            or type(v) is not str
            or _label_key_problem(k) is not None
            or (
                label_values
                and v not in _GOOD_LABEL_VALUES
                and not _remembered(_LABEL_VALUE, _GOOD_LABEL_VALUES, v)
            )
        ):
            return None
    return dict(value)


# Kinds and label values that matched their pattern: a commit repeats a few of them many times
_GOOD_KINDS: set[str] = set()
_GOOD_LABEL_VALUES: set[str] = set()
_REMEMBERED = 1024  # strings kept per set


def _remembered(pattern: re.Pattern[str], known: set[str], value: str) -> bool:
    """``pattern.fullmatch(value)``, remembering a match in ``known`` (while it is small) so
    that the next test of the same string is a set lookup."""
    if not pattern.fullmatch(value):
        return False
    if len(known) < _REMEMBERED:
        known.add(value)
    return True


@functools.lru_cache(maxsize=1024)  # a commit repeats the same few api versions
def api_version_problem(value: str) -> str | None:
    """Why ``value`` is not ``<group>/<version>``, or None."""
    group, slash, version = value.rpartition("/")
    if not slash or not group:
        return f"{short_repr(value)} must have the form <group>/<version>, e.g. gitstore.dev/v1"
    if len(group) > 253 or not _DNS_SUBDOMAIN.fullmatch(group):
        return f"group {short_repr(group)} must be a lowercase DNS subdomain, e.g. acme.example"
    if not _VERSION.fullmatch(version):
        return f"version {short_repr(version)} must look like v1, v2beta1 or v3alpha2"
    return None


def group_problem(value: str) -> str | None:
    if len(value) > 253 or not _DNS_SUBDOMAIN.fullmatch(value):
        return f"{short_repr(value)} must be a lowercase DNS subdomain, e.g. acme.example"
    return None


def version_problem(value: str) -> str | None:
    if not _VERSION.fullmatch(value):
        return f"{short_repr(value)} must look like v1, v2beta1 or v3alpha2"
    return None


def kind_problem(value: str) -> str | None:
    if not _KIND.fullmatch(value):
        return f"{short_repr(value)} must be PascalCase: a capital letter, then letters and digits"
    return None


def _required_str(data: Mapping[str, Any], key: str, err: Any) -> str | None:
    if key not in data:
        err(key, MISSING_FIELD, f"{key} is required")
        return None
    value = data[key]
    if not isinstance(value, str):
        err(key, INVALID_TYPE, f"{key}: expected a string, got {type_name(value)}")
        return None
    return value


def _metadata(
    data: Mapping[str, Any], err: Any
) -> tuple[str | None, dict[str, str], dict[str, str]]:
    if "metadata" not in data:
        err("metadata", MISSING_FIELD, "metadata is required (with at least metadata.name)")
        return None, {}, {}
    meta = data["metadata"]
    if not isinstance(meta, Mapping):
        err("metadata", NOT_A_MAPPING, f"metadata must be a mapping, got {type_name(meta)}")
        return None, {}, {}
    for key in meta:
        if key not in METADATA_FIELDS:
            err(
                f"metadata.{key}",
                UNKNOWN_FIELD,
                f"metadata.{key}: unknown field; metadata has only name, labels and annotations",
            )
    name: str | None = None
    if "name" not in meta:
        err("metadata.name", MISSING_FIELD, "metadata.name is required")
    elif not isinstance(meta["name"], str):
        err(
            "metadata.name",
            INVALID_TYPE,
            f"metadata.name: expected a string, got {type_name(meta['name'])}",
        )
    else:
        problem = dns_label_problem(meta["name"])
        if problem:
            err(
                "metadata.name",
                INVALID_NAME,
                f"metadata.name: {short_repr(meta['name'])} is not a valid name: {problem}",
            )
        else:
            name = meta["name"]
    labels = _string_map(meta, "labels", err, check_label=True)
    annotations = _string_map(meta, "annotations", err, check_label=False)
    return name, labels, annotations


def _string_map(
    meta: Mapping[str, Any], key: str, err: Any, *, check_label: bool
) -> dict[str, str]:
    if key not in meta or meta[key] is None:
        return {}
    value = meta[key]
    where = f"metadata.{key}"
    if not isinstance(value, Mapping):
        err(where, NOT_A_MAPPING, f"{where} must be a mapping of strings, got {type_name(value)}")
        return {}
    out: dict[str, str] = {}
    for k, v in value.items():
        if not isinstance(v, str):
            fld = f"{where}[{_q(k)}]"
            err(fld, INVALID_TYPE, f"{fld}: values must be strings (quote it), got {type_name(v)}")
            continue
        problem = _label_key_problem(str(k))
        if problem is None and check_label and not _LABEL_VALUE.fullmatch(v):
            problem = (
                f"value {short_repr(v)} must be at most 63 characters of letters, digits, "
                "'-', '_' and '.', starting and ending with a letter or digit"
            )
        if problem:
            fld = f"{where}[{_q(k)}]"  # worded only for an error: most maps have none
            err(fld, INVALID_LABEL, f"{fld}: {problem}")
            continue
        out[str(k)] = v
    return out


@functools.lru_cache(maxsize=4096)  # label and annotation keys repeat across manifests
def _label_key_problem(key: str) -> str | None:
    prefix, slash, name = key.rpartition("/")
    if slash and (not prefix or len(prefix) > 253 or not _DNS_SUBDOMAIN.fullmatch(prefix)):
        return f"key prefix {short_repr(prefix)} must be a lowercase DNS subdomain"
    if not _LABEL_NAME.fullmatch(name):
        return (
            f"key {short_repr(key)} must be at most 63 characters of letters, digits, '-', "
            "'_' and '.', starting and ending with a letter or digit (optionally prefixed "
            "by a DNS subdomain and '/')"
        )
    return None


def _q(key: Any) -> str:
    return json.dumps(str(key), ensure_ascii=False)


def _parent(path: str) -> str:
    if path.endswith("]"):
        return path[: path.rindex("[")]
    return path.rpartition(".")[0]


def type_name(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, Mapping):
        return "a mapping"
    return type(value).__name__
