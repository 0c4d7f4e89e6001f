"""expectedVersion conflicts, revertCommit and resource history."""

from __future__ import annotations

from .harness import Stack
from .ops import (
    APPLY,
    DELETE_PRODUCT,
    HISTORY,
    REVERT,
    Person,
    execute,
    fan,
    mutate,
    ok,
    product_spec,
    upsert_product,
)


def test_stale_expected_version_is_a_conflict(stack: Stack, owner: Person, repo: str) -> None:
    v1 = ok(upsert_product(stack.api, owner.token, repo, "p"))["product"]["version"]
    v2 = ok(upsert_product(stack.api, owner.token, repo, "p", spec=product_spec(title="Second")))[
        "commit"
    ]
    payload = upsert_product(
        stack.api,
        owner.token,
        repo,
        "p",
        spec=product_spec(title="Lost update?"),
        expectedVersion=v1,
    )
    (error,) = payload["userErrors"]
    assert error["code"] == "CONFLICT" and error["field"] == "expectedVersion"
    assert f"current version is {v2}" in error["message"]
    assert stack.git_head(repo) == v2
    assert b"Second" in stack.git_show(repo, fan("products/p.yaml"))


def test_fresh_expected_version_commits(stack: Stack, owner: Person, repo: str) -> None:
    v1 = ok(upsert_product(stack.api, owner.token, repo, "p"))["commit"]
    # another resource changing does not make the version of p stale
    ok(upsert_product(stack.api, owner.token, repo, "unrelated"))
    payload = ok(
        upsert_product(
            stack.api,
            owner.token,
            repo,
            "p",
            spec=product_spec(title="Edited"),
            expectedVersion=v1.upper(),
        )
    )
    assert payload["committed"] is True and stack.commit_count(repo) == 3


def test_expected_version_on_delete_and_create(stack: Stack, owner: Person, repo: str) -> None:
    v1 = ok(upsert_product(stack.api, owner.token, repo, "seed"))["commit"]
    ok(upsert_product(stack.api, owner.token, repo, "newcomer"))
    # created after v1: a create based on v1 would overwrite it
    payload = upsert_product(stack.api, owner.token, repo, "newcomer", expectedVersion=v1)
    assert payload["userErrors"][0]["code"] == "CONFLICT"
    assert "was created since" in payload["userErrors"][0]["message"]
    # a resource absent at both commits may be created
    ok(upsert_product(stack.api, owner.token, repo, "brand-new", expectedVersion=v1))
    head = stack.git_head(repo)
    assert head is not None
    gone = mutate(
        stack.api,
        DELETE_PRODUCT,
        {"repository": repo, "name": "seed", "expectedVersion": head},
        owner.token,
    )
    ok(gone)
    stale = upsert_product(stack.api, owner.token, repo, "seed", expectedVersion=head)
    assert "was deleted since" in stale["userErrors"][0]["message"]


def test_unknown_expected_version(stack: Stack, owner: Person, repo: str) -> None:
    ok(upsert_product(stack.api, owner.token, repo, "p"))
    payload = upsert_product(stack.api, owner.token, repo, "p", expectedVersion="ab" * 20)
    assert payload["userErrors"][0]["field"] == "expectedVersion"
    assert payload["userErrors"][0]["code"] == "INVALID_ARGUMENT"


def test_revert_commit_undoes_one_change(stack: Stack, owner: Person, repo: str) -> None:
    ok(upsert_product(stack.api, owner.token, repo, "p"))
    edit = ok(
        upsert_product(
            stack.api, owner.token, repo, "p", spec=product_spec(title="Oops"), message="retitle"
        )
    )["commit"]
    added = ok(upsert_product(stack.api, owner.token, repo, "extra"))["commit"]
    payload = ok(mutate(stack.api, REVERT, {"repository": repo, "sha": edit}, owner.token))
    assert payload["revertedCommit"] == edit and payload["commit"] == stack.git_head(repo)
    assert b"title: Blue Shirt" in stack.git_show(repo, fan("products/p.yaml"))
    (change,) = payload["changes"]
    assert change["diff"] == [
        {"path": "spec.title", "op": "CHANGED", "old": "Oops", "new": "Blue Shirt"}
    ]
    body = stack.run_git(repo, "log", "-1", "--format=%B")
    assert body.startswith(f'Revert "retitle"\n\nThis reverts commit {edit}.')
    assert stack.trailers(repo)["Reverts"] == edit
    # reverting an addition deletes the file
    ok(mutate(stack.api, REVERT, {"repository": repo, "sha": added[:12]}, owner.token))
    assert stack.files(repo) == [fan("products/p.yaml")]


def test_revert_restores_a_deleted_resource(stack: Stack, owner: Person, repo: str) -> None:
    ok(upsert_product(stack.api, owner.token, repo, "p", format="JSON"))
    deleted = ok(mutate(stack.api, DELETE_PRODUCT, {"repository": repo, "name": "p"}, owner.token))[
        "commit"
    ]
    payload = ok(mutate(stack.api, REVERT, {"repository": repo, "sha": deleted}, owner.token))
    assert stack.files(repo) == [fan("products/p.json")]
    assert payload["changes"][0]["changeType"] == "ADDED"


def test_revert_conflicts_with_a_later_change(stack: Stack, owner: Person, repo: str) -> None:
    ok(upsert_product(stack.api, owner.token, repo, "p"))
    edit = ok(upsert_product(stack.api, owner.token, repo, "p", spec=product_spec(title="B")))[
        "commit"
    ]
    later = ok(upsert_product(stack.api, owner.token, repo, "p", spec=product_spec(title="C")))[
        "commit"
    ]
    payload = mutate(stack.api, REVERT, {"repository": repo, "sha": edit}, owner.token)
    (error,) = payload["userErrors"]
    assert error["code"] == "CONFLICT" and error["field"] == "sha"
    assert f"its last change on branch main is {later}" in error["message"]
    assert stack.git_head(repo) == later


def test_revert_refuses_unknown_commits_and_takes_dry_run(
    stack: Stack, owner: Person, repo: str
) -> None:
    first = ok(upsert_product(stack.api, owner.token, repo, "p"))["commit"]
    missing = mutate(stack.api, REVERT, {"repository": repo, "sha": "cd" * 20}, owner.token)
    assert missing["userErrors"][0]["code"] == "NOT_FOUND"
    bad = mutate(stack.api, REVERT, {"repository": repo, "sha": "HEAD~1"}, owner.token)
    assert bad["userErrors"][0] == {
        "field": "sha",
        "message": "sha 'HEAD~1' is not a commit id (7 to 64 hex digits)",
        "code": "INVALID_ARGUMENT",
    }
    preview = ok(
        mutate(stack.api, REVERT, {"repository": repo, "sha": first, "dryRun": True}, owner.token)
    )
    assert preview["changes"][0]["changeType"] == "DELETED"
    assert stack.git_head(repo) == first


def test_revert_validates_what_it_restores(stack: Stack, owner: Person, repo: str) -> None:
    """A file that was invalid before the change comes back only if it is valid now."""
    git = stack.api.services.git()
    from gitstore.git.v1 import git_service_pb2 as pb

    bad = b"apiVersion: gitstore.dev/v1\nkind: Product\nmetadata:\n  name: p\nspec: {}\n"

    async def commit_raw() -> str:
        response = await git.commit_files(
            pb.CommitFilesRequest(
                repository_id=repo,
                branch="main",
                author=pb.Signature(name="pusher", email="p@example.com"),
                message="invalid push",
                actions=[
                    pb.CommitAction(
                        action=pb.ACTION_TYPE_UPSERT, path=fan("products/p.yaml"), content=bad
                    )
                ],
            )
        )
        return response.commit_sha

    stack.api.run(commit_raw())
    fix = ok(upsert_product(stack.api, owner.token, repo, "p"))["commit"]
    payload = mutate(stack.api, REVERT, {"repository": repo, "sha": fix}, owner.token)
    (error,) = payload["userErrors"]
    assert error["field"] == "sha" and error["code"] == "VALIDATION_FAILED"
    assert error["message"].startswith(fan("products/p.yaml") + ": spec.title is required")
    assert stack.git_head(repo) == fix


def test_history_lists_changes_newest_first(stack: Stack, owner: Person, repo: str) -> None:
    created = ok(
        upsert_product(stack.api, owner.token, repo, "p", idempotencyKey="h-1", format="JSON")
    )["commit"]
    ok(upsert_product(stack.api, owner.token, repo, "unrelated"))
    edited = ok(upsert_product(stack.api, owner.token, repo, "p", spec=product_spec(title="T2")))[
        "commit"
    ]
    deleted = ok(mutate(stack.api, DELETE_PRODUCT, {"repository": repo, "name": "p"}, owner.token))[
        "commit"
    ]
    # re-created in another format: the history follows the resource, not the file
    recreated = ok(
        mutate(
            stack.api,
            APPLY,
            {
                "repository": repo,
                "manifests": [
                    {
                        "manifest": {
                            "apiVersion": "gitstore.dev/v1",
                            "kind": "Product",
                            "metadata": {"name": "p"},
                            "spec": product_spec(title="T3"),
                        }
                    }
                ],
            },
            owner.token,
        )
    )["commit"]
    data = execute(
        stack.api,
        HISTORY,
        {"repository": repo, "kind": "product", "name": "p", "first": 10},
        owner.token,
    )
    entries = data["resourceHistory"]
    assert [e["commit"] for e in entries] == [recreated, deleted, edited, created]
    assert [e["changeType"] for e in entries] == ["ADDED", "DELETED", "MODIFIED", "ADDED"]
    assert [e["path"] for e in entries] == [
        fan("products/p.yaml"),
        fan("products/p.json"),
        fan("products/p.json"),
        fan("products/p.json"),
    ]
    oldest = entries[-1]
    assert oldest["actor"] == owner.username and oldest["idempotencyKey"] == "h-1"
    assert oldest["message"] == "upsert Product p" and oldest["requestId"]
    assert oldest["author"] == {
        "name": owner.username,
        "email": f"{owner.username}@users.gitstore.local",
    }
    assert entries[2]["diff"] == [
        {"path": "spec.title", "op": "CHANGED", "old": "Blue Shirt", "new": "T2"}
    ]
    limited = execute(
        stack.api,
        HISTORY,
        {"repository": repo, "kind": "Product", "name": "p", "first": 1},
        owner.token,
    )["resourceHistory"]
    assert [e["commit"] for e in limited] == [recreated]


def test_history_of_unknown_kind_and_outsider(stack: Stack, owner: Person, repo: str) -> None:
    response = stack.api.graphql(
        HISTORY, {"repository": repo, "kind": "Widget", "name": "p"}, token=owner.token
    )
    error = response.json()["errors"][0]
    assert error["extensions"]["code"] == "INVALID_ARGUMENT"
    assert "Widget" in error["message"]
    _, stranger = stack.api.user_token()
    response = stack.api.graphql(
        HISTORY, {"repository": repo, "kind": "Product", "name": "p"}, token=stranger
    )
    assert response.json()["errors"][0]["extensions"]["code"] == "NOT_FOUND"
