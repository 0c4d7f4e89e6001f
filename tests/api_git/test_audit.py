"""``auditLog(repository:)``: the accepted ref updates of pushes, for draft readers."""

from __future__ import annotations

from pathlib import Path

from tests.api_ns.ops import add_member, create_namespace, create_repository
from tests.support.graphql_ops import execute

from .harness import GitStack

AUDIT = """
query A($repo: String!, $first: Int, $after: String) {
  auditLog(repository: $repo, first: $first, after: $after) {
    totalCount
    pageInfo { hasNextPage endCursor }
    nodes { at actor action ref old new transport pushId }
  }
}"""
ZERO = "0" * 40


def test_pushes_are_listed_newest_first_with_paging(stack: GitStack, tmp_path: Path) -> None:
    alice = stack.person()
    repo = stack.new_repo(alice)
    secret = stack.pat(alice)
    work = tmp_path / "w"
    stack.git("init", "-q", "-b", "main", str(work))
    heads = []
    for n in range(3):
        (work / f"f{n}.txt").write_text(f"{n}\n")
        stack.git("add", ".", cwd=work)
        stack.git("commit", "-q", "-m", f"c{n}", cwd=work)
        heads.append(stack.git("rev-parse", "HEAD", cwd=work).stdout.strip())
        stack.git("push", "-q", stack.url(repo, alice.username, secret), "main", cwd=work)

    data = execute(stack.api, AUDIT, {"repo": repo, "first": 2}, alice.token)["auditLog"]
    assert data["totalCount"] == 3
    first_page = data["nodes"]
    assert [e["new"] for e in first_page] == [heads[2], heads[1]]
    newest = first_page[0]
    assert newest["actor"] == alice.username
    assert newest["action"] == "ref.update"
    assert newest["ref"] == "refs/heads/main"
    assert newest["old"] == heads[1]
    assert newest["transport"] == "http"
    assert len(newest["pushId"]) == 32
    assert first_page[0]["pushId"] != first_page[1]["pushId"]
    assert data["pageInfo"]["hasNextPage"] is True
    rest = execute(
        stack.api,
        AUDIT,
        {"repo": repo, "first": 2, "after": data["pageInfo"]["endCursor"]},
        alice.token,
    )["auditLog"]
    assert [e["new"] for e in rest["nodes"]] == [heads[0]]
    assert rest["nodes"][0]["old"] == ZERO
    assert rest["pageInfo"]["hasNextPage"] is False


def test_only_draft_readers_see_the_log(stack: GitStack) -> None:
    alice, bob, carol = stack.person(), stack.person(), stack.person()
    org = create_namespace(stack.api, alice.token, "ORGANISATION")["identifier"]
    repo = create_repository(stack.api, alice.token, org, visibility="PUBLIC")["fullName"]
    add_member(stack.api, alice.token, org, carol.username, "READER")
    stack.api.run(
        stack.api.services.store.append_audit(
            alice.username,
            "ref.update",
            f"{repo}@refs/heads/main",
            {"transport": "ssh", "old": ZERO, "new": "1" * 40, "push_id": "p" * 32},
        )
    )
    # noise that must not show: another action, and a repository whose name extends this one
    stack.api.run(stack.api.services.store.append_audit(alice.username, "repository.update", repo))
    stack.api.run(
        stack.api.services.store.append_audit(
            alice.username, "ref.update", f"{repo}x@refs/heads/main", {}
        )
    )
    seen = execute(stack.api, AUDIT, {"repo": repo}, carol.token)["auditLog"]
    assert seen["totalCount"] == 1
    assert seen["nodes"][0]["transport"] == "ssh"
    assert seen["nodes"][0]["pushId"] == "p" * 32

    denied = stack.api.graphql(AUDIT, {"repo": repo}, token=bob.token).json()
    assert denied["errors"][0]["extensions"]["code"] == "PERMISSION_DENIED"
    anonymous = stack.api.graphql(AUDIT, {"repo": repo})
    assert anonymous.status_code == 401

    private = stack.new_repo(alice)
    hidden = stack.api.graphql(AUDIT, {"repo": private}, token=bob.token).json()
    assert hidden["errors"][0]["extensions"]["code"] == "NOT_FOUND"
