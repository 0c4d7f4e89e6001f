"""Turning validated operations into commit actions and a semantic diff, at one branch head.

Given the files that hold each resource at the head (``BranchView.files``):

* **Put** writes the canonical bytes at the resource's *existing* path, keeping its format
  (a product kept as ``products/tee.md`` stays Markdown, re-encoded canonically), or at
  ``path_for(kind, name, format, layout=)`` for a new resource, in the repository's layout
  (``BranchView.layout``; the first commit of a new repository also writes the fan-out
  marker ``.gitstore/layout``). A put whose data equals what is
  stored (compared as data, not text) is no change and makes no action. Two files holding
  one resource (``products/a.yaml`` and ``products/a.json``) are refused: the caller must
  delete one first (``deleteProduct`` removes both).
* **Remove** deletes every file of the resource; none is ``NOT_FOUND`` naming ``name``.

Each change carries ``diff_manifests(old, new)`` (a stored file that no longer parses
diffs as if absent).

``expectedVersion`` (:func:`check_expected_version`): the rule is **the resource's files at
``expectedVersion`` must be exactly its files at the head** — same file names, same blob
ids (created, deleted, moved to another format or edited since are all conflicts; only the
layout directory may differ, so a version from before ``migrateRepositoryLayout`` stays
fresh). It compares content, not history: a resource changed and changed back is not a
conflict, because the caller's view is the current state and nothing it did not see would
be overwritten. A resource that existed at neither commit passes (creating it is safe). The
conflict error names the current version: the last commit on the branch that touched the
resource's file. The check runs at the same head the commit is then compare-and-swapped
against, so nothing can slip in between.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from gitstore.domain.content import (
    LAYOUT_MARKER,
    FieldChange,
    KindRegistry,
    Layout,
    Manifest,
    ManifestError,
    ManifestFormat,
    diff_manifests,
    marker_content,
    parse_manifest,
    path_for,
)
from gitstore.domain.content.manifest import ResourceIdentity
from gitstore.domain.errors import FailedPrecondition, InvalidArgument, NotFound
from gitstore.git.v1 import git_service_pb2 as pb

from .git import BranchView, StoredFile
from .inputs import ManifestBuilder, Operation, Put, Remove
from .problems import Conflict, WriteRefused, problems_from_content

ADDED, MODIFIED, DELETED = "ADDED", "MODIFIED", "DELETED"


@dataclass(frozen=True, slots=True)
class Change:
    """One file changed by a write (or by a commit, in history and reverts)."""

    path: str
    change_type: str  # ADDED | MODIFIED | DELETED
    kind: str | None
    name: str | None
    diff: tuple[FieldChange, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "changeType": self.change_type,
            "kind": self.kind,
            "name": self.name,
            "diff": [c.to_dict() for c in self.diff],
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Change:
        diff = tuple(
            FieldChange(d["path"], d.get("old"), d.get("new"), d["op"]) for d in data["diff"]
        )
        return cls(
            data["path"],
            data["changeType"],
            data.get("kind"),
            data.get("name"),
            diff,
        )


@dataclass(slots=True)
class Plan:
    actions: list[pb.CommitAction] = field(default_factory=list)
    changes: list[Change] = field(default_factory=list)
    schema_versions: set[str] = field(default_factory=set)
    # The resources a put leaves, in the projection's document shape (resources.py); the
    # blob id is filled in once the commit says it (unchanged ones: the stored blob).
    documents: list[dict[str, Any]] = field(default_factory=list)


def parse_stored(stored: StoredFile, max_bytes: int) -> Manifest | None:
    """The manifest in a stored file, or None when it does not parse."""
    try:
        return parse_manifest(stored.content, stored.path, max_bytes=max(max_bytes, 1 << 26))
    except ManifestError:
        return None


def document_value(manifest: Manifest, path: str, blob_id: str) -> dict[str, Any]:
    """The projection's document shape of a written manifest (docs/projection.md)."""
    value = manifest.to_dict()
    metadata = value["metadata"]
    metadata.setdefault("labels", {})
    metadata.setdefault("annotations", {})
    value["path"] = path
    value["blobId"] = blob_id
    return value


def plan_operations(
    operations: Sequence[Operation],
    current: Mapping[ResourceIdentity, list[StoredFile]],
    builder: ManifestBuilder,
    registry: KindRegistry,
    *,
    layout: Layout = Layout.FLAT,
    first_commit: bool = False,
) -> Plan:
    """``layout``: where new resources go; ``first_commit``: the branch has no commit yet,
    so a commit also writes the layout marker (new repositories get the fan-out layout)."""
    plan = Plan()
    for op in operations:
        files = current.get(op.identity, [])
        if isinstance(op, Put):
            _plan_put(op, files, builder, registry, plan, layout)
        else:
            _plan_remove(op, files, builder.max_bytes, plan)
    if first_commit and plan.actions:
        plan.actions.append(
            pb.CommitAction(
                action=pb.ACTION_TYPE_UPSERT, path=LAYOUT_MARKER, content=marker_content(layout)
            )
        )
    return plan


def _plan_put(
    op: Put,
    files: list[StoredFile],
    builder: ManifestBuilder,
    registry: KindRegistry,
    plan: Plan,
    layout: Layout,
) -> None:
    manifest = op.manifest
    if len(files) > 1:
        raise FailedPrecondition(
            f"{op.identity} is stored twice ({', '.join(f.path for f in files)}); delete it"
            " and create it again, or remove one file",
            field=op.field("metadata.name"),
        )
    existing = files[0] if files else None
    old = parse_stored(existing, builder.max_bytes) if existing else None
    if existing is not None and old == manifest:
        plan.documents.append(document_value(manifest, existing.path, existing.blob_id))
        return
    if existing is None:
        path = path_for(manifest.kind, manifest.name, op.fmt, registry, layout=layout)
        content = op.content
    else:
        path = existing.path
        fmt = existing.format
        content = op.content if fmt is op.fmt else _encode(builder, op, fmt)
    plan.actions.append(pb.CommitAction(action=pb.ACTION_TYPE_UPSERT, path=path, content=content))
    plan.schema_versions.add(manifest.api_version)
    plan.changes.append(
        Change(
            path,
            MODIFIED if existing else ADDED,
            manifest.kind,
            manifest.name,
            tuple(diff_manifests(old, manifest)),
        )
    )
    plan.documents.append(document_value(manifest, path, ""))


def _encode(builder: ManifestBuilder, op: Put, fmt: ManifestFormat) -> bytes:
    try:
        return builder.encode(op.manifest, fmt)
    except ManifestError as exc:
        raise WriteRefused(problems_from_content(exc.errors, op.field)) from None


def _plan_remove(op: Remove, files: list[StoredFile], max_bytes: int, plan: Plan) -> None:
    if not files:
        raise NotFound(f"{op.kind} {op.name!r} does not exist", field=op.field)
    for stored in files:
        old = parse_stored(stored, max_bytes)
        plan.actions.append(pb.CommitAction(action=pb.ACTION_TYPE_DELETE, path=stored.path))
        plan.changes.append(
            Change(
                stored.path,
                DELETED,
                op.kind,
                op.name,
                tuple(diff_manifests(old, None)),
            )
        )


async def check_expected_version(
    view: BranchView,
    head: str | None,
    expected: str,
    current: Mapping[ResourceIdentity, list[StoredFile]],
) -> None:
    """``Conflict`` unless every resource's files at ``expected`` equal those at ``head``."""
    try:
        then = await view.files(expected, current.keys())
    except NotFound:
        raise InvalidArgument(
            f"expectedVersion {expected} is not a commit of repository {view.repository_id}",
            field="expectedVersion",
        ) from None
    for identity, now_files in current.items():
        then_files = then.get(identity, [])
        if _same_files(then_files, now_files):
            continue
        paths = sorted({f.path for f in [*then_files, *now_files]})
        before, after = then_files, now_files
        last = None
        if head is not None:
            for path in paths:
                info = await view.last_change(head, path)
                if info is not None and (last is None or _newer(info, last)):
                    last = info
        current_version = last.sha if last is not None else head
        what = "was deleted" if before and not after else "changed"
        if not before:
            what = "was created"
        raise Conflict(
            f"{identity} {what} since expectedVersion {expected[:12]}: its current version"
            f" is {current_version} (read it again and retry with that version)",
            field="expectedVersion",
        )


def _same_files(a: Sequence[StoredFile], b: Sequence[StoredFile]) -> bool:
    """Same file names (format) and blob ids: a move between layouts changes neither."""

    def key(files: Sequence[StoredFile]) -> set[tuple[str, str]]:
        return {(f.path.rsplit("/", 1)[-1], f.blob_id) for f in files}

    return key(a) == key(b)


def _newer(a: pb.CommitInfo, b: pb.CommitInfo) -> bool:
    return a.committer.time > b.committer.time
