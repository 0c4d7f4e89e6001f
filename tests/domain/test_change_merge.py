"""Semantic diff and three-way merge of manifests (domain/changes)."""

from __future__ import annotations

import json
from typing import Any

import yaml

from gitstore.domain.changes import (
    Review,
    ReviewVerdict,
    approvals_missing,
    merge_snapshots,
    semantic_diff,
    snapshot,
)


def product(name: str, **spec: Any) -> dict[str, Any]:
    body = {"title": name.title(), "price": {"amount": "59.00", "currency": "EUR"}}
    body.update(spec)
    return {
        "apiVersion": "gitstore.dev/v1",
        "kind": "Product",
        "metadata": {"name": name},
        "spec": body,
    }


def yml(doc: dict[str, Any]) -> bytes:
    return yaml.safe_dump(doc, sort_keys=False).encode()


def files(**docs: dict[str, Any]) -> dict[str, bytes]:
    return {f"products/{name.replace('_', '-')}.yaml": yml(d) for name, d in docs.items()}


VARIANTS = [{"sku": "TEE-S", "stock": 1}, {"sku": "TEE-M", "stock": 2}]


def test_diff_per_resource_and_field() -> None:
    old = snapshot(files(tee=product("tee"), cap=product("cap")))
    new = snapshot(
        {
            **files(
                tee=product("tee", price={"amount": "55.00", "currency": "EUR"}), mug=product("mug")
            ),
            "README.md": b"hi\n",
        }
    )
    changes = {(c.kind, c.name, c.op): c for c in semantic_diff(old, new)}
    tee = changes[("Product", "tee", "changed")]
    assert [(f.path, f.old, f.new) for f in tee.fields] == [("spec.price.amount", "59.00", "55.00")]
    assert ("Product", "cap", "removed") in changes
    assert ("Product", "mug", "added") in changes
    assert ("", "", "added") in changes  # README.md, a plain file


def test_reformatting_is_no_change() -> None:
    old = snapshot(files(tee=product("tee")))
    new = snapshot({"products/tee.json": json.dumps(product("tee")).encode()})
    assert semantic_diff(old, new) == []


def test_merge_of_different_fields_is_clean_and_keeps_target_format() -> None:
    base = product("tee", variants=VARIANTS)
    target = product("tee", title="Tee", variants=VARIANTS)
    source = product("tee", price={"amount": "55.00", "currency": "EUR"}, variants=VARIANTS)
    path = "products/tee.json"
    result = merge_snapshots(
        snapshot({path: json.dumps(base).encode()}),
        snapshot({path: json.dumps(target).encode()}),
        snapshot({path: json.dumps(source).encode()}),
    )
    assert result.clean, result.conflicts
    merged = json.loads(result.actions[path] or b"")  # still JSON
    assert merged["spec"]["title"] == "Tee"
    assert merged["spec"]["price"]["amount"] == "55.00"


def test_variants_merge_by_sku() -> None:
    base = product("tee", variants=VARIANTS)
    target = product("tee", variants=[{"sku": "TEE-S", "stock": 5}, VARIANTS[1]])
    source = product(
        "tee", variants=[VARIANTS[0], {"sku": "TEE-M", "stock": 9}, {"sku": "TEE-L", "stock": 1}]
    )
    result = merge_snapshots(
        snapshot(files(tee=base)), snapshot(files(tee=target)), snapshot(files(tee=source))
    )
    assert result.clean, result.conflicts
    merged = yaml.safe_load(result.actions["products/tee.yaml"] or b"")
    assert merged["spec"]["variants"] == [
        {"sku": "TEE-S", "stock": 5},
        {"sku": "TEE-M", "stock": 9},
        {"sku": "TEE-L", "stock": 1},
    ]


def test_same_field_changed_differently_is_a_conflict_per_field() -> None:
    base = product("tee", variants=VARIANTS)
    target = product("tee", variants=[VARIANTS[0], {"sku": "TEE-M", "stock": 3}])
    source = product(
        "tee",
        variants=[VARIANTS[0], {"sku": "TEE-M", "stock": 4}],
        price={"amount": "1.00", "currency": "EUR"},
    )
    result = merge_snapshots(
        snapshot(files(tee=base)), snapshot(files(tee=target)), snapshot(files(tee=source))
    )
    assert [(c.kind, c.name, c.field, c.reason, c.target, c.source) for c in result.conflicts] == [
        ("Product", "tee", "spec.variants[sku=TEE-M].stock", "both-changed", 3, 4)
    ]
    assert "changed on both sides" in result.conflicts[0].message


def test_deleted_on_one_side_changed_on_the_other() -> None:
    base = files(tee=product("tee"))
    changed = files(tee=product("tee", title="New"))
    result = merge_snapshots(snapshot(base), snapshot({}), snapshot(changed))
    assert [(c.name, c.reason) for c in result.conflicts] == [("tee", "deleted-and-changed")]
    result = merge_snapshots(snapshot(base), snapshot(changed), snapshot({}))
    assert [(c.name, c.reason) for c in result.conflicts] == [("tee", "deleted-and-changed")]


def test_one_sided_changes_take_the_source_file_as_is() -> None:
    base = files(tee=product("tee"), cap=product("cap"))
    source = {**files(tee=product("tee", title="X")), "products/mug.yaml": b"x: [\n"}
    result = merge_snapshots(snapshot(base), snapshot(base), snapshot(source))
    assert result.clean
    assert result.actions == {
        "products/cap.yaml": None,
        "products/mug.yaml": b"x: [\n",
        "products/tee.yaml": source["products/tee.yaml"],
    }


def test_both_changed_plain_file_conflicts() -> None:
    result = merge_snapshots(
        snapshot({"README.md": b"a"}), snapshot({"README.md": b"b"}), snapshot({"README.md": b"c"})
    )
    assert [(c.path, c.reason) for c in result.conflicts] == [("README.md", "both-changed")]


def test_approvals_count_latest_maintainer_verdicts_not_the_author() -> None:
    reviews = [
        Review("author", ReviewVerdict.APPROVE, 1),
        Review("m1", ReviewVerdict.APPROVE, 2),
        Review("m2", ReviewVerdict.APPROVE, 3),
        Review("m2", ReviewVerdict.REQUEST_CHANGES, 4),
        Review("m1", ReviewVerdict.COMMENT, 5),
        Review("outsider", ReviewVerdict.APPROVE, 6),
    ]
    maintainers = ["author", "m1", "m2"]
    assert approvals_missing(reviews, "author", maintainers, 2) == 1
    assert approvals_missing(reviews, "author", maintainers, 1) == 0
    assert approvals_missing([], "author", maintainers, 0) == 0
