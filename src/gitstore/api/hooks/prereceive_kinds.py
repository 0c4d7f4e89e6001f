"""The kinds of a push: each pushed commit judged with the registry of its own tree.

A push may add a kind and resources of it in one commit, change a kind and migrate its
resources, or remove one; so there is no single registry for a push. For every pushed
commit (and every pushed tip) this module looks up the registry of *that* commit
(``KindsLoader``: one ``ListTree`` of the top level, the registry itself cached by the id of
the ``kinds/`` tree) and:

* when the commit's ``kinds/`` tree differs from its first parent's, admits the change with
  the rules of ``domain.kindchange``, wired by ``api.kinds`` (conflicting definitions,
  stranded resources, Wasm hooks that do not round-trip), reading the commit's tree through
  the push's quarantine; the refusals are violations of that commit (``remote:`` lines
  naming the definition file);
* when the commit changes the hook module file of a kind whose definition it leaves alone
  (``hooks/price.wasm`` rebuilt), admits it the same way (``hooks_changed``): the stored
  resources written in a spoke version must still convert, and the examples round-trip;
* hands ``prereceive_content.ContentCheck`` the registry to validate with: commits are
  grouped by registry (nearly always one group) and each group gets its own check, so the
  per-file checks are exactly the existing ones, run with the right kinds.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace

from gitstore.backends.wasm.pool import AsyncHookRunner
from gitstore.domain.content import KindRegistry
from gitstore.domain.conversion import HookRunner
from gitstore.domain.publishing import RefPush, Violation, content_violations
from gitstore.git.client import GitClient
from gitstore.git.kinds import EMPTY, KindsLoader, file_at, stored_files
from gitstore.git.v1 import git_service_pb2 as pb

from ..kinds import hub_converter, kind_change_problems
from .prereceive_content import ContentCheck, tip_base


class PushKinds:
    """Registries of a push's commits, and the checks of their kind changes."""

    def __init__(
        self,
        git: GitClient,
        loader: KindsLoader,
        repository_id: str,
        quarantine_id: str,
        runner: Callable[[], HookRunner],
        max_bytes: int,
        pool: Callable[[], AsyncHookRunner] | None = None,
    ) -> None:
        self.git = git
        self.loader = loader
        self.repository_id = repository_id
        self.quarantine_id = quarantine_id
        self.runner = runner
        self.max_bytes = max_bytes
        self.convert = hub_converter(runner, pool)
        self._trees: dict[str, str] = {}

    async def tree(self, sha: str) -> str:
        if sha not in self._trees:
            self._trees[sha] = await self.loader.tree_id(
                self.repository_id, sha, quarantine_id=self.quarantine_id
            )
        return self._trees[sha]

    async def registry(self, sha: str) -> KindRegistry:
        tree = await self.tree(sha)
        kinds = await self.loader.of_tree(
            self.repository_id, sha, tree, quarantine_id=self.quarantine_id
        )
        return kinds.registry

    async def check(self, pushes: Sequence[RefPush]) -> tuple[list[Violation], ContentChecks]:
        """Violations of the pushed kind changes, and the content checks by registry."""
        violations: list[Violation] = []
        seen: set[str] = set()
        by_registry: dict[int, tuple[KindRegistry, set[str]]] = {}
        for push in pushes:
            for commit in push.commits:
                if commit.sha in seen:
                    continue
                seen.add(commit.sha)
                parent = commit.parents[0] if commit.parents else ""
                violations.extend(await self._changes(push.ref, commit.sha, parent))
                registry = await self.registry(commit.sha)
                by_registry.setdefault(id(registry), (registry, set()))[1].add(commit.sha)
        checks = ContentChecks(self, by_registry)
        return violations, checks

    async def _changes(self, ref: str, sha: str, parent: str) -> list[Violation]:
        tree = await self.tree(sha)
        before = await self.tree(parent) if parent else EMPTY
        q = self.quarantine_id
        kinds = await self.loader.of_tree(self.repository_id, sha, tree, quarantine_id=q)
        modules = _modules(kinds.registry)
        if tree == before and not modules:
            return []
        paths = await self._changed_paths(sha, parent)
        rehooked = {kind for path in paths for kind in modules.get(path, ())}
        if tree == before and not rehooked:
            return []
        old = await self.registry(parent) if parent else self.loader.base

        async def stored(directories: Sequence[str]) -> list[tuple[str, str, bytes]]:
            return await stored_files(
                self.git, self.repository_id, sha, directories, quarantine_id=q
            )

        async def module(path: str) -> bytes | None:
            return await file_at(self.git, self.repository_id, sha, path, quarantine_id=q)

        errors = await kind_change_problems(
            old,
            kinds,
            stored,
            module,
            self.runner,
            max_bytes=self.max_bytes,
            hooks_changed=rehooked,
            convert=self.convert,
            changed_paths=paths,
        )
        return content_violations(ref, sha, errors)

    async def _changed_paths(self, sha: str, parent: str) -> set[str]:
        request = pb.GetChangedPathsRequest(
            repository_id=self.repository_id,
            from_revision=parent,
            to_revision=sha,
            quarantine_id=self.quarantine_id,
        )
        return {c.path for c in await self.git.get_changed_paths(request)}


def _modules(registry: KindRegistry) -> dict[str, set[str]]:
    """The hook module paths of the registry's custom kinds, and the kinds using each."""
    modules: dict[str, set[str]] = {}
    for definition in registry:
        hook = definition.conversion
        if not definition.builtin and hook.strategy == "Wasm":
            modules.setdefault(hook.module, set()).add(definition.kind)
    return modules


class ContentChecks:
    """``ContentCheck``s of one push, one per registry its commits use."""

    def __init__(self, kinds: PushKinds, groups: dict[int, tuple[KindRegistry, set[str]]]) -> None:
        self.kinds = kinds
        self.groups = groups
        self._checks: dict[int, ContentCheck] = {}

    def _check(self, registry: KindRegistry) -> ContentCheck:
        key = id(registry)
        if key not in self._checks:
            k = self.kinds
            self._checks[key] = ContentCheck(
                k.git, k.repository_id, k.quarantine_id, registry, k.max_bytes, k.convert
            )
        return self._checks[key]

    async def check_commits(self, pushes: Sequence[RefPush]) -> list[Violation]:
        out: list[Violation] = []
        for registry, shas in self.groups.values():
            mine = [
                replace(p, commits=tuple(c for c in p.commits if c.sha in shas)) for p in pushes
            ]
            out.extend(await self._check(registry).check_commits(mine))
        return out

    async def check_tip(self, push: RefPush) -> list[Violation]:
        if tip_base(push) is None or not push.peeled:
            return []
        registry = await self.kinds.registry(push.peeled)
        return await self._check(registry).check_tip(push)

    @property
    def validated(self) -> int:
        return sum(c.validated for c in self._checks.values())
