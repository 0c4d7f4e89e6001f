"""A first projection's plan (a diff from nothing) takes ``_plan_from_nothing``; it must be
the plan of the general ``_plan_diff`` on the same diff: the same upserts (with their
identities), deletes and conflicts, in the same order, with the same messages (real git
service). A diff with a base (renames, deletes) keeps the general path."""

from __future__ import annotations

import pytest

from gitstore.domain.content import KindRegistry, Layout, path_for
from gitstore.domain.content.layout import bucket_for
from gitstore.git.client import GitClient
from gitstore.git.v1 import git_service_pb2 as pb
from gitstore.worker.changes import Plan, _plan_diff, _plan_from_nothing, changed, plan_changes
from tests.worker.harness import commit, encode, head_of, product

pytestmark = pytest.mark.asyncio
REGISTRY = KindRegistry.builtin()


def fan(name: str, ext: str = ".yaml") -> str:
    return path_for("Product", name, registry=REGISTRY, layout=Layout.FANOUT).replace(".yaml", ext)


def wrong_bucket(name: str) -> str:
    right = bucket_for(name)
    return f"products/{'00' if right != '00' else '01'}/{name}.yaml"


def tricky_tree() -> dict[str, bytes]:
    files = {
        fan("p-fan"): encode(product("p-fan")),
        "products/p-flat.yaml": encode(product("p-flat")),
        fan("p-json", ".json"): b'{"kind": "Product"}',
        "products/p-yml.yml": encode(product("p-yml")),
        fan("p-dup"): encode(product("p-dup")),  # three spellings of one identity
        "products/p-dup.yaml": encode(product("p-dup")),
        "products/p-dup.json": b"{}",
        fan("p-two", ".yml"): encode(product("p-two")),  # two spellings
        "products/p-two.json": b"{}",
        wrong_bucket("p-lost"): encode(product("p-lost")),
        "products/Upper.yaml": b"x",
        "products/bad_name.yaml": b"x",
        "products/p-ext.txt": b"x",
        "products/sub/dir/p-deep.yaml": b"x",
        "products/README.md": b"# products",
        "products/.gitkeep": b"",
        f"products/{bucket_for('p-fan')}/.gitkeep": b"",
        "README.md": b"# catalog",
        ".gitignore": b"*.tmp\n",
        "docs/ab/guide.md": b"guide",
        "gadgets/g-1.yaml": b"x",  # not a kind directory
        "categories/shoes.md": b"---\nkind: Category\n---\n",
        fan("a"): b"x",
        fan("0-zero"): b"x",
    }
    for i in range(30):  # enough names to spread over buckets and sort
        files[fan(f"sku-{i:03d}")] = encode(product(f"sku-{i:03d}"))
    return files


def summary(plan: Plan) -> tuple[object, ...]:
    return (
        [(f.path, f.blob_id, f.identity, f.moved_from, f.content) for f in plan.upserts],
        plan.deletes,
        plan.conflicts,
        plan.full,
        plan.rekinded,
    )


async def test_first_plan_equals_the_general_plan(git: GitClient, repo: str) -> None:
    await commit(git, repo, tricky_tree())
    head = await head_of(git, repo)

    fast = await plan_changes(git, repo, base=None, target=head, registry=REGISTRY)
    diff = await changed(git, repo, None, head)
    general = await _plan_diff(
        git, repo, Plan(None, head), diff, [], registry=REGISTRY, base_registry=None
    )
    assert summary(fast) == summary(general)
    # the sample exercises every outcome
    assert len(fast.upserts) == 30 + 7
    assert {e.path for e in fast.conflicts} >= {
        wrong_bucket("p-lost"),
        "products/Upper.yaml",
        "products/sub/dir/p-deep.yaml",
        fan("p-dup"),
        "products/p-two.json",
    }
    identities = [(f.identity.kind, f.identity.name) for f in fast.upserts if f.identity]
    assert len(identities) == len(fast.upserts)
    assert identities == sorted(identities)  # sorted by (kind, name), kinds mixed
    assert {kind for kind, _ in identities} == {"Category", "Product"}


async def test_a_listing_with_a_delete_or_rename_is_left_to_the_general_path() -> None:
    added = pb.ChangedPath(path=fan("p-a"), change_type=pb.CHANGE_TYPE_ADDED, new_blob_id="1" * 40)
    for odd in (
        pb.ChangedPath(path=fan("p-b"), change_type=pb.CHANGE_TYPE_DELETED, old_blob_id="2" * 40),
        pb.ChangedPath(
            path=fan("p-c"),
            old_path=fan("p-b"),
            change_type=pb.CHANGE_TYPE_RENAMED,
            new_blob_id="3" * 40,
        ),
    ):
        plan = Plan(None, "t")
        assert not _plan_from_nothing(plan, [added, odd], REGISTRY)
        assert summary(plan) == summary(Plan(None, "t"))


async def test_a_diff_with_a_base_plans_moves_deletes_and_conflicts(
    git: GitClient, repo: str
) -> None:
    await commit(
        git,
        repo,
        {
            "products/p-move.yaml": encode(product("p-move")),
            "products/p-gone.yaml": encode(product("p-gone")),
            "products/p-keep.yaml": encode(product("p-keep")),
        },
    )
    first = await head_of(git, repo)
    await commit(
        git,
        repo,
        {
            fan("p-move"): encode(product("p-move")),  # a git mv to the fan-out layout
            fan("p-keep", ".json"): b"{}",  # a second spelling: a duplicate
            wrong_bucket("p-new"): encode(product("p-new")),
            "products/README.md": b"readme",
        },
        ["products/p-move.yaml", "products/p-gone.yaml"],
    )
    second = await head_of(git, repo)
    plan = await plan_changes(git, repo, base=first, target=second, registry=REGISTRY)
    assert [(f.path, f.moved_from) for f in plan.upserts] == [
        (fan("p-move"), "products/p-move.yaml")
    ]
    assert plan.deletes == [("product", "p-gone")]
    assert [(e.path, e.rule) for e in plan.conflicts] == [
        (wrong_bucket("p-new"), "invalid-path"),
        *[(p, "duplicate") for p in (fan("p-keep", ".json"), "products/p-keep.yaml")],
    ]
