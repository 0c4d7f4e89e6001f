"""What change requests leave behind, cleaned up (docs/change-requests.md, "Proposal branches"
and "Interrupted merges"): real ``git push`` over Smart HTTP, the real API over HTTP, the real
git service.

Covered: a merged and a closed proposal branch are deleted, a person's branch is kept; the
state a crash between the state change and the delete leaves is cleaned by the sweeper, which
keeps a branch that moved since; a merge interrupted after the target moved (intent recorded,
ref moved, request still OPEN) is finished by the next read — MERGED, notified, branch gone.
"""

from __future__ import annotations

from pathlib import Path

from gitstore.api.changes.cleanup import sweep_all
from gitstore.api.graphql.relay import decode_global_id
from gitstore.backends.metadata.base_changes import ChangeRequest, ChangeRequestStatus
from gitstore.git.v1 import git_service_pb2 as pb
from tests.catalog_writes.ops import upsert_product
from tests.support.graphql_ops import Person, mutate, ok

from .change_ops import CLOSE, Work, create, detail, fan, merge, product
from .harness import GitStack


def setup(stack: GitStack, tmp_path: Path) -> tuple[Person, str, Work]:
    owner = stack.person()
    repo = stack.new_repo(owner)
    ok(upsert_product(stack.api, owner.token, repo, "tee"))
    work = Work(stack, stack.url(repo, owner.username, stack.pat(owner)), tmp_path / "w")
    return owner, repo, work


def propose(work: Work, branch: str, name: str) -> str:
    """A branch off main adding product ``name``; its head."""
    work.git("fetch", "-q", "origin")
    work.git("checkout", "-q", "-B", branch, "origin/main")
    work.write(fan(name), product(name))
    head = work.commit(f"add {name}")
    work.push(branch)
    return head


def has_branch(work: Work, branch: str) -> bool:
    return bool(work.git("ls-remote", "origin", f"refs/heads/{branch}").strip())


def stored(stack: GitStack, cr_id: str) -> ChangeRequest:
    found = stack.api.run(stack.api.services.store.get_change_request(decode_global_id(cr_id).id))
    assert found is not None
    return found


def test_finished_proposal_branches_are_deleted_people_branches_kept(
    stack: GitStack, tmp_path: Path
) -> None:
    owner, repo, work = setup(stack, tmp_path)
    merged_head = propose(work, "proposals/quality/product-mug-1", "mug")
    mine_head = propose(work, "cheaper", "cup")
    closed_head = propose(work, "proposals/quality/product-jug-1", "jug")
    to_merge = ok(create(stack, owner, repo, "proposals/quality/product-mug-1"))["changeRequest"]
    mine = ok(create(stack, owner, repo, "cheaper"))["changeRequest"]
    to_close = ok(create(stack, owner, repo, "proposals/quality/product-jug-1"))["changeRequest"]

    done = ok(merge(stack, owner, to_merge["id"], merged_head, "SQUASH"))
    assert done["changeRequest"]["state"] == "MERGED"
    assert not has_branch(work, "proposals/quality/product-mug-1")
    ok(merge(stack, owner, mine["id"], mine_head, "MERGE"))
    assert work.remote_head("cheaper") == mine_head  # a person's branch stays
    closed = ok(mutate(stack.api, CLOSE, {"id": to_close["id"]}, owner.token))
    assert closed["changeRequest"]["state"] == "CLOSED"
    assert not has_branch(work, "proposals/quality/product-jug-1")
    # a finished request keeps what a reviewer saw
    seen = detail(stack, owner, to_close["id"])
    assert seen["headSha"] == closed_head
    assert {(c["kind"], c["name"], c["op"]) for c in seen["diff"]} == {("Product", "jug", "ADDED")}
    # nothing left for the sweeper; running it twice changes nothing (idempotent)
    for _ in range(2):
        swept = stack.api.run(sweep_all(stack.api.services), timeout=60)
        assert swept.branches_deleted == 0 and swept.merges_finished == 0


def test_the_sweeper_cleans_what_a_crash_left_and_keeps_moved_branches(
    stack: GitStack, tmp_path: Path
) -> None:
    owner, repo, work = setup(stack, tmp_path)
    store = stack.api.services.store
    left = propose(work, "proposals/quality/product-mug-2", "mug")
    moved = propose(work, "proposals/quality/product-cup-2", "cup")
    crashed = ok(create(stack, owner, repo, "proposals/quality/product-mug-2"))["changeRequest"]
    other = ok(create(stack, owner, repo, "proposals/quality/product-cup-2"))["changeRequest"]
    # what close does before it deletes the branch, and then the process died
    for cr in (crashed, other):
        stack.api.run(
            store.update_change_request(
                decode_global_id(cr["id"]).id, state=ChangeRequestStatus.CLOSED
            )
        )
    # someone pushes to the second branch after its request was closed: their commits
    work.write(fan("cup"), product("cup", price="3.00"))
    newer = work.commit("cheaper cup")
    work.push("proposals/quality/product-cup-2")
    assert newer != moved and has_branch(work, "proposals/quality/product-mug-2")

    stack.api.run(sweep_all(stack.api.services), timeout=60)  # (or the API's own sweeper)
    assert not has_branch(work, "proposals/quality/product-mug-2")
    assert work.remote_head("proposals/quality/product-cup-2") == newer  # kept: it moved
    assert stored(stack, crashed["id"]).head_sha == left


def test_a_merge_interrupted_after_the_target_moved_is_finished_on_the_next_read(
    stack: GitStack, tmp_path: Path
) -> None:
    owner, repo, work = setup(stack, tmp_path)
    services = stack.api.services
    branch = "proposals/quality/product-mug-3"
    head = propose(work, branch, "mug")
    cr = ok(create(stack, owner, repo, branch))["changeRequest"]
    main_before = work.remote_head("main")
    # what merge does before it marks the request MERGED: record the intent, move the target
    # (FAST_FORWARD: the candidate is the source head); then the API process dies
    cr_id = decode_global_id(cr["id"]).id
    stack.api.run(services.store.update_change_request(cr_id, merge_sha=head, merged_by="ada"))
    stack.api.run(
        services.git().update_branch(
            pb.UpdateBranchRequest(
                repository_id=repo, branch="main", expected_head=main_before, new_target=head
            )
        )
    )
    assert stored(stack, cr["id"]).state is ChangeRequestStatus.OPEN  # the stuck state
    assert work.remote_head("main") == head

    seen = detail(stack, owner, cr["id"])  # the next read finishes it
    assert (seen["state"], seen["mergeSha"]) == ("MERGED", head)
    assert stored(stack, cr["id"]).state is ChangeRequestStatus.MERGED
    assert not has_branch(work, branch)
    target = f"{repo}!{cr['number']}"
    audit = stack.api.run(services.store.list_audit(target_prefix=target, first=50))
    actions = [(entry.action, entry.actor) for entry in audit.items]
    assert ("change_request.merged", "ada") in actions


def test_an_open_request_hides_a_merge_in_progress_and_a_lost_intent_changes_nothing(
    stack: GitStack, tmp_path: Path
) -> None:
    owner, repo, work = setup(stack, tmp_path)
    head = propose(work, "proposals/quality/product-mug-4", "mug")
    cr = ok(create(stack, owner, repo, "proposals/quality/product-mug-4"))["changeRequest"]
    cr_id = decode_global_id(cr["id"]).id
    store = stack.api.services.store
    # a merge that recorded its intent and died before moving the target
    stack.api.run(store.update_change_request(cr_id, merge_sha="1" * 40, merged_by="ada"))
    seen = detail(stack, owner, cr["id"])
    assert (seen["state"], seen["mergeSha"]) == ("OPEN", "")  # no merge to finish
    assert stack.api.run(sweep_all(stack.api.services), timeout=60).merges_finished == 0
    done = ok(merge(stack, owner, cr["id"], head, "FAST_FORWARD"))  # merging again works
    assert (done["mergeSha"], done["changeRequest"]["state"]) == (head, "MERGED")
    assert not has_branch(work, "proposals/quality/product-mug-4")
