"""Content checks of a push: every pushed commit valid, and each pushed tip consistent.

Two passes over what a push brings, both reading through the git service with the push's
``quarantine_id`` (the pushed objects are not in the repository yet):

1. **Every pushed commit** (oldest first, each once even when several refs bring it): the
   files it added or changed against its first parent (``GetChangedPaths``; a root commit
   against the empty tree) are parsed and validated with the kind registry — the very code
   the worker projects with (``gitstore.domain.content.files.parse_file``). A file that is
   invalid in an intermediate commit is refused even if a later commit fixes it: history is
   what releases, reverts and ``expectedVersion`` point into, so every commit must be a
   valid catalogue. Files outside kind directories (``README.md``) are not manifests.
2. **Each pushed tip** (the commit a created or updated branch or tag peels to), against the
   ref's base (the old value; for a new ref the parent of its oldest pushed commit, nothing
   to check when it brings no commits): the changed manifests' ``x-reference`` fields (a
   product's ``categories``/``collections``, a category's ``parent``, a collection's
   ``products``) must name resources present in the tip; a resource the push *deleted* must
   not be referenced by any manifest left in the tip (the kinds that can refer to it are
   listed with ``ListTree`` and read — deleting is the rare case; references of untouched
   files to resources that were already missing are not the push's doing and pass); and a
   changed resource must not be held by two files (``products/a.yaml`` and
   ``products/a.json``: rule ``duplicate``). Presence at the tip is read from the diff when
   it starts at the empty tree (it lists every file), else by looking up every spelling of
   the identities that matter by path (``GetBlobBatches`` at the tip) — never by listing a
   10,000-file directory for a one-file push.

Cost: a blob is fetched once (by id, ``GetBlobBatches`` in chunks of ``CHUNK`` ids on up to
``STREAMS`` streams) and validated once per ``(path, blob id)``; parsing runs in a thread
(``asyncio.to_thread``) chunk by chunk, overlapping the next fetch, so the event loop keeps
serving; ``GetChangedPaths`` of many commits run ``DIFFS`` at a time. See
``tests/api_hooks/bench_prereceive.py`` for the 10,000-product figure.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import Any

from gitstore.domain.content import (
    LAYOUT_MARKER,
    ContentError,
    KindRegistry,
    Layout,
    Manifest,
    ManifestError,
    candidate_paths,
    identity_for_path,
    layout_errors,
    layout_of,
    marker_errors,
)
from gitstore.domain.content.files import Parsed, parse_many
from gitstore.domain.content.manifest import ResourceIdentity
from gitstore.domain.content.references import duplicate_files
from gitstore.domain.conversion import (
    ConversionRequest,
    HookModuleRefused,
    needs_hub,
    spoke_of,
    to_hub,
)
from gitstore.domain.conversion.hub import Convert
from gitstore.domain.errors import GitStoreError
from gitstore.domain.publishing import (
    RefPush,
    Violation,
    content_violations,
    is_zero,
    reference_errors,
    references,
    referencing_kinds,
)
from gitstore.git.client import GitClient
from gitstore.git.kinds import file_at
from gitstore.git.v1 import git_service_pb2 as pb

CHUNK = 2500
STREAMS = 2
DIFFS = 8
_GONE = (pb.CHANGE_TYPE_DELETED,)

Key = tuple[str, str]  # (path, blob id)


class ContentCheck:
    """The content checks of one push (state: the blob and parse caches)."""

    def __init__(
        self,
        git: GitClient,
        repository_id: str,
        quarantine_id: str,
        registry: KindRegistry,
        max_bytes: int,
        convert: Convert | None = None,
    ) -> None:
        self.git = git
        self.repository_id = repository_id
        self.quarantine_id = quarantine_id
        self.registry = registry
        self.max_bytes = max_bytes
        self.convert = convert  # hooks to the hub (None: spokes with a Wasm hook are refused)
        self._blobs: dict[str, bytes] = {}
        self._parsed: dict[Key, Parsed] = {}
        self._diffs: dict[tuple[str, str], list[pb.ChangedPath]] = {}
        self._reported: set[str] = set()
        self._ids: dict[str, ResourceIdentity | None] = {}
        self._limit = asyncio.Semaphore(DIFFS)

    # ------------------------------------------------------------------ reads
    async def changed(self, base: str, tip: str) -> list[pb.ChangedPath]:
        key = (base, tip)
        if key not in self._diffs:
            request = pb.GetChangedPathsRequest(
                repository_id=self.repository_id,
                from_revision="" if is_zero(base) else base,
                to_revision=tip,
                quarantine_id=self.quarantine_id,
            )
            async with self._limit:
                self._diffs[key] = await self.git.get_changed_paths(request)
        return self._diffs[key]

    async def listing(self, tip: str, directory: str = "") -> list[pb.TreeEntry]:
        """Blobs under ``directory`` (recursive), or the top level of ``tip`` ("")."""
        request = pb.ListTreeRequest(
            repository_id=self.repository_id,
            revision=tip,
            path_prefix=directory,
            recursive=bool(directory),
            quarantine_id=self.quarantine_id,
        )
        return [entry async for entry in self.git.list_tree(request)]

    async def parse(self, files: Iterable[Key]) -> dict[Key, Parsed]:
        """Each ``(path, blob id)`` parsed and validated (cached; fetches what is missing)."""
        wanted = [k for k in dict.fromkeys(files) if k not in self._parsed]
        ids = sorted({blob for _, blob in wanted if blob not in self._blobs})
        parts = [ids[i : i + CHUNK] for i in range(0, len(ids), CHUNK)]
        pending: list[asyncio.Task[None]] = []
        by_blob: dict[str, list[Key]] = defaultdict(list)
        for key in wanted:
            by_blob[key[1]].append(key)
        ready = [k for k in wanted if k[1] in self._blobs]
        if ready:
            pending.append(asyncio.ensure_future(self._parse_now(ready)))
        for start in range(0, len(parts), STREAMS):
            fetched = await asyncio.gather(
                *(self._fetch(p) for p in parts[start : start + STREAMS])
            )
            for got in fetched:
                keys = [k for blob in got for k in by_blob[blob]]
                pending.append(asyncio.ensure_future(self._parse_now(keys)))
        await asyncio.gather(*pending)
        return {k: self._parsed[k] for k in dict.fromkeys(files) if k in self._parsed}

    async def _fetch(self, blob_ids: list[str]) -> list[str]:
        request = pb.GetBlobsRequest(
            repository_id=self.repository_id, blob_ids=blob_ids, quarantine_id=self.quarantine_id
        )
        got = []
        async for batch in self.git.get_blob_batches(request):
            for blob in batch.blobs:
                if not blob.missing:
                    self._blobs[blob.blob_id] = blob.content
                    got.append(blob.blob_id)
        return got

    async def _parse_now(self, keys: Sequence[Key]) -> None:
        items = [(p, b, self._blobs[b]) for p, b in keys if b in self._blobs]
        if not items:
            return
        parsed = await asyncio.to_thread(parse_many, items, self.registry, max_bytes=self.max_bytes)
        for result in parsed:
            self._parsed[(result.path, result.blob_id)] = result

    @property
    def validated(self) -> int:
        return len(self._parsed)

    # ------------------------------------------------------------------ pass 1: commits
    async def check_commits(self, pushes: Sequence[RefPush]) -> list[Violation]:
        """Every pushed commit's added and changed files, each commit once."""
        order: dict[str, tuple[str, str]] = {}  # sha -> (ref, first parent)
        for push in pushes:
            for commit in push.commits:
                if commit.sha not in order:
                    order[commit.sha] = (push.ref, commit.parents[0] if commit.parents else "")
        diffs = await asyncio.gather(
            *(self.changed(parent, sha) for sha, (_, parent) in order.items())
        )
        out: list[Violation] = []
        first_seen: dict[Key, tuple[str, str]] = {}  # (path, blob) -> (ref, commit)
        markers: dict[str, tuple[str, str]] = {}  # marker blob -> (ref, commit)
        for (sha, (ref, _)), changes in zip(order.items(), diffs, strict=True):
            for change in changes:
                if change.change_type in _GONE:
                    continue
                if change.path == LAYOUT_MARKER:
                    markers.setdefault(change.new_blob_id, (ref, sha))
                elif self._manifest_path(change.path, ref, sha, out):
                    first_seen.setdefault((change.path, change.new_blob_id), (ref, sha))
        out.extend(await self._check_markers(markers))
        parsed = await self.parse(first_seen)
        hub = await self._hub_failures(parsed, first_seen)
        for key, (ref, sha) in first_seen.items():
            result = parsed.get(key)
            if result is None:
                out.append(Violation(ref, "parse", f"blob {key[1]} is missing", sha, key[0]))
            elif result.errors:
                out.extend(content_violations(ref, sha, result.errors))
            elif key in hub:
                out.extend(content_violations(ref, sha, hub[key]))
        return out

    async def _hub_failures(
        self, parsed: dict[Key, Parsed], first_seen: dict[Key, tuple[str, str]]
    ) -> dict[Key, list[ContentError]]:
        """Valid files written in a spoke version whose hub form fails (conversion by the
        kind's hook, one request per (kind, version); the module read at the commit of the
        first such file: a module is identified by its sha256)."""
        keys = [k for k, p in parsed.items() if p.manifest is not None]
        manifests = [m for k in keys if (m := parsed[k].manifest) is not None]
        if not needs_hub(manifests, self.registry):
            return {}
        at = next(
            first_seen[k][1]
            for k, m in zip(keys, manifests, strict=True)
            if spoke_of(m, self.registry) is not None
        )

        async def module(path: str) -> bytes | None:
            return await file_at(
                self.git, self.repository_id, at, path, quarantine_id=self.quarantine_id
            )

        async def refuse(request: ConversionRequest, wasm: bytes) -> list[dict[str, Any]]:
            raise HookModuleRefused("runner", request.context, "no hook runner is configured")

        result = await to_hub(manifests, self.registry, module, self.convert or refuse)
        return {keys[i]: errors for i, errors in result.failures.items()}

    async def _check_markers(self, markers: dict[str, tuple[str, str]]) -> list[Violation]:
        """Each distinct pushed ``.gitstore/layout`` must name a layout."""
        missing = [blob for blob in markers if blob not in self._blobs]
        if missing:
            await self._fetch(missing)
        out: list[Violation] = []
        for blob, (ref, sha) in markers.items():
            out.extend(content_violations(ref, sha, marker_errors(self._blobs.get(blob, b""))))
        return out

    async def layout_at(self, revision: str) -> Layout | None:
        """The layout of ``revision`` (a commit); None when its marker is unreadable (that
        marker is reported by pass 1)."""
        found = await self.at_tip(revision, [LAYOUT_MARKER])
        blob = found.get(LAYOUT_MARKER)
        try:
            return layout_of(None if blob is None else self._blobs[blob], has_commits=True)
        except GitStoreError:
            return None

    async def check_layout(
        self, push: RefPush, base: str, tip: str, state: dict[str, str | None]
    ) -> list[Violation]:
        """The tip keeps its layout: no flat-spelled manifest added or changed in a fan-out
        branch, and no marker deleted from a fan-out branch (``layout_errors``,
        ``marker_errors``). Reads the marker only when a change could break the rule."""
        errors: list[ContentError] = []
        changed = [p for p, b in state.items() if b is not None and p != LAYOUT_MARKER]
        if layout_errors(changed, Layout.FANOUT, self.registry):
            layout = await self.layout_at(tip)
            if layout is not None:
                errors.extend(layout_errors(changed, layout, self.registry))
        if LAYOUT_MARKER in state and state[LAYOUT_MARKER] is None and base:
            errors.extend(marker_errors(None, was=await self.layout_at(base)))
        return content_violations(push.ref, tip, errors)

    def _manifest_path(self, path: str, ref: str, sha: str, out: list[Violation]) -> bool:
        if self._ids.get(path) is not None:
            return True
        try:
            found = identity_for_path(path, self.registry)
        except ManifestError as err:
            self._ids[path] = None
            if path not in self._reported:  # a bad path is reported once, where it appears
                self._reported.add(path)
                out.extend(content_violations(ref, sha, err.errors))
            return False
        self._ids[path] = None if found is None else found.identity
        return found is not None

    # ------------------------------------------------------------------ pass 2: tips
    async def check_tip(self, push: RefPush) -> list[Violation]:
        base = tip_base(push)
        if base is None or not push.peeled:
            return []
        tip = push.peeled
        state: dict[str, str | None] = {}  # path -> blob at the tip, None = absent
        for change in await self.changed(base, tip):
            state[change.path] = None if change.change_type in _GONE else change.new_blob_id
        misplaced = await self.check_layout(push, base, tip, state)
        changed = {p: b for p, b in state.items() if b is not None and self._id(p)}
        deleted = {i for p, b in state.items() if b is None and (i := self._id(p))}
        if not changed and not deleted:
            return misplaced
        parsed = await self.parse(changed.items())
        # schema-invalid documents too: their reference problems belong in the same answer
        fresh = [r.document for r in parsed.values() if r.document is not None]
        mine = {i for p in changed if (i := self._id(p))}
        refs = await asyncio.to_thread(_referenced, fresh, self.registry)
        # The diff from nothing lists every file of the tip; otherwise look up every spelling
        # of every identity that matters here.
        if base:
            probe = {p for i in mine | refs | deleted for p in self._spellings(i)}
            state.update(await self.at_tip(tip, probe.difference(state)))
        held: dict[ResourceIdentity, list[Key]] = defaultdict(list)
        for path, blob in state.items():
            if blob and (identity := self._id(path)):
                held[identity].append((path, blob))
        present = {i for i in mine | refs | deleted if held.get(i)}
        errors: list[ContentError] = []
        for identity in sorted(mine, key=str):
            if len(held[identity]) > 1:
                errors.extend(_duplicates(identity, held[identity]))

        def exists(kind: str, name: str) -> bool:
            return ResourceIdentity(kind, name) in present

        errors.extend(await asyncio.to_thread(reference_errors, fresh, exists, self.registry))
        gone = deleted - present
        if gone:
            errors.extend(await self._dangling(tip, gone, set(changed), state, complete=not base))
        return misplaced + content_violations(push.ref, tip, sorted(errors, key=_order))

    def _id(self, path: str) -> ResourceIdentity | None:
        if path not in self._ids:
            self._ids[path] = _identity(path, self.registry)
        return self._ids[path]

    def _spellings(self, identity: ResourceIdentity) -> list[str]:
        try:
            return candidate_paths(identity.kind, identity.name, self.registry)
        except GitStoreError:  # an unknown kind or a name that cannot be a file
            return []

    async def at_tip(self, tip: str, paths: Iterable[str]) -> dict[str, str | None]:
        """Each path's blob id at ``tip`` (None: absent); contents go to the blob cache."""
        wanted = sorted(paths)
        found: dict[str, str | None] = {}
        for start in range(0, len(wanted), CHUNK):
            request = pb.GetBlobsRequest(
                repository_id=self.repository_id,
                revision=tip,
                paths=wanted[start : start + CHUNK],
                quarantine_id=self.quarantine_id,
            )
            async for batch in self.git.get_blob_batches(request):
                for blob in batch.blobs:
                    found[blob.path] = None if blob.missing else blob.blob_id
                    if not blob.missing:
                        self._blobs[blob.blob_id] = blob.content
        return found

    async def _dangling(
        self,
        tip: str,
        gone: set[ResourceIdentity],
        changed: set[str],
        state: dict[str, str | None],
        *,
        complete: bool,
    ) -> list[ContentError]:
        """References of the manifests the push left alone to resources it deleted (every
        manifest of the kinds that can refer to them is read: deleting is the rare case)."""
        targets = referencing_kinds(self.registry)
        scan = {k for i in gone for k in targets.get(i.kind, ())}
        if complete:
            files = [
                (p, b) for p, b in state.items() if b and (i := self._id(p)) and i.kind in scan
            ]
        else:
            tree = await self._tree(tip, scan)
            files = [f for held in tree.values() for f in held]
        others = [f for f in files if f[0] not in changed]
        parsed = await self.parse(others)
        manifests = [r.manifest for r in parsed.values() if r.manifest is not None]

        def exists(kind: str, name: str) -> bool:  # pre-existing dangling refs are not ours
            return ResourceIdentity(kind, name) not in gone

        return await asyncio.to_thread(reference_errors, manifests, exists, self.registry)

    async def _tree(self, tip: str, kinds: Iterable[str]) -> dict[ResourceIdentity, list[Key]]:
        wanted = {self.registry.get(k).plural for k in kinds if k in self.registry}
        top = await self.listing(tip)  # a ListTree of a missing directory is NOT_FOUND
        dirs = sorted(e.path for e in top if e.type == pb.ENTRY_TYPE_TREE and e.path in wanted)
        listings = await asyncio.gather(*(self.listing(tip, f"{d}/") for d in dirs))
        files: dict[ResourceIdentity, list[Key]] = defaultdict(list)
        for entries in listings:
            for entry in entries:
                if entry.type != pb.ENTRY_TYPE_BLOB:
                    continue
                identity = _identity(entry.path, self.registry)
                if identity is not None:
                    files[identity].append((entry.path, entry.oid))
        return files


def tip_base(push: RefPush) -> str | None:
    """What a ref's tip is compared with: its old value, or for a new ref the parent of its
    oldest pushed commit ("" = the empty tree); None when there is nothing new to check."""
    if push.deleted:
        return None
    if not push.created:
        return push.old
    if not push.commits:
        return None
    pushed = {c.sha for c in push.commits}
    for commit in push.commits:
        if not commit.parents:
            return ""
        outside = [p for p in commit.parents if p not in pushed]
        if outside:
            return outside[0]
    return ""


def _identity(path: str, registry: KindRegistry) -> ResourceIdentity | None:
    try:
        found = identity_for_path(path, registry)
    except ManifestError:
        return None
    return None if found is None else found.identity


def _referenced(manifests: Iterable[Manifest], registry: KindRegistry) -> set[ResourceIdentity]:
    return {ResourceIdentity(k, n) for m in manifests for _, k, n in references(m, registry)}


def _duplicates(identity: ResourceIdentity, held: list[Key]) -> list[ContentError]:
    return duplicate_files(str(identity), [path for path, _ in held])


def _order(e: ContentError) -> tuple[str, str, str]:
    return (e.path, e.field, e.rule)
