"""Repository layouts through the API: new repositories fan out, a flat repository keeps
writing flat until ``migrateRepositoryLayout`` moves it (one commit), and history,
expectedVersion and revertCommit follow resources across the move."""

from __future__ import annotations

import subprocess

from gitstore.domain.content import bucket_for

from .harness import Stack
from .ops import HISTORY, REVERT, Person, execute, mutate, ok, product_spec, upsert_product

MIGRATE = """
mutation Migrate($input: MigrateRepositoryLayoutInput!) {
  migrateRepositoryLayout(input: $input) {
    repository layout committed commit moved userErrors { field message code }
  }
}"""


def fan(name: str, ext: str = "yaml") -> str:
    return f"products/{bucket_for(name)}/{name}.{ext}"


def seed_legacy(stack: Stack, repo: str) -> None:
    """A commit without the marker, as every repository made before the fan-out layout."""
    git = ["git", "--git-dir", str(stack.git_dir(repo))]
    blob = (
        subprocess.run(
            [*git, "hash-object", "-w", "--stdin"],
            input=b"legacy\n",
            capture_output=True,
            check=True,
        )
        .stdout.decode()
        .strip()
    )
    tree = (
        subprocess.run(
            [*git, "mktree"],
            input=f"100644 blob {blob}\tREADME.md\n".encode(),
            capture_output=True,
            check=True,
        )
        .stdout.decode()
        .strip()
    )
    env = {
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@x",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@x",
        "PATH": "/usr/bin:/bin",
    }
    commit = (
        subprocess.run(
            [*git, "commit-tree", tree, "-m", "legacy"], capture_output=True, check=True, env=env
        )
        .stdout.decode()
        .strip()
    )
    subprocess.run([*git, "update-ref", "refs/heads/main", commit], check=True)


def migrate(stack: Stack, token: str, repo: str) -> dict[str, object]:
    return ok(mutate(stack.api, MIGRATE, {"repository": repo}, token))


def test_new_repository_writes_the_fanout_layout_and_marker(
    stack: Stack, owner: Person, repo: str
) -> None:
    ok(upsert_product(stack.api, owner.token, repo, "oxford-shirt"))
    assert stack.all_files(repo) == sorted([".gitstore/layout", fan("oxford-shirt")])
    assert stack.git_show(repo, ".gitstore/layout") == b"fanout\n"
    again = migrate(stack, owner.token, repo)  # already fan-out: nothing to do
    assert again["committed"] is False and again["moved"] == 0


def test_flat_repository_migrates_and_history_revert_follow(
    stack: Stack, owner: Person, repo: str
) -> None:
    seed_legacy(stack, repo)
    created = ok(upsert_product(stack.api, owner.token, repo, "p"))["commit"]
    edited = ok(upsert_product(stack.api, owner.token, repo, "p", spec=product_spec(title="Two")))
    ok(upsert_product(stack.api, owner.token, repo, "q", format="JSON"))
    assert stack.files(repo) == ["README.md", "products/p.yaml", "products/q.json"]  # flat

    result = migrate(stack, owner.token, repo)
    assert result["committed"] is True and result["moved"] == 2 and result["layout"] == "fanout"
    assert stack.all_files(repo) == sorted(
        [".gitstore/layout", "README.md", fan("p"), fan("q", "json")]
    )
    assert (
        stack.run_git(repo, "diff", "--stat", "-M", "HEAD~1", "HEAD", "--", "products").count("=>")
        == 2
    )  # moves, contents unchanged
    assert stack.trailers(repo)["Layout-Migration"] == "fanout"
    migration = stack.git_head(repo)
    assert migrate(stack, owner.token, repo)["committed"] is False  # idempotent

    # a version read before the migration is still fresh: only the directory changed
    after = ok(
        upsert_product(
            stack.api,
            owner.token,
            repo,
            "p",
            spec=product_spec(title="Three"),
            expectedVersion=edited["commit"],
        )
    )["commit"]
    ok(upsert_product(stack.api, owner.token, repo, "new-one"))
    assert fan("new-one") in stack.files(repo)  # new resources follow the marker

    entries = execute(
        stack.api,
        HISTORY,
        {"repository": repo, "kind": "product", "name": "p", "first": 10},
        owner.token,
    )["resourceHistory"]
    assert [e["commit"] for e in entries] == [after, migration, edited["commit"], created]
    assert [e["changeType"] for e in entries] == ["MODIFIED", "MODIFIED", "MODIFIED", "ADDED"]
    assert [e["path"] for e in entries] == [
        fan("p"),
        fan("p"),
        "products/p.yaml",
        "products/p.yaml",
    ]
    assert entries[1]["diff"] == []

    # reverting the (pre-migration) creation of q deletes the file where it lives now
    q_created = stack.run_git(
        repo, "log", "--diff-filter=A", "--format=%H", "-1", "--", "products/q.json"
    ).strip()
    payload = ok(mutate(stack.api, REVERT, {"repository": repo, "sha": q_created}, owner.token))
    assert payload["changes"][0]["path"] == fan("q", "json")
    assert fan("q", "json") not in stack.files(repo)
    # the migration itself is not revertible
    refused = mutate(stack.api, REVERT, {"repository": repo, "sha": migration}, owner.token)
    assert refused["userErrors"][0]["code"] == "FAILED_PRECONDITION"


def test_revert_of_a_pre_migration_edit_restores_at_the_new_path(
    stack: Stack, owner: Person, repo: str
) -> None:
    seed_legacy(stack, repo)
    ok(upsert_product(stack.api, owner.token, repo, "p"))
    edit = ok(upsert_product(stack.api, owner.token, repo, "p", spec=product_spec(title="Oops")))
    migrate(stack, owner.token, repo)
    payload = ok(
        mutate(stack.api, REVERT, {"repository": repo, "sha": edit["commit"]}, owner.token)
    )
    assert payload["changes"][0]["path"] == fan("p")
    assert b"title: Blue Shirt" in stack.git_show(repo, fan("p"))
    assert "products/p.yaml" not in stack.files(repo)
