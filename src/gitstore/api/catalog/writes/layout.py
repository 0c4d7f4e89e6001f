"""``migrateRepositoryLayout``: move every manifest of a flat repository to the fan-out
layout in one commit (docs/content-model.md, Layouts).

The rule of what moves where is the domain's (``layout_moves``); this module reads the
branch head, commits the moves (``MOVE`` actions: no blob is re-sent, contents unchanged)
plus the marker ``.gitstore/layout`` (``fanout``), and answers how many files moved.

* **Who**: maintainers and owners of the namespace, the creator of a USER namespace and
  admins (``Standing.can_administer``); readers and writers get ``PERMISSION_DENIED``,
  callers who cannot see the repository ``NOT_FOUND``.
* **Idempotent**: a branch that already says ``fanout`` and has no flat manifest left makes
  no commit (``committed: false``); a branch without commits is fan-out already.
* **Race-free**: the commit is compare-and-swapped against the head it was planned at, with
  every kind directory as a read path, so a concurrent write in any of them makes it plan
  again (up to ``MAX_ATTEMPTS``); a write planned in the flat layout read the marker, so it
  plans again after the migration.
* The commit carries the trailer ``Layout-Migration: fanout``; ``resourceHistory`` shows it
  as a ``MODIFIED`` entry without field changes at the new path, reads and the projection
  treat the move as no change of content, and ``revertCommit`` refuses to revert it.
"""

from __future__ import annotations

from dataclasses import dataclass

from gitstore.backends.metadata.base import RepositoryRecord
from gitstore.domain.content import (
    LAYOUT_MARKER,
    KindRegistry,
    Layout,
    ManifestError,
    identity_for_path,
    layout_moves,
    marker_content,
    parse_manifest,
)
from gitstore.domain.errors import Aborted, FailedPrecondition
from gitstore.git.client import GitClient
from gitstore.git.v1 import git_service_pb2 as pb

from .git import Author, BranchView

MIGRATION_TRAILER = "Layout-Migration"
MAX_ATTEMPTS = 8


@dataclass(frozen=True, slots=True)
class MigrationResult:
    repository: str
    layout: Layout
    committed: bool
    commit: str | None
    moved: int


async def _registry(view: BranchView, head: str, paths: list[str]) -> KindRegistry:
    """The built-in kinds plus the repository's own ``KindDefinition`` files (so custom
    kinds' directories move too)."""
    builtin = KindRegistry.builtin()
    kind_files = []
    for path in paths:
        try:
            found = identity_for_path(path, builtin)
        except ManifestError:
            continue
        if found is not None and found.kind == "KindDefinition":
            kind_files.append(path)
    manifests = []
    for stored in await view.blobs(head, paths=kind_files) if kind_files else []:
        try:
            manifests.append(parse_manifest(stored.content, stored.path))
        except ManifestError:
            continue
    registry, _ = builtin.with_definitions(manifests)
    return registry


async def migrate_layout(
    git: GitClient,
    record: RepositoryRecord,
    *,
    author: Author,
    actor: str,
    request_id: str,
    dry_run: bool = False,
) -> MigrationResult:
    """``dry_run``: how many files would move (``committed`` False, ``commit`` the head)."""
    view = BranchView(
        git, record.repository_id, record.default_branch, registry=KindRegistry.builtin()
    )
    for _ in range(MAX_ATTEMPTS):
        head = await view.head()
        if head is None:
            return MigrationResult(record.repository_id, Layout.FANOUT, False, None, 0)
        listing = pb.ListTreeRequest(
            repository_id=record.repository_id, revision=head, recursive=True
        )
        paths = [e.path async for e in git.list_tree(listing) if e.type == pb.ENTRY_TYPE_BLOB]
        registry = await _registry(view, head, paths)
        moves = layout_moves(paths, registry)
        layout = await view.layout(head)
        if not moves and layout is Layout.FANOUT:
            return MigrationResult(record.repository_id, layout, False, head, 0)
        if dry_run:
            return MigrationResult(record.repository_id, layout, False, head, len(moves))
        actions = [
            pb.CommitAction(action=pb.ACTION_TYPE_MOVE, previous_path=old, path=new)
            for old, new in moves
        ]
        actions.append(
            pb.CommitAction(
                action=pb.ACTION_TYPE_UPSERT,
                path=LAYOUT_MARKER,
                content=marker_content(Layout.FANOUT),
            )
        )
        directories = sorted({old.split("/", 1)[0] for old, _ in moves})
        try:
            response = await view.commit(
                actions,
                expected_head=head,
                author=author,
                message=f"migrate layout to fanout ({len(moves)} files moved)",
                trailers={"actor": actor, "request_id": request_id},
                extra_trailers={MIGRATION_TRAILER: Layout.FANOUT.value},
                read_paths=[*directories, LAYOUT_MARKER],
            )
        except FailedPrecondition:
            if await view.head() == head:
                raise
            continue
        return MigrationResult(
            record.repository_id, Layout.FANOUT, True, response.commit_sha, len(moves)
        )
    raise Aborted(
        f"branch {record.default_branch} of {record.repository_id} kept moving during"
        f" {MAX_ATTEMPTS} attempts to migrate its layout; retry"
    )
