"""What the projection writes into the KV store, as pure functions (no I/O).

The parser worker writes these shapes and the API reads them, and neither imports the other,
so both build on this module (see docs/projection.md):

* **Documents.** A repository's default branch is projected into the channel ``draft``
  (``ChannelScope(repo, "draft")``). A valid manifest becomes the document
  ``(document_kind(kind), metadata.name)`` whose value is :func:`document_value`: the
  manifest envelope (``apiVersion``, ``kind``, ``metadata`` with ``labels`` and
  ``annotations`` always present, ``spec`` exactly as written) plus its ``path`` and
  ``blobId``. The KV stamps it with the head commit that wrote it (``Document.version``).
* **Indexes** (:func:`document_indexes`): products by ``category``, ``collection``,
  ``handle``, ``status`` and the composites ``category-status`` / ``collection-status``
  (``"<name>|<status>"``); categories by ``parent``; collections by ``selection``
  (``rules`` or ``products``); other kinds none. A product's ``collection`` entries also hold
  the rule-based collections it matches: the worker adds them (``worker/collections.py``),
  as they depend on other documents.
* **Commit statuses.** ``ChannelScope(repo, "status")``, kind ``commit``, name = the commit
  SHA, value :func:`status_value`. No document means ``PENDING`` (not checked yet);
  :func:`commit_status` turns a stored value (or None) into a :class:`CommitStatus`.
* **Heads.** The draft head's version is the newest commit fully materialised. While a large
  projection is being written in chunks the head's sequence moves first (a *claim*) with the
  version left at the previous commit — or :data:`NO_VERSION` (all zeros) before the first
  projection finished; :func:`materialised_version` maps that to None ("nothing yet").
  The claim's bookkeeping document has kind :data:`PROJECTION_KIND`, which is never a
  catalogue kind (manifest kinds have no dots).
* **Draft buffers.** A commit is visible all or nothing: ``draft`` and ``draft-b`` are two
  buffers and the alias :data:`DRAFT_VIEW` points at the one readers see (no alias: ``draft``,
  as before buffers existed). A commit that fits one batch is written into the visible buffer
  in that one atomic batch; a larger one fills the other buffer (chunks under a claim, its head
  version hidden) and then re-points the alias by a guarded switch (``worker/draft_switch.py``).
  Readers of the DRAFT channel (and of LIVE of an ``ON_COMMIT`` repository) resolve the alias
  once per request: :func:`draft_view`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from gitstore.domain.content.rules import rule_set
from gitstore.domain.keys import DRAFT, ChannelScope

STATUS_CHANNEL = "status"
COMMIT_STATUS_KIND = "commit"
PROJECTION_KIND = "gitstore.projection"
PROJECTION_MARKER = "pending"
NO_VERSION = "0" * 40
DRAFT_VIEW = "draft-view"  # alias: the draft buffer readers see
DRAFT_BUFFERS = (DRAFT, "draft-b")

VALID = "VALID"
INVALID = "INVALID"
PENDING = "PENDING"
CommitState = Literal["VALID", "INVALID", "PENDING"]

DEFAULT_PRODUCT_STATUS = "draft"


def draft_scope(repository: str) -> ChannelScope:
    """Where the default branch of ``repository`` is projected."""
    return ChannelScope(repository, DRAFT)


def draft_view(resolved: ChannelScope) -> ChannelScope:
    """The draft buffer readers see, from ``kv.resolve(repo, DRAFT_VIEW)``: the alias target,
    or ``draft`` when there is no alias."""
    if resolved.channel == DRAFT_VIEW:
        return draft_scope(resolved.repository)
    return resolved


def standby_draft(visible: ChannelScope) -> ChannelScope:
    """The draft buffer readers do not see, given the one they see."""
    other = DRAFT_BUFFERS[1] if visible.channel == DRAFT_BUFFERS[0] else DRAFT_BUFFERS[0]
    return ChannelScope(visible.repository, other)


def status_scope(repository: str) -> ChannelScope:
    """Where the commit statuses of ``repository`` live."""
    return ChannelScope(repository, STATUS_CHANNEL)


def document_kind(manifest_kind: str) -> str:
    """The KV kind of a manifest kind: ``Product`` -> ``product``."""
    return manifest_kind.lower()


def materialised_version(head_version: str | None) -> str | None:
    """The commit a channel head says is fully projected; None for no head or a first claim."""
    if not head_version or head_version == NO_VERSION:
        return None
    return head_version


def document_value(
    *,
    api_version: str,
    kind: str,
    name: str,
    spec: Mapping[str, Any],
    labels: Mapping[str, str],
    annotations: Mapping[str, str],
    path: str,
    blob_id: str,
) -> dict[str, Any]:
    """The JSON value of a projected document (see the module docstring)."""
    return {
        "apiVersion": api_version,
        "kind": kind,
        "metadata": {
            "name": name,
            # one entry or none (most maps) is in order already
            "labels": dict(sorted(labels.items()) if len(labels) > 1 else labels),
            "annotations": dict(
                sorted(annotations.items()) if len(annotations) > 1 else annotations
            ),
        },
        "spec": spec,
        "path": path,
        "blobId": blob_id,
    }


def _names(value: Any) -> list[str]:
    if not value or not isinstance(value, list):
        return []
    return [item for item in value if isinstance(item, str) and item]


def document_indexes(kind: str, name: str, spec: Mapping[str, Any]) -> dict[str, list[str]]:
    """The secondary index entries of a document of manifest kind ``kind``, index names in
    sorted order (the KV's canonical order: ``encode_upsert`` then has none to sort)."""
    if kind == "Product":
        status = spec.get("status")
        if not isinstance(status, str) or not status:
            status = DEFAULT_PRODUCT_STATUS
        handle = spec.get("handle")
        categories = _names(spec.get("categories"))
        collections = _names(spec.get("collections"))
        suffix = "|" + status
        return {
            "category": categories,
            "category-status": [c + suffix for c in categories] if categories else [],
            "collection": collections,
            "collection-status": [c + suffix for c in collections] if collections else [],
            "handle": [handle if isinstance(handle, str) and handle else name],
            "status": [status],
        }
    if kind == "Category":
        parent = spec.get("parent")
        return {"parent": [parent]} if isinstance(parent, str) and parent else {}
    if kind == "Collection":  # the projection finds the rule-based ones by it
        return {"selection": ["rules" if rule_set(spec) is not None else "products"]}
    return {}


# ---------------------------------------------------------------------- commit statuses


def status_error(
    *,
    path: str,
    field: str,
    rule: str,
    message: str,
    line: int | None = None,
    column: int | None = None,
) -> dict[str, Any]:
    """One error of a commit status: ``{path, field, rule, message, line, column}``."""
    return {
        "path": path,
        "field": field,
        "rule": rule,
        "message": message,
        "line": line,
        "column": column,
    }


def status_value(commit: str, errors: list[dict[str, Any]], checked_at: str) -> dict[str, Any]:
    """The stored value of a commit status: INVALID when there is any error."""
    return {
        "state": INVALID if errors else VALID,
        "commit": commit,
        "checkedAt": checked_at,
        "errors": errors,
    }


@dataclass(frozen=True, slots=True)
class CommitStatus:
    """A commit's validation result as the API reports it."""

    commit: str
    state: CommitState
    checked_at: str | None = None
    errors: list[dict[str, Any]] = field(default_factory=list)


def commit_status(commit: str, value: Mapping[str, Any] | None) -> CommitStatus:
    """The status of ``commit`` from its stored value; ``PENDING`` when there is none."""
    if value is None:
        return CommitStatus(commit, "PENDING")
    raw = value.get("state")
    state: CommitState = "VALID" if raw == VALID else "INVALID" if raw == INVALID else "PENDING"
    errors = value.get("errors")
    checked = value.get("checkedAt")
    return CommitStatus(
        commit,
        state,
        checked if isinstance(checked, str) else None,
        [dict(e) for e in errors if isinstance(e, Mapping)] if isinstance(errors, list) else [],
    )
