"""Branches and tags: create, delete, list, resolve.

Every change goes through ``refupdate.update_ref`` (outbox intent, compare-and-swap,
committed), so it is as safe across processes as a commit and yields exactly one event:

* ``create_branch``: CAS from "absent"; an existing branch is ``ALREADY_EXISTS``.
* ``delete_branch``: CAS from the current head, or from ``expected_head`` when given (stale
  is ``FAILED_PRECONDITION``). The default branch (HEAD's target) cannot be deleted
  (``FAILED_PRECONDITION``): HEAD would dangle.
* ``create_tag``: always annotated. The tag object (tagger, message + trailer block) is
  written into the object database first, then ``refs/tags/<name>`` is CAS-created to point
  at it; the event's ``new`` is the tag object id.
* ``delete_tag``: CAS from its current target.

``delete_repository`` announces every ref of the repository as deleted.

``list_refs`` returns every ref under ``refs/`` (optionally under a prefix) sorted by name,
with ``target`` (what the ref points at) and ``peeled`` (the commit it leads to).
"""

from __future__ import annotations

import pygit2
from pygit2.enums import ObjectType

from gitstore.config import GitSettings
from gitstore.domain.errors import AlreadyExists, FailedPrecondition, InvalidArgument, NotFound
from gitstore.domain.identity import RepositoryId
from gitstore.git.v1 import git_service_pb2 as pb
from gitstore.gitservice import cas, events, metadata, names
from gitstore.gitservice.outbox import Outbox
from gitstore.gitservice.refupdate import update_ref
from gitstore.gitservice.revisions import resolve, resolve_ext
from gitstore.gitservice.storage import RepositoryStore


def _peeled(repo: pygit2.Repository, target: str) -> str:
    obj = repo.get(target)
    if obj is None:
        return ""
    try:
        return str(obj.peel(pygit2.Commit).id)
    except (pygit2.GitError, ValueError):
        return ""


def _ref_pb(repo: pygit2.Repository, name: str, target: str) -> pb.Ref:
    return pb.Ref(name=name, target=target, peeled=_peeled(repo, target))


class RefService:
    """Ref operations over a store; the outbox announces every change."""

    def __init__(self, store: RepositoryStore, outbox: Outbox, git: GitSettings) -> None:
        self._store = store
        self._outbox = outbox
        self._git = git

    def _swap(
        self,
        repo: pygit2.Repository,
        repo_id: RepositoryId,
        ref: str,
        expected: str | None,
        new: str | None,
        trailers: pb.Trailers,
    ) -> None:
        event = events.ref_update(str(repo_id), ref, expected, new, trailers)
        update_ref(
            repo,
            self._outbox,
            event,
            expected=expected,
            new=new,
            fsync=self._store.fsync,
            stale_after=self._git.stale_lock_seconds,
        )

    def create_branch(self, repo_id: RepositoryId, req: pb.CreateBranchRequest) -> pb.Ref:
        ref = names.branch_ref(req.branch)
        metadata.trailer_pairs(req.trailers)
        with self._store.write(repo_id) as repo:
            commit = resolve(repo, req.start_revision, "start_revision")
            try:
                self._swap(repo, repo_id, ref, None, str(commit.id), req.trailers)
            except cas.RefMoved:
                raise AlreadyExists(
                    f"branch {req.branch!r} already exists", field="branch"
                ) from None
            return pb.Ref(name=ref, target=str(commit.id), peeled=str(commit.id))

    def delete_branch(self, repo_id: RepositoryId, req: pb.DeleteBranchRequest) -> str:
        ref = names.branch_ref(req.branch)
        expected = names.expected_head(req.expected_head)
        metadata.trailer_pairs(req.trailers)
        with self._store.write(repo_id) as repo:
            head = repo.references.get("HEAD")
            if head is not None and head.target == ref:
                raise FailedPrecondition(
                    f"branch {req.branch!r} is the default branch and cannot be deleted",
                    field="branch",
                )
            found = cas.current(repo, ref)
            if found is None:
                raise NotFound(f"branch {req.branch!r} not found", field="branch")
            if expected is not None and expected != found:
                raise FailedPrecondition(
                    f"branch {req.branch!r} is at {found}, not at expected_head {expected}",
                    field="expected_head",
                )
            try:
                self._swap(repo, repo_id, ref, found, None, req.trailers)
            except cas.RefMoved as moved:
                raise FailedPrecondition(
                    f"branch {req.branch!r} moved to {moved.current or names.ZERO_SHA}",
                    field="expected_head",
                ) from None
            return found

    def create_tag(self, repo_id: RepositoryId, req: pb.CreateTagRequest) -> tuple[pb.Ref, str]:
        ref = names.tag_ref(req.tag)
        short = ref[len(names.TAGS) :]
        tagger = metadata.signature(req.tagger, "tagger")
        message = metadata.compose_message(req.message, req.trailers)
        with self._store.write(repo_id) as repo:
            commit = resolve(repo, req.revision)
            if repo.references.get(ref) is not None:
                raise AlreadyExists(f"tag {short!r} already exists", field="tag")
            raw = metadata.tag_object(str(commit.id), "commit", short, tagger, message)
            tag_id = str(repo.odb.write(ObjectType.TAG, raw))
            try:
                self._swap(repo, repo_id, ref, None, tag_id, req.trailers)
            except cas.RefMoved:
                raise AlreadyExists(f"tag {short!r} already exists", field="tag") from None
            return pb.Ref(name=ref, target=tag_id, peeled=str(commit.id)), tag_id

    def delete_tag(self, repo_id: RepositoryId, req: pb.DeleteTagRequest) -> str:
        ref = names.tag_ref(req.tag)
        metadata.trailer_pairs(req.trailers)
        with self._store.write(repo_id) as repo:
            found = cas.current(repo, ref)
            if found is None:
                raise NotFound(f"tag {req.tag!r} not found", field="tag")
            try:
                self._swap(repo, repo_id, ref, found, None, req.trailers)
            except cas.RefMoved:  # pragma: no cover - only a foreign writer can race here
                raise FailedPrecondition(f"tag {req.tag!r} changed concurrently") from None
            return found

    def delete_repository(self, repo_id: RepositoryId) -> None:
        """Delete a repository, announcing the deletion of each of its refs.

        Intent rows are written before the directory is renamed away and marked committed
        after; if the removal fails they are discarded. (Recovery of a crash in between
        finds the refs gone - committed - or still there - dropped.)
        """
        rows: list[int] = []

        def announce(repo: pygit2.Repository) -> None:
            for name in sorted(repo.references):
                found = repo.references.get(name)
                if name.startswith("refs/") and found is not None:
                    target = str(found.target) if isinstance(found.target, pygit2.Oid) else None
                    if target is not None:
                        event = events.ref_update(str(repo_id), name, target, None, pb.Trailers())
                        rows.append(self._outbox.intent(event))

        try:
            self._store.delete(repo_id, announce)
        except BaseException:
            for row in rows:
                self._outbox.discard(row)
            raise
        for row in rows:
            self._outbox.committed(row)

    def list_refs(self, repo_id: RepositoryId, prefix: str) -> list[pb.Ref]:
        if prefix and ("\x00" in prefix or len(prefix) > names.MAX_REF_BYTES + 16):
            raise InvalidArgument(f"prefix {prefix!r} is not a valid ref prefix", field="prefix")
        with self._store.read(repo_id) as repo:
            refs = []
            for name in sorted(repo.references):
                if not name.startswith("refs/") or not name.startswith(prefix):
                    continue
                found = repo.references.get(name)
                if found is None or not isinstance(found.target, pygit2.Oid):
                    continue
                refs.append(_ref_pb(repo, name, str(found.target)))
            return refs

    def resolve_revision(self, repo_id: RepositoryId, revision: str) -> tuple[str, str]:
        with self._store.read(repo_id) as repo:
            commit, ref_name = resolve_ext(repo, revision)
            return str(commit.id), ref_name
