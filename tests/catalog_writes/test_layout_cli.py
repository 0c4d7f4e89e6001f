"""``gitstore repo migrate-layout NS/REPO`` against a real API (HTTP, a real git service):
the count first, then one line with the commit; safe to run again; one-line errors."""

from __future__ import annotations

import os
import subprocess
import sys

from .harness import Stack
from .ops import Person, ok, upsert_product
from .test_layout import fan, seed_legacy

GITSTORE = [sys.executable, "-m", "gitstore"]


def gitstore(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("GITSTORE_")}
    return subprocess.run(
        [*GITSTORE, *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={**clean, **(env or {})},
    )


def test_migrate_layout_moves_a_flat_repository_in_one_commit(
    stack: Stack, owner: Person, repo: str
) -> None:
    seed_legacy(stack, repo)
    for name in ("p", "q", "r"):
        ok(upsert_product(stack.api, owner.token, repo, name))
    assert stack.files(repo) == [
        "README.md",
        "products/p.yaml",
        "products/q.yaml",
        "products/r.yaml",
    ]
    url = stack.api.base_url
    done = gitstore(
        "repo", "migrate-layout", repo, "--url", url, env={"GITSTORE_TOKEN": owner.token}
    )
    assert done.returncode == 0, done.stderr
    head = stack.git_head(repo)
    assert done.stderr.strip() == f"moving 3 files of {repo} to the fan-out layout…"
    assert done.stdout.strip() == f"{repo}: moved 3 files to the fan-out layout in commit {head}"
    assert stack.all_files(repo) == sorted(
        [".gitstore/layout", "README.md", fan("p"), fan("q"), fan("r")]
    )

    again = gitstore("repo", "migrate-layout", repo, "--url", url, "--token", owner.token)
    assert again.returncode == 0, again.stderr
    assert again.stdout.strip() == f"{repo}: already in the fan-out layout at {head[:12]}"
    assert stack.git_head(repo) == head


def test_migrate_layout_errors_are_one_line(stack: Stack, owner: Person, repo: str) -> None:
    url = stack.api.base_url
    missing = gitstore("repo", "migrate-layout", repo, "--url", url)
    assert missing.returncode != 0 and missing.stdout == ""
    assert len(missing.stderr.strip().splitlines()) == 1, missing.stderr
    assert "GITSTORE_TOKEN" in missing.stderr

    bad = gitstore("repo", "migrate-layout", repo, "--url", url, "--token", "not-a-token")
    assert bad.returncode != 0 and len(bad.stderr.strip().splitlines()) == 1, bad.stderr

    other = gitstore(
        "repo", "migrate-layout", "nobody/nothing", "--url", url, "--token", owner.token
    )
    assert other.returncode != 0 and len(other.stderr.strip().splitlines()) == 1, other.stderr

    down = gitstore(
        "repo", "migrate-layout", repo, "--url", "http://127.0.0.1:9", "--token", owner.token
    )
    assert down.returncode != 0 and "cannot reach" in down.stderr, down.stderr
    assert len(down.stderr.strip().splitlines()) == 1, down.stderr
