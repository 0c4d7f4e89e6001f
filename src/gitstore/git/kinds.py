"""The kind registry of a commit, read through the git service and cached by tree id.

``KindsLoader.at(repository, revision)`` answers ``domain.content.kindset.Kinds`` — the
built-ins plus the valid ``KindDefinition``s in ``kinds/`` of that commit — for the API's
writes and pre-receive check and for the worker's projections and statuses. It lives beside
the client (not in ``api`` or ``worker``) because all of them need it.

Cost. One ``ListTree`` of the commit's top level gives the object id of its ``kinds/``
tree — remembered per commit sha (a bounded LRU: a commit's tree never changes, so a commit
asked about again, as the write path, the worker's projection, resource sync, statuses and
the store schema refresh all do for each new commit, costs no RPC at all; refs are always
resolved); a registry is cached under that id (content-addressed: the same id is the same
definitions in any repository), so an unchanged kinds tree costs that one lookup. A miss
lists ``kinds/`` and reads its blobs once. No ``kinds/`` at all is the shared built-in
registry with no reads beyond the first. The cache is a bounded LRU (``capacity`` trees).
During a push, ``quarantine_id`` lets the reads see the pushed objects; cached entries are
safe to share with later reads because tree ids name content, not refs.

``stored_files`` reads the files of some kind directories at a commit: what a definition
change is checked against (``kindset.kind_change_errors``).
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Iterable

from gitstore.domain.content import DEFAULT_MAX_MANIFEST_BYTES
from gitstore.domain.content.errors import ContentError
from gitstore.domain.content.files import Parsed, parse_many
from gitstore.domain.content.kinds import KindRegistry
from gitstore.domain.content.kindset import KINDS_DIRECTORY, Kinds, builtin_registry, registry_for
from gitstore.git.client import GitClient
from gitstore.git.v1 import git_service_pb2 as pb
from gitstore.switching import short_switches

EMPTY = ""  # the tree id standing for "no kinds/ directory"
CHUNK = 2500
TREE_IDS = 4096  # commits whose kinds/ tree id is remembered


def _is_sha(revision: str) -> bool:
    """A full object id (SHA-1 or SHA-256, lowercase hex): immutable, unlike a ref name."""
    return len(revision) in (40, 64) and all(c in "0123456789abcdef" for c in revision)


class KindsLoader:
    """Registries of commits, cached by the id of their ``kinds/`` tree (bounded LRU)."""

    def __init__(
        self,
        git: GitClient,
        *,
        capacity: int = 128,
        max_bytes: int = DEFAULT_MAX_MANIFEST_BYTES,
        base: KindRegistry | None = None,
    ) -> None:
        self.git = git
        self.capacity = capacity
        self.max_bytes = max_bytes
        self.base = base if base is not None else builtin_registry()
        self._cache: OrderedDict[str, Kinds] = OrderedDict()
        # files of a cached tree that do not parse as a KindDefinition (``unreadable``)
        self._unreadable: dict[str, tuple[ContentError, ...]] = {}
        # commit sha -> its kinds/ tree id (content-addressed: true in every repository)
        self._trees: OrderedDict[str, str] = OrderedDict()
        self.tree_reads = 0  # ListTree calls made by ``tree_id``, for tests and metrics
        self.loads = 0  # trees read (cache misses), for tests and metrics

    async def at(self, repository_id: str, revision: str, *, quarantine_id: str = "") -> Kinds:
        """The kinds of ``revision`` (a commit sha or a ref)."""
        tree = await self.tree_id(repository_id, revision, quarantine_id=quarantine_id)
        return await self.of_tree(repository_id, revision, tree, quarantine_id=quarantine_id)

    async def registry(
        self, repository_id: str, revision: str | None, *, quarantine_id: str = ""
    ) -> KindRegistry:
        """``at(...).registry``; the base registry for no revision (an empty repository)."""
        if not revision:
            return self.base
        return (await self.at(repository_id, revision, quarantine_id=quarantine_id)).registry

    async def tree_id(self, repository_id: str, revision: str, *, quarantine_id: str = "") -> str:
        """The id of ``kinds/`` at ``revision`` (``EMPTY`` when there is none); remembered
        when ``revision`` is a commit sha (see the module docstring)."""
        known = self._trees.get(revision)
        if known is not None:
            self._trees.move_to_end(revision)
            return known
        request = pb.ListTreeRequest(
            repository_id=repository_id, revision=revision, quarantine_id=quarantine_id
        )
        self.tree_reads += 1
        tree = EMPTY
        async for entry in self.git.list_tree(request):
            if entry.path == KINDS_DIRECTORY and entry.type == pb.ENTRY_TYPE_TREE:
                tree = str(entry.oid)
                break
        if _is_sha(revision):
            self._trees[revision] = tree
            while len(self._trees) > TREE_IDS:
                self._trees.popitem(last=False)
        return tree

    async def of_tree(
        self, repository_id: str, revision: str, tree: str, *, quarantine_id: str = ""
    ) -> Kinds:
        if tree == EMPTY:
            return Kinds(self.base)
        found = self._cache.get(tree)
        if found is not None:
            self._cache.move_to_end(tree)
            return found
        return await self._load(repository_id, revision, tree, quarantine_id)

    async def _load(
        self, repository_id: str, revision: str, tree: str, quarantine_id: str
    ) -> Kinds:
        self.loads += 1
        files = await stored_files(
            self.git,
            repository_id,
            revision,
            [KINDS_DIRECTORY],
            quarantine_id=quarantine_id,
            # ``tree`` is the id of kinds/ at ``revision``: it exists there if that is a
            # commit (a ref may have moved since, to a commit without one)
            exist=_is_sha(revision),
        )

        # parsing and the registry (every definition checked: ~1-4 ms each) are CPU-bound:
        # one worker thread with short GIL switches, so requests in flight on the event loop
        # (in ``serve`` the storefront's) are not held up meanwhile
        def load() -> tuple[list[Parsed], Kinds]:
            with short_switches():
                parsed = parse_many(files, self.base, max_bytes=self.max_bytes)
                manifests = (p.manifest for p in parsed if p.manifest is not None)
                return parsed, registry_for(manifests, self.base)

        parsed, kinds = await asyncio.to_thread(load)
        unreadable = tuple(e for p in parsed if p.manifest is None for e in p.errors)
        self._cache[tree] = kinds
        if unreadable:
            self._unreadable[tree] = unreadable
        while len(self._cache) > self.capacity:
            evicted, _ = self._cache.popitem(last=False)
            self._unreadable.pop(evicted, None)
        return kinds

    def unreadable(self, tree: str) -> tuple[ContentError, ...]:
        """Why files of the cached ``kinds/`` tree ``tree`` were left out because they do not
        parse (``Kinds.errors`` holds the definitions refused for conflicts); the store
        schema reports both (``schemaStatus.lastFailure``)."""
        return self._unreadable.get(tree, ())


async def stored_files(
    git: GitClient,
    repository_id: str,
    revision: str,
    directories: Iterable[str],
    *,
    quarantine_id: str = "",
    exist: bool = False,
) -> list[tuple[str, str, bytes]]:
    """``(path, blob id, content)`` of every blob under each directory at ``revision``;
    ``exist``: the caller knows every directory exists (one ``ListTree`` fewer)."""
    wanted = set(directories)
    if exist:
        present = wanted
    else:
        top = pb.ListTreeRequest(
            repository_id=repository_id, revision=revision, quarantine_id=quarantine_id
        )
        present = {
            e.path async for e in git.list_tree(top) if e.type == pb.ENTRY_TYPE_TREE
        }  # a ListTree of a missing directory is NOT_FOUND: ask only for those that exist
    entries: list[tuple[str, str]] = []
    for directory in sorted(wanted & present):
        request = pb.ListTreeRequest(
            repository_id=repository_id,
            revision=revision,
            path_prefix=f"{directory}/",
            recursive=True,
            quarantine_id=quarantine_id,
        )
        async for entry in git.list_tree(request):
            if entry.type == pb.ENTRY_TYPE_BLOB:
                entries.append((entry.path, entry.oid))
    ids = sorted({blob for _, blob in entries})
    contents: dict[str, bytes] = {}
    for start in range(0, len(ids), CHUNK):
        request_blobs = pb.GetBlobsRequest(
            repository_id=repository_id,
            blob_ids=ids[start : start + CHUNK],
            quarantine_id=quarantine_id,
        )
        async for batch in git.get_blob_batches(request_blobs):
            for blob in batch.blobs:
                if not blob.missing:
                    contents[blob.blob_id] = blob.content
    return [(path, blob, contents[blob]) for path, blob in entries if blob in contents]


async def file_at(
    git: GitClient, repository_id: str, revision: str, path: str, *, quarantine_id: str = ""
) -> bytes | None:
    """The content of ``path`` at ``revision``, or None when it is absent."""
    request = pb.GetBlobsRequest(
        repository_id=repository_id, revision=revision, paths=[path], quarantine_id=quarantine_id
    )
    found: bytes | None = None
    async for batch in git.get_blob_batches(request):
        for blob in batch.blobs:
            if not blob.missing:
                found = blob.content
    return found
