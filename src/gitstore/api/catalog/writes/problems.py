"""Why a catalogue write was refused, in the shape of GraphQL ``userErrors``.

A mutation that commits nothing answers with one ``userErrors`` entry per problem: the input
field at fault as a JSON path (``spec.price.amount``, ``manifests[2].metadata.name``,
``expectedVersion``), a message that names it, and a ``UserErrorCode``. Manifest problems
come from the content model as ``ContentError``s (file-relative JSON paths); this module
re-roots them on the mutation's input:

* typed mutations (``upsertProduct``): ``spec.*`` stays, ``metadata.name`` becomes ``name``,
  ``metadata.labels[...]`` / ``metadata.annotations[...]`` become ``labels[...]`` /
  ``annotations[...]``, and a problem with the whole document names ``spec``;
* ``applyManifests``: ``manifests[<i>].`` + the manifest path (``manifests[0].spec.title``),
  or ``manifests[<i>]`` for the whole document (a YAML syntax error, a file over the limit).

The code says what kind of problem it is: ``MALFORMED_MANIFEST`` (cannot be read: YAML/JSON
syntax, frontmatter, encoding, duplicate keys ...), ``TOO_LARGE`` (over
``content.max_manifest_bytes``), ``VALIDATION_FAILED`` (read fine, but breaks the envelope
rules or the kind's schema). The message ends with the line (and column) when the parser knew
it. ``CONFLICT`` and ``IDEMPOTENCY_KEY_REUSED`` are raised by the write pipeline as errors
of their own (:class:`Conflict`, :class:`IdempotencyKeyReused`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from gitstore.domain.content import ContentError
from gitstore.domain.content.errors import MALFORMED_RULES, NOT_A_MAPPING, TOO_LARGE
from gitstore.domain.errors import FailedPrecondition, InvalidArgument, PermanentError

VALIDATION_FAILED = "VALIDATION_FAILED"
MALFORMED_MANIFEST = "MALFORMED_MANIFEST"
TOO_LARGE_CODE = "TOO_LARGE"
CONFLICT = "CONFLICT"
IDEMPOTENCY_KEY_REUSED = "IDEMPOTENCY_KEY_REUSED"

USER_ERROR_CODES: dict[str, str] = {
    VALIDATION_FAILED: "A manifest breaks the envelope rules or its kind's schema; `field` is"
    " the JSON path of the bad value. Nothing was committed.",
    MALFORMED_MANIFEST: "A manifest cannot be read (YAML/JSON syntax, frontmatter, encoding,"
    " duplicate keys). Nothing was committed.",
    TOO_LARGE_CODE: "A manifest is over the size limit (content.max_manifest_bytes)."
    " Nothing was committed.",
    CONFLICT: "The resource changed since expectedVersion (or since the commit to revert);"
    " the message names the current version. Nothing was committed.",
    IDEMPOTENCY_KEY_REUSED: "This idempotency key was used before with a different input.",
}

_MALFORMED_RULES = MALFORMED_RULES


@dataclass(frozen=True, slots=True)
class Problem:
    field: str | None
    message: str
    code: str
    rule: str | None = None  # the content rule, for manifest problems

    def to_user_error(self) -> dict[str, str | None]:
        return {"field": self.field, "message": self.message, "code": self.code, "rule": self.rule}


class WriteRefused(PermanentError):
    """The input was refused before anything was committed; ``problems`` lists every reason."""

    code = VALIDATION_FAILED

    def __init__(self, problems: Iterable[Problem]) -> None:
        self.problems: tuple[Problem, ...] = tuple(problems)
        if not self.problems:
            raise ValueError("WriteRefused needs at least one problem")
        first = self.problems[0]
        super().__init__(first.message, field=first.field)
        self.code = first.code


class Conflict(FailedPrecondition):
    """The resource is not in the state the caller based the change on."""

    code = CONFLICT


class IdempotencyKeyReused(InvalidArgument):
    code = IDEMPOTENCY_KEY_REUSED


def code_for_rule(rule: str, manifest_field: str = "") -> str:
    """The user-error code of a content rule (a part that is not a mapping, e.g. ``spec: []``,
    is a validation problem; a whole document that is not one cannot be read)."""
    if rule == TOO_LARGE:
        return TOO_LARGE_CODE
    if rule == NOT_A_MAPPING and manifest_field:
        return VALIDATION_FAILED
    if rule in _MALFORMED_RULES:
        return MALFORMED_MANIFEST
    return VALIDATION_FAILED


def problem_from_content(error: ContentError, field: str | None) -> Problem:
    message = error.message
    if error.line is not None:
        where = f"line {error.line}"
        if error.column is not None:
            where += f", column {error.column}"
        message = f"{message} ({where})"
    return Problem(field, message, code_for_rule(error.rule, error.field), error.rule)


FieldMapper = Callable[[str], str]


def typed_field(manifest_field: str) -> str:
    """The input field of ``upsert<Kind>`` a manifest field path comes from."""
    if not manifest_field:
        return "spec"
    if manifest_field == "metadata.name":
        return "name"
    for part in ("labels", "annotations"):
        prefix = f"metadata.{part}"
        if manifest_field.startswith(prefix):
            return part + manifest_field[len(prefix) :]
    return manifest_field


def item_field(index: int) -> FieldMapper:
    """Field paths of the ``index``-th manifest of ``applyManifests``."""
    base = f"manifests[{index}]"
    return lambda manifest_field: f"{base}.{manifest_field}" if manifest_field else base


def problems_from_content(errors: Iterable[ContentError], field_of: FieldMapper) -> list[Problem]:
    return [problem_from_content(e, field_of(e.field)) for e in errors]
