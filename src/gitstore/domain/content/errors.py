"""Structured content errors: one shape for every way a manifest can be wrong.

Parsing, the path convention, schema validation and the tree checks all report problems as
``ContentError`` values: the file ``path`` in the repository (empty for input that is not a
file yet, e.g. a GraphQL mutation argument), the JSON ``field`` path of the bad value in the
form GraphQL ``userErrors.field`` reports (``spec.variants[1].price.amount``; empty for the
whole document), the ``rule`` that was broken (a JSON Schema keyword such as ``required`` or
``pattern`` for schema errors, a short kebab-case name such as ``yaml-syntax`` for the rest),
a human ``message`` that names the field, and the 1-based ``line``/``column`` when known.

Functions that can only fail (parsing) raise ``ManifestError``, an ``InvalidArgument`` carrying
the whole list; functions that check (validation, references) return the list.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from gitstore.domain.errors import InvalidArgument

# Rules that are not JSON Schema keywords.
TOO_LARGE = "too-large"
ENCODING = "encoding"
YAML_SYNTAX = "yaml-syntax"
JSON_SYNTAX = "json-syntax"
DUPLICATE_KEY = "duplicate-key"
MULTIPLE_DOCUMENTS = "multiple-documents"
YAML_ALIAS = "yaml-alias"
YAML_TAG = "yaml-tag"
TOO_DEEP = "too-deep"
INVALID_VALUE = "invalid-value"
FRONTMATTER_MISSING = "frontmatter-missing"
FRONTMATTER_UNCLOSED = "frontmatter-unclosed"
DESCRIPTION_CONFLICT = "description-conflict"
NOT_A_MAPPING = "not-a-mapping"
MISSING_FIELD = "missing-field"
UNKNOWN_FIELD = "unknown-field"
INVALID_TYPE = "invalid-type"
INVALID_NAME = "invalid-name"
INVALID_API_VERSION = "invalid-api-version"
INVALID_KIND = "invalid-kind"
INVALID_LABEL = "invalid-label"
INVALID_PATH = "invalid-path"
LAYOUT = "layout"
IDENTITY_MISMATCH = "identity-mismatch"
UNKNOWN_KIND = "unknown-kind"
UNKNOWN_VERSION = "unknown-version"
REFERENCE = "reference"
CYCLE = "cycle"
DUPLICATE = "duplicate"
UNIQUE = "unique"
SCHEMA = "schema"
KIND_DEFINITION = "kind-definition"
CURRENCY_MISMATCH = "currency-mismatch"
OPTION = "option"
INVALID_CHARACTER = "invalid-character"

# Rules meaning "the file cannot be read" (as opposed to "read, but wrong"): GraphQL reports
# them as MALFORMED_MANIFEST, the push policy as rule "parse".
MALFORMED_RULES = frozenset(
    {
        ENCODING,
        YAML_SYNTAX,
        JSON_SYNTAX,
        DUPLICATE_KEY,
        MULTIPLE_DOCUMENTS,
        YAML_ALIAS,
        YAML_TAG,
        TOO_DEEP,
        INVALID_VALUE,
        FRONTMATTER_MISSING,
        FRONTMATTER_UNCLOSED,
        DESCRIPTION_CONFLICT,
        NOT_A_MAPPING,
    }
)

_MAX_SHOWN = 5


@dataclass(frozen=True, slots=True)
class ContentError:
    """One problem with one file (or one input document)."""

    path: str
    field: str
    rule: str
    message: str
    line: int | None = None
    column: int | None = None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready form, e.g. for ``commitStatus { errors }`` and ``remote:`` lines."""
        out: dict[str, Any] = {
            "path": self.path,
            "field": self.field,
            "rule": self.rule,
            "message": self.message,
        }
        if self.line is not None:
            out["line"] = self.line
            out["column"] = self.column
        return out

    def __str__(self) -> str:
        where = self.path or "<input>"
        if self.line is not None:
            where += f":{self.line}"
            if self.column is not None:
                where += f":{self.column}"
        return f"{where}: {self.message} [{self.rule}]"


class ManifestError(InvalidArgument):
    """A manifest (or a path) was refused; ``errors`` says every reason found."""

    def __init__(self, errors: Iterable[ContentError]) -> None:
        self.errors: tuple[ContentError, ...] = tuple(errors)
        if not self.errors:
            raise ValueError("ManifestError needs at least one ContentError")
        shown = "; ".join(str(e) for e in self.errors[:_MAX_SHOWN])
        more = len(self.errors) - _MAX_SHOWN
        if more > 0:
            shown += f"; and {more} more"
        super().__init__(shown, field=self.errors[0].field or None)

    @property
    def rules(self) -> list[str]:
        return [e.rule for e in self.errors]


def short_repr(value: Any, limit: int = 60) -> str:
    """``repr`` of a value for a message, cut so that a 10 MB string never lands in a log."""
    text = repr(value)
    if len(text) > limit:
        text = text[: limit - 3] + "..."
    return text


def field_path(parts: Iterable[str | int]) -> str:
    """Join path parts as GraphQL userErrors report them: ``spec.variants[1].price.amount``.

    Keys that are not plain identifiers are quoted JSON-style: ``spec.attributes["pack size"]``.
    """
    out = ""
    for part in parts:
        out = child_path(out, part)
    return out


def child_path(parent: str, part: str | int) -> str:
    """``parent`` extended by one key or list index, in ``field_path`` syntax."""
    if isinstance(part, int):
        return f"{parent}[{part}]"
    if _IDENTIFIER.match(part):
        return f"{parent}.{part}" if parent else part
    return f"{parent}[{json.dumps(part, ensure_ascii=False)}]"


_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*\Z", re.ASCII)
