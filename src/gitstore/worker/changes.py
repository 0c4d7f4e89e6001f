"""The change plan: which documents a projection must write to reach a target commit.

Input: the commit the KV last materialised (``base``, None for nothing), the ``target``
(the branch head) and any ``dirty`` targets — heads an unfinished, chunked projection was
writing towards (its chunks may have left documents of *that* commit behind, see
``projector``). Output: per resource identity ``(kind, name)``, what the target holds:

* no file: **delete** the document;
* exactly one file: **upsert** it (to be fetched, parsed and validated);
* two or more files (``products/a.yaml`` and ``products/a.json``): a ``duplicate`` conflict,
  reported, and the document left as it is (the last valid projection stays served).

The paths to look at are ``GetChangedPaths(base, target)`` plus ``GetChangedPaths(base, t)``
for each dirty ``t``. A path's state at the target is known from the first diff; for the
rest (other spellings of a changed identity, paths only a dirty target touched) it is looked
up by path at the target (``GetBlobBatches`` by path, answered ``missing`` when absent). From the
empty tree nothing needs looking up: the diff lists every file of the target, once, so a
first projection's plan (``_plan_from_nothing``, on the event loop before any chunk starts)
decides each identity as it meets it, without the general path's per-path maps.

A commit that changes a kind (its definition or its hook module) also plans every file of
that kind, changed or not, when the caller passes the base's registry (``rekind``): their
hub forms and validity depend on the kind.

Files that break the path convention (``products/Blue.yaml``) are conflicts too; files
outside kind directories (``README.md``) are not manifests and are ignored.

``plan_full`` is the fallback when ``base`` is unknown to Git (history rewritten, a foreign
KV): every manifest of the target tree is upserted and every document the KV holds that the
tree lacks is deleted.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict, defaultdict
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field

from gitstore.backends.kv import KvStore
from gitstore.backends.kv.base import MAX_PAGE_SIZE, Upsert, encode_upsert
from gitstore.domain.content import (
    ContentError,
    KindRegistry,
    ManifestError,
    PathIdentity,
    candidate_paths,
    identity_for_path,
)
from gitstore.domain.content.references import duplicate_files
from gitstore.domain.keys import ChannelScope
from gitstore.domain.projection import document_indexes, document_kind
from gitstore.git.client import GitClient
from gitstore.git.v1 import git_service_pb2 as pb
from gitstore.worker.rekind import kind_files, kinds_to_redo

# Paths / blob ids per GetBlobBatches request (the service allows 10,000).
LOOKUP_CHUNK = 5000
# Concurrent GetBlobBatches streams for one large set of blob ids.
FETCH_STREAMS = 2
DIFFS = 256  # diffs between two commit shas remembered by ``changed``


@dataclass(frozen=True, slots=True)
class FileAt:
    """A file of the target tree; ``content`` is set when a path lookup already read it.

    ``moved_from``: the resource's only other file at the base, deleted by the change, held
    the same blob (a layout migration, a ``git mv``): only the document's ``path`` changes.
    ``relocated``: that document's upsert, built by the projector from the KV document (no
    fetch, parse or validation). ``identity``: ``identity_for_path(path)`` with the plan's
    registry, when the plan computed it (validation takes it instead of computing it
    again)."""

    path: str
    blob_id: str
    content: bytes | None = None
    moved_from: str = ""
    relocated: Upsert | None = None
    identity: PathIdentity | None = None


@dataclass(slots=True)
class Plan:
    base: str | None
    target: str
    upserts: list[FileAt] = field(default_factory=list)
    deletes: list[tuple[str, str]] = field(default_factory=list)  # (kv kind, name)
    conflicts: list[ContentError] = field(default_factory=list)
    full: bool = False
    rekinded: list[str] = field(default_factory=list)  # kinds re-judged whole (``rekind``)

    def __len__(self) -> int:
        return len(self.upserts) + len(self.deletes)


_diffs: OrderedDict[tuple[str, str, str], tuple[pb.ChangedPath, ...]] = OrderedDict()


def _is_sha(revision: str) -> bool:
    return len(revision) in (40, 64) and all(c in "0123456789abcdef" for c in revision)


async def changed(
    git: GitClient, repository: str, from_revision: str | None, to_revision: str
) -> list[pb.ChangedPath]:
    """The paths changed from ``from_revision`` to ``to_revision``. A diff between two commit
    shas of a repository never changes (content-addressed), and one commit is
    diffed by several steps of the worker (resource sync, the draft projection, publishing):
    the last ``DIFFS`` such diffs are remembered, so those steps cost one ``GetChangedPaths``."""
    key = (repository, from_revision or "", to_revision)
    known = _diffs.get(key)
    if known is not None:
        _diffs.move_to_end(key)
        return list(known)
    request = pb.GetChangedPathsRequest(
        repository_id=repository, from_revision=from_revision or "", to_revision=to_revision
    )
    paths = await git.get_changed_paths(request)
    if _is_sha(from_revision or "") and _is_sha(to_revision):
        _diffs[key] = tuple(paths)
        while len(_diffs) > DIFFS:
            _diffs.popitem(last=False)
    return list(paths)


async def files_at(
    git: GitClient, repository: str, revision: str, paths: Iterable[str]
) -> dict[str, FileAt | None]:
    """Each path's file at ``revision`` (with its content), None where there is none."""
    wanted = sorted(set(paths))
    found: dict[str, FileAt | None] = {}
    for start in range(0, len(wanted), LOOKUP_CHUNK):
        request = pb.GetBlobsRequest(
            repository_id=repository,
            revision=revision,
            paths=wanted[start : start + LOOKUP_CHUNK],
        )
        async for batch in git.get_blob_batches(request):
            for blob in batch.blobs:
                found[blob.path] = (
                    None if blob.missing else FileAt(blob.path, blob.blob_id, blob.content)
                )
    return found


async def contents(git: GitClient, repository: str, blob_ids: Iterable[str]) -> dict[str, bytes]:
    """The content of each blob id (ids the service does not have are left out).

    ``GetBlobBatches`` packs many blobs per message; sets larger than ``LOOKUP_CHUNK`` are
    split over up to ``FETCH_STREAMS`` concurrent streams.
    """
    wanted = sorted(set(blob_ids))
    parts = [wanted[i : i + LOOKUP_CHUNK] for i in range(0, len(wanted), LOOKUP_CHUNK)]
    out: dict[str, bytes] = {}

    async def fetch(part: list[str]) -> None:
        request = pb.GetBlobsRequest(repository_id=repository, blob_ids=part)
        async for batch in git.get_blob_batches(request):
            for blob in batch.blobs:
                if not blob.missing:
                    out[blob.blob_id] = blob.content

    for start in range(0, len(parts), FETCH_STREAMS):
        await asyncio.gather(*(fetch(p) for p in parts[start : start + FETCH_STREAMS]))
    return out


def _path_identity(
    path: str, registry: KindRegistry
) -> tuple[PathIdentity | None, tuple[ContentError, ...]]:
    try:
        return identity_for_path(path, registry), ()
    except ManifestError as err:
        return None, tuple(err.errors)


def _duplicate(identity: tuple[str, str], files: list[FileAt]) -> list[ContentError]:
    kind, name = identity
    return duplicate_files(
        f"{kind}/{name}",
        [f.path for f in files],
        " — the last valid projection stays served",
    )


def _resolve(
    plan: Plan,
    touched: dict[tuple[str, str], set[str]],
    state: dict[str, FileAt | None],
    registry: KindRegistry,
    *,
    complete: bool = False,
    gone: dict[str, str] | None = None,
) -> None:
    """``complete``: ``state`` holds every file of the target (a diff from nothing with dirty
    targets besides; plain listings go through ``_plan_listing``), so an identity met at one
    path has no other spelling to look for. ``gone``:
    the blob each path deleted by the diff held at the base (to recognise moves)."""
    for identity in sorted(touched):
        kind, name = identity
        paths = touched[identity]
        if complete and len(paths) == 1:
            found = state.get(next(iter(paths)))
            present = [] if found is None else [found]
        else:
            spellings = candidate_paths(kind, name, registry)
            present = [f for p in spellings if (f := state.get(p)) is not None]
        if not present:
            plan.deletes.append((document_kind(kind), name))
        elif len(present) == 1:
            plan.upserts.append(_moved(present[0], paths, gone or {}))
        else:
            plan.conflicts.extend(_duplicate(identity, present))


def _moved(found: FileAt, paths: set[str], gone: dict[str, str]) -> FileAt:
    """``found`` marked as moved when the identity's one deleted path held its very blob."""
    if not gone:  # nothing deleted (a first projection): no move
        return found
    before = [p for p in paths if p != found.path and p in gone]
    if len(before) == 1 and gone[before[0]] == found.blob_id:
        return FileAt(
            found.path, found.blob_id, found.content, moved_from=before[0], identity=found.identity
        )
    return found


async def plan_changes(
    git: GitClient,
    repository: str,
    *,
    base: str | None,
    target: str,
    dirty: Iterable[str] = (),
    registry: KindRegistry,
    base_registry: Callable[[], Awaitable[KindRegistry]] | None = None,
) -> Plan:
    """The plan from ``base`` (plus ``dirty`` targets) to ``target``; ``NotFound`` when
    ``base`` or a dirty target is not a commit of the repository. ``base_registry`` (reads
    the kinds of ``base``): every file of a kind the change re-judges (``rekind``) is
    planned too, changed or not."""
    plan = Plan(base, target)
    diff = await changed(git, repository, base, target)
    others = [other for other in dict.fromkeys(dirty) if other != target]
    if base is None and not others and _plan_from_nothing(plan, diff, registry):
        return plan
    return await _plan_diff(
        git, repository, plan, diff, others, registry=registry, base_registry=base_registry
    )


def _plan_from_nothing(plan: Plan, diff: list[pb.ChangedPath], registry: KindRegistry) -> bool:
    """The plan of a diff from nothing (a first projection), filled into the empty ``plan``
    (``_plan_listing``); False (``plan`` untouched) for a diff that is not a plain listing (a
    delete or rename, which a diff from the empty tree never has: the general path takes it).
    """
    if any(c.change_type in (pb.CHANGE_TYPE_DELETED, pb.CHANGE_TYPE_RENAMED) for c in diff):
        return False
    _plan_listing(plan, [(c.path, c.new_blob_id) for c in diff], registry)
    return True


def _plan_listing(
    plan: Plan, files: Iterable[tuple[str, str]], registry: KindRegistry
) -> dict[str, dict[str, FileAt]]:
    """Upserts and conflicts of a complete listing of the target (``(path, blob id)``, each
    file once: a diff from nothing, or ``plan_full``'s tree), filled into ``plan``; the
    identities met, by kind and name.

    The same plan as the general path's ``_resolve(complete=True)`` with the work per path
    cut to what a listing needs: every path is present, so a path's identity decides at once
    unless another path has the same identity (a duplicate, resolved by the general rule),
    and identities are grouped by kind so the upserts are sorted by name within each kind
    (the order of the sorted ``(kind, name)`` pairs) without a tuple per path.
    """
    conflicts: list[ContentError] = []
    by_kind: dict[str, dict[str, FileAt]] = {}
    again: dict[tuple[str, str], dict[str, FileAt]] = {}  # identities met more than once
    for path, blob_id in files:
        try:
            at = identity_for_path(path, registry)
        except ManifestError as err:
            conflicts.extend(err.errors)  # a file the convention refuses
            continue
        if at is None:
            continue
        names = by_kind.get(at.kind)
        if names is None:
            names = by_kind[at.kind] = {}
        found = FileAt(path, blob_id, identity=at)
        first = names.setdefault(at.name, found)
        if first is not found:
            files_of = again.setdefault((at.kind, at.name), {first.path: first})
            files_of[path] = found
    plan.conflicts.extend(conflicts)
    for kind in sorted(by_kind):
        names = by_kind[kind]
        for name in sorted(names):
            spelled = again.get((kind, name))
            if spelled is None:
                plan.upserts.append(names[name])
            elif len(spelled) == 1:  # one path listed twice: its last listing
                plan.upserts.append(next(iter(spelled.values())))
            else:
                spellings = candidate_paths(kind, name, registry)
                present = [f for p in spellings if (f := spelled.get(p)) is not None]
                plan.conflicts.extend(_duplicate((kind, name), present))
    return by_kind


async def _plan_diff(
    git: GitClient,
    repository: str,
    plan: Plan,
    diff: list[pb.ChangedPath],
    others: list[str],
    *,
    registry: KindRegistry,
    base_registry: Callable[[], Awaitable[KindRegistry]] | None,
) -> Plan:
    """The general plan: ``diff`` from ``plan.base`` to ``plan.target``, the paths the
    dirty targets ``others`` touched, the kinds to re-judge."""
    base, target = plan.base, plan.target
    state: dict[str, FileAt | None] = {}
    gone: dict[str, str] = {}
    # Each path's identity, computed once: planning and (through ``FileAt.identity``)
    # validation both need it.
    ids: dict[str, tuple[PathIdentity | None, tuple[ContentError, ...]]] = {}
    for change in diff:
        deleted = change.change_type == pb.CHANGE_TYPE_DELETED
        if deleted:
            state[change.path] = None
        else:
            ids[change.path] = known = _path_identity(change.path, registry)
            state[change.path] = FileAt(change.path, change.new_blob_id, identity=known[0])
        if deleted and change.old_blob_id:
            gone[change.path] = change.old_blob_id
        if change.change_type == pb.CHANGE_TYPE_RENAMED and change.old_path:
            state.setdefault(change.old_path, None)
            gone[change.old_path] = change.old_blob_id
    extra: set[str] = set()
    for other in others:
        extra.update(c.path for c in await changed(git, repository, base, other))
    extra.difference_update(state)
    listed: set[str] = set()  # kinds whose directories were listed whole at the target
    if base is not None and base_registry is not None:
        redo = await kinds_to_redo(registry, [*state, *extra], base_registry)
        for path, blob_id in (await kind_files(git, repository, target, redo)).items():
            if path not in state:
                state[path] = FileAt(path, blob_id)
        listed = {d.kind for d in redo}
        plan.rekinded = sorted(listed)

    touched: dict[tuple[str, str], set[str]] = defaultdict(set)
    for path in [*state, *sorted(extra)]:
        at, errors = ids.get(path) or _path_identity(path, registry)
        if errors and state.get(path) is not None:
            plan.conflicts.extend(errors)  # a changed file the convention refuses
        if at is not None:
            touched[(at.kind, at.name)].add(path)

    if base is not None:  # the diff from nothing lists every file: nothing else to look up
        unknown = {
            p
            for kind, name in touched
            if kind not in listed  # every spelling of a listed kind is in ``state``
            for p in candidate_paths(kind, name, registry)
            if p not in state
        }
        if unknown:
            state.update(await files_at(git, repository, target, unknown))
    if extra:  # a dirty target's files may be in the KV: no move shortcut
        gone.clear()
    _resolve(plan, touched, state, registry, complete=base is None, gone=gone)
    return plan


async def relocate(
    kv: KvStore, scope: ChannelScope, upserts: list[FileAt], registry: KindRegistry
) -> list[FileAt]:
    """``upserts`` with each moved file (``moved_from``) given its ``relocated`` upsert: the
    KV document of the same identity, when it was written from that very blob at the old
    path, with only ``path`` changed (same spec, labels, annotations and index entries; the
    rule-based collection entries are recomputed downstream like any product's). A layout
    migration of N files then costs N KV reads instead of N fetches, parses and
    validations. A file whose document does not match (missing, invalid at the base, another
    blob) keeps the ordinary path. ``scope`` must hold the plan's base (no open claim)."""
    moved: dict[str, list[tuple[int, str]]] = defaultdict(list)  # kv kind -> (index, name)
    for i, f in enumerate(upserts):
        if not f.moved_from:
            continue
        found = f.identity or _path_identity(f.path, registry)[0]  # the plan's, if it has it
        if found is not None:
            moved[document_kind(found.kind)].append((i, found.name))
    if not moved:
        return upserts
    out = list(upserts)
    for kind, items in moved.items():
        for start in range(0, len(items), MAX_PAGE_SIZE):
            part = items[start : start + MAX_PAGE_SIZE]
            docs = await kv.get_many(scope, kind, [name for _, name in part])
            for (i, name), doc in zip(part, docs, strict=True):
                f = out[i]
                value = doc.value() if doc is not None else {}
                if value.get("path") != f.moved_from or value.get("blobId") != f.blob_id:
                    continue
                value["path"] = f.path
                spec = value.get("spec")
                indexes = document_indexes(str(value.get("kind")), name, spec or {})
                upsert = encode_upsert(kind, name, value, indexes=indexes)
                out[i] = FileAt(f.path, f.blob_id, f.content, f.moved_from, upsert, f.identity)
    return out


async def plan_full(
    git: GitClient,
    kv: KvStore,
    scope: ChannelScope,
    repository: str,
    *,
    target: str,
    registry: KindRegistry,
) -> Plan:
    """Everything: every manifest of ``target`` and a delete for every other document."""
    plan = Plan(None, target, full=True)
    request = pb.ListTreeRequest(repository_id=repository, revision=target, recursive=True)
    listing = [
        (entry.path, entry.oid)
        async for entry in git.list_tree(request)
        if entry.type == pb.ENTRY_TYPE_BLOB
    ]
    met = _plan_listing(plan, listing, registry)
    keep = {(document_kind(kind), name) for kind, names in met.items() for name in names}
    for definition in registry:
        kind = document_kind(definition.kind)
        after: str | None = None
        while True:
            page = await kv.list_documents(scope, kind, first=MAX_PAGE_SIZE, after=after)
            plan.deletes.extend(
                (kind, doc.name) for doc in page.items if (kind, doc.name) not in keep
            )
            if not page.has_next_page:
                break
            after = page.end_cursor
    return plan
