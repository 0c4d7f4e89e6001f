"""The plan computes each changed file's path identity once and hands it to validation
(``FileAt.identity`` -> ``prepare_file(identity=...)``): the identity is the one
``identity_for_path`` gives, and a file whose content disagrees with its path is still
refused (real git service, real KV)."""

from __future__ import annotations

import pytest

from gitstore.backends.kv import KvStore
from gitstore.domain.content import KindRegistry, Layout, identity_for_path, path_for
from gitstore.git.client import GitClient
from gitstore.worker.changes import plan_changes
from gitstore.worker.projector import Projector
from tests.worker.harness import commit, encode, files_of, head_of, product

pytestmark = pytest.mark.asyncio
REGISTRY = KindRegistry.builtin()


async def test_planned_files_carry_their_identity_and_mismatches_are_refused(
    git: GitClient, kv: KvStore, repo: str, projector: Projector
) -> None:
    files = files_of(product("p-flat"), product("p-two"))
    fanout = path_for("Product", "p-fan", registry=REGISTRY, layout=Layout.FANOUT)
    files[fanout] = encode(product("p-fan"))
    files["products/p-wrong.yaml"] = encode(product("p-other"))  # name disagrees with path
    await commit(git, repo, files)
    first = await head_of(git, repo)

    plan = await plan_changes(git, repo, base=None, target=first, registry=REGISTRY)
    assert sorted(f.path for f in plan.upserts) == sorted(files)
    for f in plan.upserts:
        assert f.identity is not None
        assert f.identity == identity_for_path(f.path, REGISTRY)

    result = await projector.project(repo)
    assert result.upserts == 3
    assert [(e.path, e.rule) for e in result.invalid] == [
        ("products/p-wrong.yaml", "identity-mismatch")
    ]

    await commit(git, repo, files_of(product("p-two", title="changed")), ["products/p-flat.yaml"])
    second = await head_of(git, repo)
    plan = await plan_changes(git, repo, base=first, target=second, registry=REGISTRY)
    assert [(f.path, f.identity) for f in plan.upserts] == [
        ("products/p-two.yaml", identity_for_path("products/p-two.yaml", REGISTRY))
    ]
    assert plan.deletes == [("product", "p-flat")]
