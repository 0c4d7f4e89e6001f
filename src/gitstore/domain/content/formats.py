"""Reading and writing manifest files: YAML, JSON and Markdown with YAML frontmatter.

``parse_manifest(raw, path)`` picks the format from the file extension (or ``fmt=``), refuses
input over ``max_bytes`` *before* parsing it (default ``DEFAULT_MAX_MANIFEST_BYTES`` = 1 MiB;
callers pass their configured limit), requires UTF-8 (a leading BOM is dropped), parses with
the safe rules of ``yamlio`` (or ``json`` with duplicate keys, ``NaN`` and infinities refused),
and checks the envelope (``Manifest.from_object``). Every failure is a ``ManifestError`` whose
``ContentError``s carry the rule, the field and, where the parser knows it, line and column.

Markdown (``.md``)::

    ---
    <YAML: apiVersion, kind, metadata, spec>
    ---
    <body>

The first line must be ``---``; the frontmatter ends at the next line that is ``---``. Line
endings are normalised to ``\\n``. The body with its leading and trailing blank lines removed
becomes ``spec.description`` (for every kind; a kind that accepts Markdown files declares a
``description`` string). An empty body sets nothing; a body *and* a ``spec.description`` in the
frontmatter is an error (``description-conflict``).

``encode_manifest`` writes canonical bytes: envelope keys in the order apiVersion, kind,
metadata (name, labels, annotations), spec; spec keys in the order the kind's JSON Schema
declares its properties (others sorted), so equal manifests give byte-equal files and the API's
commits are reproducible. ``parse_manifest(encode_manifest(m, f), ...) == m`` for every format.
In Markdown, ``spec.description`` is written as the body when it is a non-empty string without
leading or trailing newlines or carriage returns; otherwise it stays in the frontmatter.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from enum import StrEnum
from typing import Any

from gitstore.domain.content.errors import (
    DESCRIPTION_CONFLICT,
    DUPLICATE_KEY,
    ENCODING,
    FRONTMATTER_MISSING,
    FRONTMATTER_UNCLOSED,
    INVALID_PATH,
    INVALID_VALUE,
    JSON_SYNTAX,
    TOO_DEEP,
    TOO_LARGE,
    ContentError,
    ManifestError,
)
from gitstore.domain.content.manifest import Manifest
from gitstore.domain.content.schemas import canonical_order
from gitstore.domain.content.yamlio import (
    MAX_DEPTH,
    LazyPositions,
    Positions,
    YamlProblem,
    dump_yaml,
    load_yaml,
)

DEFAULT_MAX_MANIFEST_BYTES = 1024 * 1024

DESCRIPTION_FIELD = "description"


class ManifestFormat(StrEnum):
    YAML = "yaml"
    JSON = "json"
    MARKDOWN = "markdown"

    @property
    def extension(self) -> str:
        """The extension written for this format (``.yml`` is read, never written)."""
        return _WRITE_EXTENSIONS[self]


_WRITE_EXTENSIONS = {
    ManifestFormat.YAML: ".yaml",
    ManifestFormat.JSON: ".json",
    ManifestFormat.MARKDOWN: ".md",
}
EXTENSIONS: dict[str, ManifestFormat] = {
    ".yaml": ManifestFormat.YAML,
    ".yml": ManifestFormat.YAML,
    ".json": ManifestFormat.JSON,
    ".md": ManifestFormat.MARKDOWN,
}


def format_for_path(path: str) -> ManifestFormat | None:
    """The format a file extension means, or None if it is not a manifest extension."""
    dot = path.rfind(".")  # the extension starts after the file name's first character
    return EXTENSIONS.get(path[dot:]) if dot > path.rfind("/") + 1 else None


def check_size(size: int, max_bytes: int, path: str = "") -> None:
    """Raise ``ManifestError`` (rule ``too-large``) when ``size`` bytes exceed ``max_bytes``."""
    if size > max_bytes:
        raise ManifestError(
            [
                ContentError(
                    path,
                    "",
                    TOO_LARGE,
                    f"manifest is {size:,} bytes, over the limit of {max_bytes:,} bytes "
                    f"({_human(max_bytes)}) per manifest",
                )
            ]
        )


def parse_manifest(
    raw: bytes | str,
    path: str = "",
    *,
    fmt: ManifestFormat | None = None,
    max_bytes: int = DEFAULT_MAX_MANIFEST_BYTES,
    known_name: str | None = None,
) -> Manifest:
    """Parse one manifest file; raise ``ManifestError`` with every problem found.
    ``known_name``: see ``Manifest.from_object``."""
    data = raw.encode() if isinstance(raw, str) else raw
    if len(data) > max_bytes:
        check_size(len(data), max_bytes, path)
    if fmt is None:
        fmt = format_for_path(path)
        if fmt is None:
            exts = ", ".join(EXTENSIONS)
            raise ManifestError(
                [ContentError(path, "", INVALID_PATH, f"not a manifest file: use one of {exts}")]
            )
    text = _decode(data, path)
    positions: Positions | LazyPositions = {}
    try:
        if fmt is ManifestFormat.JSON:
            obj = _load_json(text)
        elif fmt is ManifestFormat.MARKDOWN:
            obj, positions = _load_markdown(text)
        else:
            obj, positions = load_yaml(text, lazy_positions=True)
    except YamlProblem as problem:
        raise ManifestError(
            [ContentError(path, "", problem.rule, problem.message, problem.line, problem.column)]
        ) from None
    return Manifest.from_object(obj, path, positions, known_name=known_name)


def encode_manifest(
    manifest: Manifest,
    fmt: ManifestFormat = ManifestFormat.YAML,
    *,
    schema: Mapping[str, Any] | None = None,
    max_bytes: int | None = None,
) -> bytes:
    """Canonical bytes of ``manifest``; ``schema`` (the kind's spec schema) fixes key order."""
    if max_bytes is not None:  # fail fast: text alone over the limit never gets encoded
        check_size(_text_size(manifest.spec), max_bytes, manifest.path)
    doc = manifest.to_dict()
    doc["spec"] = canonical_order(manifest.spec, schema)
    if fmt is ManifestFormat.JSON:
        out = json.dumps(doc, indent=2, ensure_ascii=False, allow_nan=False) + "\n"
    elif fmt is ManifestFormat.MARKDOWN:
        spec = doc["spec"]
        body = spec.get(DESCRIPTION_FIELD)
        if isinstance(body, str) and body and body == body.strip("\r\n") and "\r" not in body:
            doc["spec"] = {k: v for k, v in spec.items() if k != DESCRIPTION_FIELD}
            out = f"---\n{dump_yaml(doc)}---\n\n{body}\n"
        else:
            out = f"---\n{dump_yaml(doc)}---\n"
    else:
        out = dump_yaml(doc)
    encoded = out.encode()
    if max_bytes is not None:
        check_size(len(encoded), max_bytes, manifest.path)
    return encoded


def _decode(data: bytes, path: str) -> str:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as err:
        line = data[: err.start].count(b"\n") + 1
        raise ManifestError(
            [
                ContentError(
                    path,
                    "",
                    ENCODING,
                    f"manifest must be UTF-8: invalid byte 0x{data[err.start]:02x} at offset "
                    f"{err.start}",
                    line,
                    None,
                )
            ]
        ) from None
    return text.removeprefix("\ufeff")


def _load_markdown(text: str) -> tuple[Any, Positions | LazyPositions]:
    lines = text.replace("\r\n", "\n").split("\n")
    if lines[0].rstrip() != "---":
        raise YamlProblem(
            FRONTMATTER_MISSING,
            "a Markdown manifest must start with a '---' line, then the YAML frontmatter "
            "(apiVersion, kind, metadata, spec), then a closing '---' line",
            1,
            1,
        )
    close = next((i for i in range(1, len(lines)) if lines[i].rstrip() == "---"), None)
    if close is None:
        raise YamlProblem(
            FRONTMATTER_UNCLOSED,
            "the YAML frontmatter opened on line 1 is never closed: add a '---' line after it",
            1,
            1,
        )
    obj, positions = load_yaml("\n".join(lines[1:close]) + "\n", line_offset=1, lazy_positions=True)
    body_lines = lines[close + 1 :]
    body = "\n".join(body_lines).strip("\n")
    if body and isinstance(obj, dict):
        spec = obj.setdefault("spec", {})
        if isinstance(spec, dict):
            if DESCRIPTION_FIELD in spec:
                line, col = positions.get("spec.description", (close + 2, 1))
                raise YamlProblem(
                    DESCRIPTION_CONFLICT,
                    "spec.description: set both in the frontmatter and as the Markdown body; "
                    "keep one",
                    line,
                    col,
                )
            spec[DESCRIPTION_FIELD] = body
            first = next(i for i, ln in enumerate(body_lines) if ln.strip("\n"))
            positions["spec.description"] = (close + 2 + first, 1)
    return obj, positions


def _load_json(text: str) -> Any:
    def pairs(items: list[tuple[str, Any]]) -> dict[str, Any]:
        out = dict(items)
        if len(out) == len(items):
            return out
        seen: set[str] = set()
        for key, _ in items:  # report the first key that repeats
            if key in seen:
                break
            seen.add(key)
        raise YamlProblem(
            DUPLICATE_KEY, f"duplicate key {key!r} (each key may appear only once in an object)"
        )

    def constant(name: str) -> Any:
        raise YamlProblem(INVALID_VALUE, f"{name} is not a valid JSON number")

    overflowed: list[str] = []

    def number(literal: str) -> float:
        value = float(literal)
        if not math.isfinite(value):
            overflowed.append(literal)
        return value

    try:
        obj = json.loads(text, object_pairs_hook=pairs, parse_constant=constant, parse_float=number)
    except json.JSONDecodeError as err:
        raise YamlProblem(JSON_SYNTAX, f"invalid JSON: {err.msg}", err.lineno, err.colno) from None
    except RecursionError:
        raise YamlProblem(TOO_DEEP, f"nesting is deeper than {MAX_DEPTH} levels") from None
    # Nesting is at most the number of opening brackets: the tree is walked (for the first
    # problem in tree order) only when a number overflowed or it could be too deep.
    if overflowed or text.count("{") + text.count("[") > MAX_DEPTH:
        _check_json(obj, 0)
    return obj


def _check_json(value: Any, depth: int) -> None:
    if depth > MAX_DEPTH:
        raise YamlProblem(TOO_DEEP, f"nesting is deeper than {MAX_DEPTH} levels")
    if isinstance(value, float) and not math.isfinite(value):
        raise YamlProblem(INVALID_VALUE, "numbers must be finite (a number overflowed)")
    if isinstance(value, dict):
        for item in value.values():
            _check_json(item, depth + 1)
    elif isinstance(value, list):
        for item in value:
            _check_json(item, depth + 1)


def _text_size(value: Any) -> int:
    """A lower bound of the encoded size: the UTF-8 length of every string in ``value``."""
    if isinstance(value, str):
        return len(value) if value.isascii() else len(value.encode())
    if isinstance(value, dict):
        return sum(_text_size(k) + _text_size(v) for k, v in value.items())
    if isinstance(value, list):
        return sum(_text_size(v) for v in value)
    return 0


def _human(n: int) -> str:
    for unit, size in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n >= size:
            value = n / size
            return f"{value:g} {unit}" if value == int(value) else f"{value:.1f} {unit}"
    return f"{n} bytes"
