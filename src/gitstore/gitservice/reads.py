"""Reads: blobs, trees, changed paths between commits, history.

A read first pins its revision to a commit id; everything after that reads immutable
objects, so a stream is one consistent snapshot even while commits land. Streams take the
repository's read lock per batch (``_batched``), not for their whole life: a slow client
cannot hold commits off, and a repository deleted mid-stream ends the stream with an error.

* ``get_blobs``: by path at a revision and/or by blob id; an absent path or id is a
  ``missing`` entry and the stream goes on. A path naming a directory or a submodule, or an
  id naming a non-blob, is ``InvalidArgument``.
* ``get_blob_batches``: the same answers packed into ``BlobBatch`` messages of up to
  ``BATCH_BYTES`` of content (a larger blob alone). One message per blob costs the server
  and the client a fixed ~0.2 ms each way, which dominates for thousands of small manifests;
  packing makes a 10,000-file fetch a handful of messages. The read lock is taken per message.
* ``list_tree``: the entries under a directory prefix (the root by default), recursively in
  pre-order (a directory, then its contents) or one level; trees are listed too. Paths are
  full paths from the root.
* ``changed_paths``: a libgit2 tree-to-tree diff (recursive, blobs only), optionally with
  rename detection; from nothing (empty or all-zeros ``from_revision``) lists everything as
  added.
* ``commit_log``: topological+time order from a revision; with ``path``, only commits whose
  entry at that path differs from every parent's (git's default history simplification:
  a merge that took one side unchanged is skipped); then ``offset`` and ``limit``.
* ``resolve_revision``: the commit a revision names and the ref it went through.

Every read takes a ``ReadSource``: the store, or - for the API's pre-receive check, with a
``quarantine_id`` - a source whose handle also sees a push's quarantined objects.
"""

from __future__ import annotations

import contextlib
import itertools
from collections.abc import Iterable, Iterator
from contextlib import AbstractContextManager
from typing import NamedTuple, Protocol, TypeVar

import pygit2
from pygit2.enums import DeltaStatus, SortMode

from gitstore.domain.errors import InvalidArgument, NotFound
from gitstore.domain.events import ZERO_SHA
from gitstore.domain.identity import RepositoryId
from gitstore.git.v1 import git_service_pb2 as pb
from gitstore.gitservice import metadata, names, paths
from gitstore.gitservice.revisions import resolve, resolve_ext
from gitstore.gitservice.storage import Session

T = TypeVar("T")
MAX_ITEMS = 10_000
_TYPES = {"blob": pb.ENTRY_TYPE_BLOB, "tree": pb.ENTRY_TYPE_TREE, "commit": pb.ENTRY_TYPE_COMMIT}
_STATUS = {
    DeltaStatus.ADDED: pb.CHANGE_TYPE_ADDED,
    DeltaStatus.DELETED: pb.CHANGE_TYPE_DELETED,
    DeltaStatus.MODIFIED: pb.CHANGE_TYPE_MODIFIED,
    DeltaStatus.RENAMED: pb.CHANGE_TYPE_RENAMED,
    DeltaStatus.TYPECHANGE: pb.CHANGE_TYPE_TYPE_CHANGED,
}


class ReadSource(Protocol):
    """Where reads get a handle: the ``RepositoryStore``, or a push's quarantine
    (``transport.quarantine.QuarantineSource``: a fresh handle that also sees the pushed
    objects)."""

    def read(self, repo_id: RepositoryId) -> AbstractContextManager[pygit2.Repository]: ...

    def session(self, repo_id: RepositoryId) -> AbstractContextManager[Session]: ...


def _batched(session: Session, items: Iterator[T], size: int) -> Iterator[T]:
    while True:
        with session.lock.read():
            batch = list(itertools.islice(items, size))
        if not batch:
            return
        yield from batch


def _lookup(tree: pygit2.Tree, path: str) -> pygit2.Object | None:
    try:
        return tree[path]
    except KeyError:
        return None


class _PathLookup:
    """Look up many paths of one tree, reading each directory once.

    ``tree["products/51/x.yaml"]`` makes libgit2 read and parse every tree on the way again
    for each call, so a request for the thousands of files of one directory cost time in
    proportion to the directory's size per file, and a big first projection grew with the
    square of the catalogue. Directories met are kept (per request) and each file is looked
    up in its own directory by name."""

    def __init__(self, tree: pygit2.Tree) -> None:
        self._dirs: dict[str, pygit2.Tree | None] = {"": tree}

    def _directory(self, path: str) -> pygit2.Tree | None:
        if path in self._dirs:
            return self._dirs[path]
        parent_path, _, name = path.rpartition("/")
        parent = self._directory(parent_path)
        found: pygit2.Tree | None = None
        if parent is not None:
            try:
                entry = parent[name]
            except KeyError:
                entry = None
            found = entry if isinstance(entry, pygit2.Tree) else None
        self._dirs[path] = found
        return found

    def __call__(self, path: str) -> pygit2.Object | None:
        directory_path, _, name = path.rpartition("/")
        directory = self._directory(directory_path)
        if directory is None:
            return None
        try:
            return directory[name]
        except KeyError:
            return None


# ---------------------------------------------------------------------- blobs

# Content per BlobBatch message (soft: a larger blob is sent alone), and the framing a blob
# adds besides its content and path (ids, sizes, tags), for the packing estimate.
BATCH_BYTES = 1024 * 1024
_BLOB_OVERHEAD = 64


class _Answer(NamedTuple):
    """One answer of a blob read: the fields of a ``pb.Blob``."""

    path: str
    blob_id: str
    content: bytes = b""
    missing: bool = False

    def fill(self, blob: pb.Blob) -> pb.Blob:
        blob.path, blob.blob_id, blob.missing = self.path, self.blob_id, self.missing
        if not self.missing:
            blob.content, blob.size = self.content, len(self.content)
        return blob

    @property
    def weight(self) -> int:
        return len(self.content) + len(self.path) + _BLOB_OVERHEAD


def _blobs(
    repo: pygit2.Repository, tree: pygit2.Tree | None, wanted: list[str], ids: list[str]
) -> Iterator[_Answer]:
    lookup = _PathLookup(tree) if tree is not None else None
    for path in wanted:
        assert lookup is not None
        entry = lookup(path)
        if entry is None:
            yield _Answer(path, "", missing=True)
        elif not isinstance(entry, pygit2.Blob):
            raise InvalidArgument(f"path {path!r} is a {entry.type_str}, not a file", field="paths")
        else:
            yield _Answer(path, str(entry.id), entry.data)
    for blob_id in ids:
        obj = repo.get(blob_id)
        if obj is None:
            yield _Answer("", blob_id, missing=True)
        elif not isinstance(obj, pygit2.Blob):
            raise InvalidArgument(
                f"object {blob_id} is a {obj.type_str}, not a blob", field="blob_ids"
            )
        else:
            yield _Answer("", str(obj.id), obj.data)


@contextlib.contextmanager
def _blob_source(
    store: ReadSource, repo_id: RepositoryId, req: pb.GetBlobsRequest
) -> Iterator[tuple[Session, Iterator[_Answer]]]:
    """Validate the request and pin its revision; the session and the answers to stream."""
    wanted = [paths.validate_path(p, "paths") for p in req.paths]
    ids = [names.object_id(i, "blob_ids") for i in req.blob_ids]
    if len(wanted) + len(ids) > MAX_ITEMS:
        raise InvalidArgument(f"at most {MAX_ITEMS} paths and blob ids per request")
    with store.session(repo_id) as session:
        tree = None
        if wanted:
            with session.lock.read():
                tree = resolve(session.repo, req.revision).tree
        yield session, _blobs(session.repo, tree, wanted, ids)


def get_blobs(
    store: ReadSource, repo_id: RepositoryId, req: pb.GetBlobsRequest
) -> Iterator[pb.Blob]:
    with _blob_source(store, repo_id, req) as (session, answers):
        for answer in _batched(session, answers, 1):
            yield answer.fill(pb.Blob())


def get_blob_batches(
    store: ReadSource,
    repo_id: RepositoryId,
    req: pb.GetBlobsRequest,
    *,
    limit: int = BATCH_BYTES,
) -> Iterator[pb.BlobBatch]:
    """``get_blobs`` packed: blobs are added to a message while their estimated size stays
    within ``limit``; a blob that would overflow a non-empty message starts the next one."""
    with _blob_source(store, repo_id, req) as (session, answers):
        held: _Answer | None = None
        while True:
            batch = pb.BlobBatch()
            size = 0
            with session.lock.read():
                if held is not None:
                    held.fill(batch.blobs.add())
                    size, held = held.weight, None
                for answer in answers:
                    if batch.blobs and size + answer.weight > limit:
                        held = answer
                        break
                    answer.fill(batch.blobs.add())
                    size += answer.weight
            if not batch.blobs:
                return
            yield batch


# ---------------------------------------------------------------------- trees


def _entries(tree: pygit2.Tree, prefix: str, recursive: bool) -> Iterator[pb.TreeEntry]:
    stack: list[tuple[str, Iterator[pygit2.Object]]] = [(prefix, iter(tree))]
    while stack:
        base, entries = stack[-1]
        entry = next(entries, None)
        if entry is None:
            stack.pop()
            continue
        path = f"{base}{paths.display(entry.name or '')}"
        yield pb.TreeEntry(
            path=path,
            oid=str(entry.id),
            type=_TYPES.get(entry.type_str, pb.ENTRY_TYPE_UNSPECIFIED),
            mode=entry.filemode,
        )
        if recursive and isinstance(entry, pygit2.Tree):
            stack.append((path + "/", iter(entry)))


def list_tree(
    store: ReadSource, repo_id: RepositoryId, req: pb.ListTreeRequest
) -> Iterator[pb.TreeEntry]:
    prefix = paths.validate_prefix(req.path_prefix)
    with store.session(repo_id) as session:
        with session.lock.read():
            tree = resolve(session.repo, req.revision).tree
            if prefix:
                found = _lookup(tree, prefix)
                if found is None:
                    raise NotFound(f"path {prefix!r} not found at {req.revision or 'HEAD'}")
                if not isinstance(found, pygit2.Tree):
                    raise InvalidArgument(f"path_prefix {prefix!r} is a file, not a directory")
                tree = found
        start = f"{prefix}/" if prefix else ""
        yield from _batched(session, _entries(tree, start, req.recursive), 256)


# ---------------------------------------------------------------------- diffs


def diff_changes(diff: pygit2.Diff) -> Iterable[pb.ChangedPath]:
    for delta in diff.deltas:
        kind = _STATUS.get(delta.status, pb.CHANGE_TYPE_MODIFIED)
        added, deleted = kind == pb.CHANGE_TYPE_ADDED, kind == pb.CHANGE_TYPE_DELETED
        yield pb.ChangedPath(
            path=paths.display(delta.old_file.path if deleted else delta.new_file.path),
            change_type=kind,
            old_blob_id="" if added else str(delta.old_file.id),
            new_blob_id="" if deleted else str(delta.new_file.id),
            old_path=paths.display(delta.old_file.path) if kind == pb.CHANGE_TYPE_RENAMED else "",
        )


def changed_paths(
    store: ReadSource, repo_id: RepositoryId, req: pb.GetChangedPathsRequest
) -> list[pb.ChangedPath]:
    with store.read(repo_id) as repo:
        to = resolve(repo, req.to_revision, "to_revision")
        if req.from_revision in ("", ZERO_SHA):
            diff = to.tree.diff_to_tree(swap=True)
        else:
            start = resolve(repo, req.from_revision, "from_revision")
            diff = start.tree.diff_to_tree(to.tree)
        if req.detect_renames:
            diff.find_similar()
        return list(diff_changes(diff))


# ---------------------------------------------------------------------- history


def _entry_id(commit: pygit2.Commit, path: str) -> pygit2.Oid | None:
    found = _lookup(commit.tree, path)
    return found.id if found is not None else None


def _touches(commit: pygit2.Commit, path: str) -> bool:
    mine = _entry_id(commit, path)
    if not commit.parents:
        return mine is not None
    return all(_entry_id(parent, path) != mine for parent in commit.parents)


def _log(
    repo: pygit2.Repository,
    tip: pygit2.Oid,
    path: str,
    offset: int,
    limit: int,
    hide: Iterable[pygit2.Oid] = (),
) -> Iterator[pb.CommitInfo]:
    walker = repo.walk(tip, SortMode.TOPOLOGICAL | SortMode.TIME)
    for oid in hide:
        walker.hide(oid)
    commits: Iterator[pygit2.Commit] = iter(walker)
    if path:
        commits = (c for c in commits if _touches(c, path))
    stop = offset + limit if limit else None
    for commit in itertools.islice(commits, offset, stop):
        yield metadata.commit_info(commit)


def commit_log(
    store: ReadSource, repo_id: RepositoryId, req: pb.CommitLogRequest
) -> Iterator[pb.CommitInfo]:
    path = paths.validate_path(req.path) if req.path else ""
    with store.session(repo_id) as session:
        with session.lock.read():
            tip = resolve(session.repo, req.revision).id
            hide = [resolve(session.repo, rev).id for rev in req.hide_revisions]
        log = _log(session.repo, tip, path, req.offset, req.limit, hide)
        yield from _batched(session, log, 64)


def resolve_revision(
    store: ReadSource, repo_id: RepositoryId, req: pb.ResolveRevisionRequest
) -> pb.ResolveRevisionResponse:
    with store.read(repo_id) as repo:
        commit, ref_name = resolve_ext(repo, req.revision)
        return pb.ResolveRevisionResponse(commit_sha=str(commit.id), ref_name=ref_name)
