"""Rule-based collections in the projection (``worker/collections.py``): the ``collection``
index holds the products matching a collection's rules at the projected commit, against a
real git service and a SQLite KV."""

from __future__ import annotations

from typing import Any

import pytest

from gitstore.backends.kv import KvStore, encode_upsert
from gitstore.domain.content.rules import matching_collections, rule_set
from gitstore.domain.projection import document_indexes, draft_scope
from gitstore.git.client import GitClient
from gitstore.worker.collections import product_indexes, reindexed, with_collections
from gitstore.worker.projector import Projector
from tests.worker.harness import (
    FaultyKv,
    assert_kv_matches_head,
    collection,
    commit,
    files_of,
    path_of,
    product,
    visible_draft,
)


def rule_collection(name: str, *rules: tuple[str, str, str], any_rule: bool = False) -> Any:
    spec: dict[str, Any] = {
        "title": name.title(),
        "rules": [{"field": f, "relation": r, "condition": c} for f, r, c in rules],
    }
    if any_rule:
        spec["appliedDisjunctively"] = True
    return {
        "apiVersion": "gitstore.dev/v1",
        "kind": "Collection",
        "metadata": {"name": name},
        "spec": spec,
    }


async def members(kv: KvStore, repo: str, name: str, status: str | None = None) -> list[str]:
    index, value = (
        ("collection", name) if status is None else ("collection-status", f"{name}|{status}")
    )
    scope = await visible_draft(kv, repo)
    page = await kv.lookup(scope, "product", index, value, first=1000)
    return [d.name for d in page.items]


SALE = rule_collection("sale", ("tag", "equals", "sale"))
CHEAP = rule_collection("cheap", ("price", "lessThan", "20"), ("status", "equals", "active"))
EITHER = rule_collection(
    "either", ("tag", "equals", "sale"), ("price", "lessThan", "20"), any_rule=True
)


def shop() -> dict[str, bytes]:
    return files_of(
        product("a", price="10.00", tags=["Sale"], status="active"),
        product("b", price="30.00", tags=["sale"], status="active"),
        product("c", price="15.00", status="draft"),
        product("d", price="50.00", collections=["sale"]),  # names it itself
        product("e", price="40.00"),
        SALE,
        CHEAP,
        EITHER,
        collection("manual", products=["e"]),
    )


async def test_products_matching_rules_are_in_the_collection_index(
    git: GitClient, kv: KvStore, repo: str, projector: Projector
) -> None:
    await commit(git, repo, shop())
    result = await projector.project(repo)
    assert result.reindexed == 0  # a first projection writes every product anyway

    assert await members(kv, repo, "sale") == ["a", "b", "d"]  # case-insensitive tag
    assert await members(kv, repo, "sale", "active") == ["a", "b"]
    assert await members(kv, repo, "cheap") == ["a"]  # conjunctive: c is not active
    assert await members(kv, repo, "either") == ["a", "b", "c"]  # disjunctive
    assert await members(kv, repo, "manual") == []  # manual lists are read from the document
    await assert_kv_matches_head(kv, git, repo)


async def test_a_product_that_stops_matching_leaves_and_one_that_starts_joins(
    git: GitClient, kv: KvStore, repo: str, projector: Projector
) -> None:
    await commit(git, repo, shop())
    await projector.project(repo)
    await commit(
        git,
        repo,
        files_of(
            product("a", price="25.00", status="active"),  # no longer tagged, nor cheap
            product("e", price="5.00", status="active"),  # now cheap
        ),
    )
    result = await projector.project(repo)

    assert result.reindexed == 0 and result.upserts == 2  # no rule changed: no re-index
    assert await members(kv, repo, "sale") == ["b", "d"]
    assert await members(kv, repo, "cheap") == ["e"]
    assert await members(kv, repo, "either") == ["b", "c", "e"]
    await assert_kv_matches_head(kv, git, repo)


async def test_changing_rules_reindexes_existing_products(
    git: GitClient, kv: KvStore, repo: str, projector: Projector
) -> None:
    await commit(git, repo, shop())
    first = await projector.project(repo)
    before = await kv.get(draft_scope(repo), "product", "e")
    await commit(
        git,
        repo,
        files_of(
            rule_collection("sale", ("price", "greaterThan", "35")),
            rule_collection(
                "cheap", ("price", "lessThan", "20"), ("status", "equals", "active"), any_rule=True
            ),
        ),
    )
    result = await projector.project(repo)

    assert result.upserts == 2 and result.reindexed == 5
    assert await members(kv, repo, "sale") == ["d", "e"]  # d also names it
    assert await members(kv, repo, "cheap") == ["a", "b", "c"]
    after = await kv.get(draft_scope(repo), "product", "e")
    assert before is not None and after is not None
    assert after.body == before.body  # same document, new index entries
    assert before.version == first.version and after.version == result.version
    await assert_kv_matches_head(kv, git, repo)


async def test_a_title_change_costs_no_reindex(
    git: GitClient, kv: KvStore, repo: str, projector: Projector
) -> None:
    await commit(git, repo, shop())
    await projector.project(repo)
    renamed = rule_collection("sale", ("tag", "equals", "sale"))
    renamed["spec"]["title"] = "Big Sale"
    await commit(git, repo, files_of(renamed, collection("manual", products=["a", "e"])))
    result = await projector.project(repo)

    assert (result.upserts, result.reindexed) == (2, 0)
    await assert_kv_matches_head(kv, git, repo)


async def test_adding_and_deleting_a_rule_collection(
    git: GitClient, kv: KvStore, repo: str, projector: Projector
) -> None:
    await commit(git, repo, files_of(product("a", tags=["new"]), product("b")))
    await projector.project(repo)
    assert await members(kv, repo, "fresh") == []

    await commit(git, repo, files_of(rule_collection("fresh", ("tag", "equals", "new"))))
    added = await projector.project(repo)
    assert added.reindexed == 2
    assert await members(kv, repo, "fresh") == ["a"]
    await assert_kv_matches_head(kv, git, repo)

    fresh = rule_collection("fresh", ("tag", "equals", "new"))
    await commit(git, repo, deletes=[path_of(fresh)])
    deleted = await projector.project(repo)
    assert deleted.reindexed == 2
    assert await members(kv, repo, "fresh") == []
    await assert_kv_matches_head(kv, git, repo)


async def test_turning_a_rule_collection_manual_drops_its_matches(
    git: GitClient, kv: KvStore, repo: str, projector: Projector
) -> None:
    await commit(git, repo, shop())
    await projector.project(repo)
    await commit(git, repo, files_of(collection("sale", products=["e"])))
    await projector.project(repo)
    assert await members(kv, repo, "sale") == ["d"]  # only the product naming it
    await assert_kv_matches_head(kv, git, repo)


async def test_an_invalid_collection_file_keeps_the_last_rules(
    git: GitClient, kv: KvStore, repo: str, projector: Projector
) -> None:
    await commit(git, repo, shop())
    await projector.project(repo)
    await commit(
        git,
        repo,
        {path_of(SALE): b"apiVersion: gitstore.dev/v1\nkind: Collection\nmetadata: {name: sale}\n"},
    )
    result = await projector.project(repo)
    assert result.invalid_files == 1 and result.reindexed == 0
    assert await members(kv, repo, "sale") == ["a", "b", "d"]


async def test_an_invalid_product_file_is_reindexed_from_its_last_document(
    git: GitClient, kv: KvStore, repo: str, projector: Projector
) -> None:
    await commit(git, repo, shop())
    await projector.project(repo)
    bad = {
        path_of(product("b")): b"apiVersion: gitstore.dev/v1\nkind: Product\nmetadata: {name: b}\n"
    }
    await commit(git, repo, {**bad, **files_of(rule_collection("sale", ("price", "equals", "30")))})
    result = await projector.project(repo)

    assert result.invalid_files == 1 and result.reindexed == 5
    assert await members(kv, repo, "sale") == ["b", "d"]  # b's last valid document, new rules


async def test_reindexing_in_chunks_and_a_crash_midway_converge(
    git: GitClient, kv: KvStore, repo: str
) -> None:
    products = [product(f"p{i:02d}", price=f"{i}.00", status="active") for i in range(1, 31)]
    await commit(
        git, repo, files_of(*products, rule_collection("cheap", ("price", "lessThan", "5")))
    )
    await Projector(git, kv, owner="w0", batch_size=10).project(repo)
    assert await members(kv, repo, "cheap") == ["p01", "p02", "p03", "p04"]

    await commit(git, repo, files_of(rule_collection("cheap", ("price", "lessThan", "25"))))
    crashing = FaultyKv(kv, fail_at=3)  # the claim (with reindex), one chunk, then dies
    with pytest.raises(RuntimeError, match="injected crash"):
        await Projector(git, crashing, owner="dead", batch_size=10).project(repo)
    # The chunks went into the standby buffer (``draft``: the first projection switched
    # readers to ``draft-b``), which readers do not see: they still see the old rules.
    claim = await kv.get(draft_scope(repo), "gitstore.projection", "pending")
    assert claim is not None
    assert await members(kv, repo, "cheap") == ["p01", "p02", "p03", "p04"]

    result = await Projector(git, kv, owner="w1", batch_size=10, claim_stale_seconds=0.05).project(
        repo
    )
    assert result.took_over and result.switched and result.chunks >= 4
    assert await members(kv, repo, "cheap") == [f"p{i:02d}" for i in range(1, 25)]
    await assert_kv_matches_head(kv, git, repo)


async def test_plans_that_touch_no_rule_collection_list_nothing(
    git: GitClient, kv: KvStore, repo: str
) -> None:
    await commit(git, repo, shop())
    await Projector(git, kv, owner="w0").project(repo)
    counting = CountingKv(kv)
    shirts = {"title": "Shirts"}
    category = {"apiVersion": "gitstore.dev/v1", "kind": "Category", "metadata": {"name": "s"}}
    await commit(git, repo, files_of({**category, "spec": shirts}))
    await Projector(git, counting, owner="w1").project(repo)
    assert (counting.listed, counting.looked_up) == ([], [])  # no product, no collection

    await commit(git, repo, files_of(product("f", tags=["sale"])))
    await Projector(git, counting, owner="w1").project(repo)
    assert counting.listed == []  # never a listing of products
    assert counting.looked_up == [("collection", "selection", "rules")]  # the rules
    assert "f" in await members(kv, repo, "sale")


class CountingKv(FaultyKv):
    """Records the kinds ``list_documents`` and the indexes ``lookup`` are asked for."""

    def __init__(self, inner: KvStore) -> None:
        super().__init__(inner)
        self.listed: list[str] = []
        self.looked_up: list[tuple[str, str, str]] = []

    async def list_documents(self, scope: Any, kind: str, **kwargs: Any) -> Any:
        self.listed.append(kind)
        return await super().list_documents(scope, kind, **kwargs)

    async def lookup(self, scope: Any, kind: str, index: str, value: str, **kwargs: Any) -> Any:
        self.looked_up.append((kind, index, value))
        return await super().lookup(scope, kind, index, value, **kwargs)


def test_with_collections_equals_a_full_reencode() -> None:
    """The hot path builds the canonical index JSON itself: it must be exactly what
    ``encode_upsert`` makes of ``product_indexes`` (the reference)."""
    rules = {
        name: rs
        for name, spec in (
            ("sale", SALE["spec"]),
            ("cheap", CHEAP["spec"]),
            ("either", EITHER["spec"]),
            ("z-last", rule_collection("z-last", ("title", "contains", "a"))["spec"]),
            ("a-b", rule_collection("a-b", ("title", "contains", "a"))["spec"]),
        )
        if (rs := rule_set(spec)) is not None
    }
    for obj in (
        product("a", price="10.00", tags=["Sale"], status="active", collections=["a", "zz"]),
        product("b", price="30.00", tags=["sale"]),
        product("c", title="Nothing", price="99.00"),
    ):
        spec, name = obj["spec"], obj["metadata"]["name"]
        plain = encode_upsert("product", name, obj, indexes=document_indexes("Product", name, spec))
        matched = matching_collections(rules, spec, name)
        fast = with_collections(plain, matched)
        full = reindexed("product", name, plain.body, product_indexes(name, spec, rules))
        assert fast == full, name
