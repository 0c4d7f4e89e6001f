"""``auditLog`` lists every ref update, not only pushes: API-led commits (upsert, delete,
revertCommit, with the request id and idempotency key), release tags made by createRelease,
and the release and publication records."""

from __future__ import annotations

from typing import Any

from tests.catalog_writes.harness import Stack
from tests.catalog_writes.ops import DELETE_PRODUCT, REVERT, upsert_product

from .ops import Person, create_release, execute, make_repository, mutate, ok, publish

AUDIT = """
query A($repo: String!) {
  auditLog(repository: $repo, first: 50) {
    nodes { actor action ref old new transport pushId operation idempotencyKey }
  }
}"""
ZERO = "0" * 40


def _log(stack: Stack, owner: Person, repo: str) -> list[dict[str, Any]]:
    nodes: list[dict[str, Any]] = execute(stack.api, AUDIT, {"repo": repo}, owner.token)[
        "auditLog"
    ]["nodes"]
    return list(reversed(nodes))  # oldest first


def test_every_ref_update_path_is_audited(stack: Stack, owner: Person) -> None:
    repo = make_repository(stack.api, owner)
    before = _log(stack, owner, repo)
    head0 = stack.git_head(repo)

    upserted = ok(upsert_product(stack.api, owner.token, repo, "audited", idempotencyKey="k-1"))
    entries = _log(stack, owner, repo)[len(before) :]
    (entry,) = entries
    assert entry["action"] == "ref.update" and entry["ref"] == "refs/heads/main"
    assert (entry["old"], entry["new"]) == (head0 or ZERO, upserted["commit"])
    assert entry["transport"] == "api" and entry["operation"] == "upsertProduct"
    assert entry["actor"] == owner.username and entry["idempotencyKey"] == "k-1"
    assert len(entry["pushId"]) > 0  # the API request id

    deleted = ok(
        mutate(stack.api, DELETE_PRODUCT, {"repository": repo, "name": "audited"}, owner.token)
    )
    reverted = ok(
        mutate(stack.api, REVERT, {"repository": repo, "sha": deleted["commit"]}, owner.token)
    )
    released = ok(create_release(stack.api, owner.token, repo, "v9.0.0"))
    ok(publish(stack.api, owner.token, repo, "v9.0.0"))

    entries = _log(stack, owner, repo)[len(before) + 1 :]
    summary = [(e["action"], e["operation"], e["ref"], e["new"]) for e in entries]
    tag_commit = released["release"]["commit"]
    assert summary[0] == ("ref.update", "deleteProduct", "refs/heads/main", deleted["commit"])
    assert entries[0]["old"] == upserted["commit"]
    assert summary[1] == ("ref.update", "revertCommit", "refs/heads/main", reverted["commit"])
    assert entries[1]["old"] == deleted["commit"]
    assert summary[2][:3] == ("ref.update", "createRelease", "refs/tags/v9.0.0")
    assert entries[2]["old"] == ZERO and entries[2]["transport"] == "api"
    assert ("release.create", "release.create", "v9.0.0", tag_commit) in summary
    publications = [s for s in summary if s[0] == "release.publish"]
    assert len(publications) == 2  # the one createRelease asked for, and publishRelease's
    assert all(s[3] == tag_commit for s in publications)
