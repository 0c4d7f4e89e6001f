"""Change requests end to end: real ``git push`` over Smart HTTP, the real API over HTTP, a
real git service (docs/change-requests.md).

Covered: the semantic diff and the head's validation, merges with all three strategies,
field-level conflicts (reported and refused), a stale ``expectedHeadSha``, the approval rule
(maintainers only, not the author), a merged result that breaks a reference (refused like a
push), closing, and ``git push -o change-request``.
"""

from __future__ import annotations

from pathlib import Path

import yaml

from tests.catalog_writes.ops import upsert_product
from tests.support.graphql_ops import Person, error_of, execute, mutate, ok

from .change_ops import (
    CLOSE,
    COMMENT,
    DETAIL_MIN,
    LIST,
    REVIEW,
    RULE,
    Work,
    create,
    detail,
    fan,
    merge,
    product,
)
from .harness import GitStack


def setup(stack: GitStack, tmp_path: Path) -> tuple[Person, str, Work]:
    owner = stack.person()
    repo = stack.new_repo(owner)
    ok(upsert_product(stack.api, owner.token, repo, "tee"))  # main: products/../tee + marker
    work = Work(stack, stack.url(repo, owner.username, stack.pat(owner)), tmp_path / "w")
    return owner, repo, work


def load(work: Work, rev: str, path: str) -> dict[str, object]:
    data = yaml.safe_load(work.git("show", f"{rev}:{path}"))
    assert isinstance(data, dict)
    return data


def test_diff_validation_and_fast_forward_with_stale_head(stack: GitStack, tmp_path: Path) -> None:
    owner, repo, work = setup(stack, tmp_path)
    price_before = load(work, "HEAD", fan("tee"))["spec"]["price"]["amount"]  # type: ignore[index]
    work.git("checkout", "-q", "-b", "cheaper")
    work.write(fan("tee"), product("tee", price="5.00"))
    work.write(fan("mug"), product("mug"))
    head = work.commit("cheaper tee, new mug")
    work.push("cheaper")

    cr = ok(create(stack, owner, repo, "cheaper", description="why"))["changeRequest"]
    assert (cr["state"], cr["targetBranch"], cr["headSha"], cr["number"]) == (
        "OPEN",
        "main",
        head,
        1,
    )
    node = execute(
        stack.api,
        "query($id: ID!) { node(id: $id) { ... on ChangeRequest { number title } } }",
        {"id": cr["id"]},
        owner.token,
    )["node"]
    assert node == {"number": 1, "title": "Change cheaper"}
    stranger = stack.person()
    assert execute(stack.api, DETAIL_MIN, {"id": cr["id"]}, stranger.token)["changeRequest"] is None
    seen = detail(stack, owner, cr["id"])
    changes = {(c["kind"], c["name"]): c for c in seen["diff"]}
    assert changes[("Product", "mug")]["op"] == "ADDED"
    tee = changes[("Product", "tee")]
    assert tee["op"] == "CHANGED"
    assert {"path": "spec.price.amount", "op": "CHANGED", "old": price_before, "new": "5.00"} in (
        tee["fields"]
    )
    assert seen["validation"]["valid"] and seen["validation"]["headSha"] == head
    assert seen["validation"]["validatedFiles"] >= 2
    assert seen["mergeability"] == {
        "mergeable": True,
        "fastForwardPossible": True,
        "reason": "",
        "conflicts": [],
    }

    stale = error_of(merge(stack, owner, cr["id"], "0" * 40, "FAST_FORWARD"))
    assert stale["code"] == "STALE_HEAD" and stale["field"] == "expectedHeadSha"
    done = ok(merge(stack, owner, cr["id"], head, "FAST_FORWARD"))
    assert done["mergeSha"] == head and done["changeRequest"]["state"] == "MERGED"
    assert work.remote_head("main") == head
    again = error_of(merge(stack, owner, cr["id"], head, "FAST_FORWARD"))
    assert again["code"] == "NOT_MERGEABLE"
    after = detail(stack, owner, cr["id"])  # a merged request keeps its diff
    assert {(c["kind"], c["name"], c["op"]) for c in after["diff"]} == {
        ("Product", "mug", "ADDED"),
        ("Product", "tee", "CHANGED"),
    }
    assert (
        after["validation"]["valid"]
        and after["mergeability"]["reason"] == "the change request is MERGED"
    )


def diverge(stack: GitStack, owner: Person, repo: str, work: Work, branch: str, price: str) -> str:
    """``branch`` changes the tee's price; main meanwhile changes its title (API write)."""
    work.git("fetch", "-q", "origin")
    work.git("checkout", "-q", "-b", branch, "origin/main")
    doc = load(work, "HEAD", fan("tee"))
    spec = dict(doc["spec"])  # type: ignore[call-overload]
    rest = {k: v for k, v in spec.items() if k != "price"}
    work.write(fan("tee"), product("tee", price=price, **rest))
    head = work.commit(f"price {price}")
    work.push(branch)
    ok(upsert_product(stack.api, owner.token, repo, "tee", spec={**spec, "title": f"Main {price}"}))
    return head


def test_merge_and_squash_combine_different_fields(stack: GitStack, tmp_path: Path) -> None:
    owner, repo, work = setup(stack, tmp_path)
    head = diverge(stack, owner, repo, work, "price", "7.00")
    cr = ok(create(stack, owner, repo, "price"))["changeRequest"]
    assert not detail(stack, owner, cr["id"])["mergeability"]["fastForwardPossible"]
    refused = error_of(merge(stack, owner, cr["id"], head, "FAST_FORWARD"))
    assert refused["code"] == "NOT_MERGEABLE" and "fast-forward" in refused["message"]
    target_before = work.remote_head("main")
    merged = ok(merge(stack, owner, cr["id"], head, "MERGE"))["mergeSha"]
    work.git("fetch", "-q", "origin")
    assert work.git("rev-list", "--parents", "-n1", merged).split()[1:] == [target_before, head]
    spec = load(work, merged, fan("tee"))["spec"]
    assert spec["title"] == "Main 7.00" and spec["price"]["amount"] == "7.00"  # type: ignore[index]

    head2 = diverge(stack, owner, repo, work, "price2", "6.00")
    cr2 = ok(create(stack, owner, repo, "price2", title="Six"))["changeRequest"]
    before = work.remote_head("main")
    squashed = ok(merge(stack, owner, cr2["id"], head2, "SQUASH"))["mergeSha"]
    work.git("fetch", "-q", "origin")
    assert work.git("rev-list", "--parents", "-n1", squashed).split()[1:] == [before]
    assert "Six (!2)" in work.git("log", "-1", "--format=%B", squashed)
    spec = load(work, squashed, fan("tee"))["spec"]
    assert spec["title"] == "Main 6.00" and spec["price"]["amount"] == "6.00"  # type: ignore[index]


def test_conflicts_per_field_are_reported_and_refused(stack: GitStack, tmp_path: Path) -> None:
    owner, repo, work = setup(stack, tmp_path)
    work.git("checkout", "-q", "-b", "clash")
    work.write(fan("tee"), product("tee", price="3.00"))
    head = work.commit("price 3")
    work.push("clash")
    spec = {"title": "Tee", "price": {"amount": "4.00", "currency": "EUR"}}
    ok(upsert_product(stack.api, owner.token, repo, "tee", spec=spec))
    cr = ok(create(stack, owner, repo, "clash"))["changeRequest"]
    seen = detail(stack, owner, cr["id"])["mergeability"]
    assert not seen["mergeable"] and seen["reason"] == "conflicts"
    assert [
        (c["kind"], c["name"], c["field"], c["reason"], c["target"], c["source"])
        for c in seen["conflicts"]
    ] == [("Product", "tee", "spec.price.amount", "BOTH_CHANGED", "4.00", "3.00")]
    refused = error_of(merge(stack, owner, cr["id"], head, "MERGE"))
    assert refused["code"] == "CONFLICT" and "spec.price.amount" in refused["message"]
    assert ok(mutate(stack.api, CLOSE, {"id": cr["id"]}, owner.token))["changeRequest"] == {
        "state": "CLOSED"
    }


def test_a_merged_result_with_a_broken_reference_is_refused(
    stack: GitStack, tmp_path: Path
) -> None:
    owner, repo, work = setup(stack, tmp_path)
    category = (
        b"apiVersion: gitstore.dev/v1\nkind: Category\nmetadata:\n  name: shirts\n"
        b"spec:\n  title: Shirts\n"
    )
    work.write(fan("shirts", "categories"), category)
    work.commit("category")
    work.push("main")
    work.git("checkout", "-q", "-b", "uses-category")
    work.write(fan("polo"), product("polo", categories=["shirts"]))
    head = work.commit("polo in shirts")
    work.push("uses-category")
    work.git("checkout", "-q", "main")
    work.git("rm", "-q", fan("shirts", "categories"))
    work.commit("drop the category")
    work.push("main")
    cr = ok(create(stack, owner, repo, "uses-category"))["changeRequest"]
    refused = error_of(merge(stack, owner, cr["id"], head, "MERGE"))
    assert refused["code"] == "VALIDATION_FAILED", refused
    assert "shirts" in refused["message"]


def test_approval_rule_counts_maintainers_not_the_author(stack: GitStack, tmp_path: Path) -> None:
    from tests.api_ns.ops import add_member
    from tests.catalog_writes.ops import make_org_repository

    owner = stack.person()
    writer, maintainer = stack.person(), stack.person()
    namespace, repo = make_org_repository(stack.api, owner)
    add_member(stack.api, owner.token, namespace, writer.username, "WRITER")
    add_member(stack.api, owner.token, namespace, maintainer.username, "MAINTAINER")
    ok(upsert_product(stack.api, owner.token, repo, "tee"))
    work = Work(stack, stack.url(repo, writer.username, stack.pat(writer)), tmp_path / "w")
    work.git("checkout", "-q", "-b", "feature")
    work.write(fan("mug"), product("mug"))
    head = work.commit("mug")
    work.push("feature")
    denied = error_of(
        mutate(stack.api, RULE, {"repository": repo, "requiredApprovals": 1}, writer.token)
    )
    assert denied["code"] == "PERMISSION_DENIED"
    ok(mutate(stack.api, RULE, {"repository": repo, "requiredApprovals": 1}, owner.token))

    cr = ok(create(stack, writer, repo, "feature"))["changeRequest"]
    blocked = error_of(merge(stack, writer, cr["id"], head))
    assert blocked["code"] == "APPROVALS_REQUIRED"
    own = error_of(mutate(stack.api, REVIEW, {"id": cr["id"], "verdict": "APPROVE"}, writer.token))
    assert own["code"] == "PERMISSION_DENIED"
    ok(mutate(stack.api, COMMENT, {"id": cr["id"], "body": "looks fine"}, writer.token))
    ok(mutate(stack.api, REVIEW, {"id": cr["id"], "verdict": "APPROVE"}, maintainer.token))
    ok(mutate(stack.api, REVIEW, {"id": cr["id"], "verdict": "REQUEST_CHANGES"}, maintainer.token))
    seen = detail(stack, writer, cr["id"])
    assert seen["approvals"] == {"required": 1, "missing": 1}
    assert [r["verdict"] for r in seen["reviews"]] == ["APPROVE", "REQUEST_CHANGES"]
    assert seen["comments"] == [{"author": writer.username, "body": "looks fine"}]
    ok(mutate(stack.api, REVIEW, {"id": cr["id"], "verdict": "APPROVE"}, maintainer.token))
    assert ok(merge(stack, writer, cr["id"], head))["changeRequest"]["state"] == "MERGED"


def test_push_option_opens_then_updates_a_change_request(stack: GitStack, tmp_path: Path) -> None:
    owner, repo, work = setup(stack, tmp_path)
    work.git("checkout", "-q", "-b", "pushed")
    work.write(fan("cap"), product("cap"))
    first = work.commit("cap")
    out = work.push("pushed", "change-request", "change-request.title=Add a cap")
    assert "remote: change request !1 opened: Add a cap (id " in out, out
    listed = execute(stack.api, LIST, {"repo": repo, "state": "OPEN"}, owner.token)
    (cr,) = listed["changeRequests"]["nodes"]
    assert (cr["title"], cr["headSha"], cr["author"]) == ("Add a cap", first, owner.username)

    work.write(fan("cap"), product("cap", price="12.00"))
    second = work.commit("cap price")
    out = work.push("pushed", "change-request")
    assert "change request !1 updated to" in out and "change request !1 is open" in out, out
    listed = execute(stack.api, LIST, {"repo": repo, "state": "OPEN"}, owner.token)
    assert [n["headSha"] for n in listed["changeRequests"]["nodes"]] == [second]
    assert ok(merge(stack, owner, cr["id"], second, "FAST_FORWARD"))["mergeSha"] == second
    work.write(fan("hat"), product("hat"))
    work.commit("hat")
    out = work.push("main", "change-request")
    assert "change-request: main is the default branch" in out, out
