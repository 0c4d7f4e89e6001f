"""Kind changes re-project stored resources: which kinds a commit re-judges, and their files.

A resource's KV document (and its commit status) depends on its file *and* on its kind: the
hub form of a file written in a spoke version is what the kind's hook makes of it, and
whether a file is valid at all is decided by the kind's schemas. So when a commit changes a
kind without touching the kind's resources, those resources must be judged again:

* a kind **added or changed** between the base and the target registry
  (``kindset.changed_kinds``: versions, schemas, hub, conversion strategy, hook module path
  or ``sha256`` — anything in ``KindDefinition.fingerprint``);
* a kind whose **hook module file** the diff touches (``conversion.module`` among the changed
  paths) while its definition stayed as it was: the bytes at that path are what every
  spoke file of the kind is converted with (bytes that no longer match the declared
  ``sha256`` are refused, and a module that now matches converts files that failed before).

``redo_kinds`` names them; ``kind_files`` lists every file under their directories at the
target (one recursive ``ListTree`` per directory, no contents: the projector fetches what its
prepared-file cache does not hold, and the cache is keyed by the registry's fingerprint, so
nothing is answered with an older hook's output). Every file of such a kind is re-prepared —
also those written in the hub version, whose documents come out the same — because which
files are spokes is only known after parsing, and a kind whose hub moved (``v1`` → ``v2``)
changes the documents of files written in either version. It also stamps every document of
the kind with the new commit, so caches keyed by a document's version (down-converted
reads) never serve a form the old hook made.

Used by the projector's change plan (``changes.plan_changes``: the files join the plan as
upserts) and by commit statuses (``statuses``: the files are judged with the commit).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable

from gitstore.domain.content import KindRegistry
from gitstore.domain.content.kinds import KindDefinition
from gitstore.domain.content.kindset import KINDS_DIRECTORY, changed_kinds
from gitstore.git.client import GitClient
from gitstore.git.v1 import git_service_pb2 as pb


def redo_kinds(
    old: KindRegistry, new: KindRegistry, changed_paths: Iterable[str]
) -> list[KindDefinition]:
    """The custom kinds of ``new`` whose resources a change from ``old`` must re-judge."""
    _, changed = changed_kinds(old, new)
    paths = set(changed_paths)
    return [d for d in new if not d.builtin and (d.kind in changed or _module_changed(d, paths))]


async def kinds_to_redo(
    new: KindRegistry,
    changed_paths: Iterable[str],
    old: Callable[[], Awaitable[KindRegistry]],
) -> list[KindDefinition]:
    """``redo_kinds`` reading the base registry (``old()``) only when the change touches
    ``kinds/``: otherwise no definition changed and only hook module paths can matter."""
    paths = list(changed_paths)
    if any(p.startswith(f"{KINDS_DIRECTORY}/") for p in paths):
        return redo_kinds(await old(), new, paths)
    return redo_kinds(new, new, paths)


def _module_changed(definition: KindDefinition, paths: set[str]) -> bool:
    hook = definition.conversion
    return hook.strategy == "Wasm" and hook.module in paths


async def kind_files(
    git: GitClient, repository: str, revision: str, kinds: Iterable[KindDefinition]
) -> dict[str, str]:
    """``path -> blob id`` of every file under the kinds' directories at ``revision``."""
    plurals = sorted({d.plural for d in kinds})
    if not plurals:
        return {}
    top = pb.ListTreeRequest(repository_id=repository, revision=revision)
    present = {e.path async for e in git.list_tree(top) if e.type == pb.ENTRY_TYPE_TREE}
    found: dict[str, str] = {}
    for plural in plurals:
        if plural not in present:  # a ListTree of a missing directory is NOT_FOUND
            continue
        request = pb.ListTreeRequest(
            repository_id=repository, revision=revision, path_prefix=f"{plural}/", recursive=True
        )
        async for entry in git.list_tree(request):
            if entry.type == pb.ENTRY_TYPE_BLOB:
                found[entry.path] = entry.oid
    return found
