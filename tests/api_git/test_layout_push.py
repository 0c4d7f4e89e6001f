"""``git push`` and the repository layout (``.gitstore/layout``), with the stock git client
over Smart HTTP against a real API and git service.

A fan-out repository (every repository the API started, and every migrated one) refuses a
manifest pushed in the flat spelling, with a ``remote:`` line naming the rule (``layout``)
and the path the file should have; editing a resource at its bucket path is accepted. A
flat repository (one that predates the marker) accepts both spellings until it migrates.
The marker itself must name a layout and cannot be deleted from a fan-out branch.
"""

from __future__ import annotations

from pathlib import Path

from gitstore.domain.content import bucket_for
from tests.catalog_writes.ops import upsert_product
from tests.support.graphql_ops import Person, mutate, ok
from tests.worker.harness import encode, product

from .harness import GitStack

MIGRATE = """
mutation Migrate($input: MigrateRepositoryLayoutInput!) {
  migrateRepositoryLayout(input: $input) {
    committed commit moved userErrors { field message code }
  }
}"""


def fan(name: str) -> str:
    return f"products/{bucket_for(name)}/{name}.yaml"


class Clone:
    def __init__(self, stack: GitStack, url: str, work: Path) -> None:
        self.stack, self.url, self.work = stack, url, work

    def write(self, path: str, content: bytes) -> None:
        target = self.work / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(content)

    def commit(self, message: str) -> None:
        self.stack.git("add", "-A", cwd=self.work)
        self.stack.git("commit", "-q", "-m", message, cwd=self.work)

    def push(self) -> tuple[bool, str]:
        done = self.stack.git("push", "origin", "HEAD:refs/heads/main", cwd=self.work, check=False)
        return done.returncode == 0, done.stderr

    def pull(self) -> None:
        self.stack.git("pull", "-q", "--ff-only", "origin", "main", cwd=self.work)


def setup(stack: GitStack) -> tuple[Person, str]:
    owner = stack.person()
    return owner, stack.new_repo(owner)


def clone(git_stack: GitStack, url: str, work: Path) -> Clone:
    git_stack.git("clone", "-q", url, str(work))
    return Clone(git_stack, url, work)


def test_fanout_repository_refuses_flat_spelling_and_accepts_bucket_edits(
    stack: GitStack, tmp_path: Path
) -> None:
    owner, repo = setup(stack)
    ok(upsert_product(stack.api, owner.token, repo, "oxford-shirt"))  # writes the marker
    work = clone(stack, stack.url(repo, owner.username, stack.pat(owner)), tmp_path / "c")
    assert (work.work / ".gitstore" / "layout").read_text() == "fanout\n"
    assert (work.work / fan("oxford-shirt")).is_file()

    work.write(fan("oxford-shirt"), encode(product("oxford-shirt", price="42.00")))
    work.commit("edit at the bucket path")
    accepted, stderr = work.push()
    assert accepted, stderr

    work.write("products/linen-shirt.yaml", encode(product("linen-shirt")))
    work.commit("flat spelling")
    accepted, stderr = work.push()
    assert not accepted
    assert (
        "remote: products/linen-shirt.yaml @ " in stderr
        and f"[layout] this repository uses the fan-out layout (.gitstore/layout): move the "
        f"file to {fan('linen-shirt')}"
        in stderr
    ), stderr

    (work.work / fan("linen-shirt")).parent.mkdir(exist_ok=True)
    work.stack.git("mv", "products/linen-shirt.yaml", fan("linen-shirt"), cwd=work.work)
    work.stack.git("commit", "-q", "--amend", "-m", "bucket spelling", cwd=work.work)
    accepted, stderr = work.push()
    assert accepted, stderr


def test_layout_marker_must_name_a_layout_and_stay_in_a_fanout_branch(
    stack: GitStack, tmp_path: Path
) -> None:
    owner, repo = setup(stack)
    ok(upsert_product(stack.api, owner.token, repo, "oxford-shirt"))
    work = clone(stack, stack.url(repo, owner.username, stack.pat(owner)), tmp_path / "c")

    work.write(".gitstore/layout", b"sharded\n")
    work.commit("bad marker")
    accepted, stderr = work.push()
    assert not accepted
    assert "remote: .gitstore/layout @ " in stderr and "[layout]" in stderr, stderr
    assert "it must be one line: flat or fanout" in stderr, stderr

    work.stack.git("rm", "-q", ".gitstore/layout", cwd=work.work)
    work.stack.git("commit", "-q", "--amend", "-m", "no marker", cwd=work.work)
    accepted, stderr = work.push()
    assert not accepted
    assert "cannot be deleted from a fan-out branch" in stderr, stderr


def test_flat_repository_accepts_both_until_migrated_then_only_buckets(
    stack: GitStack, tmp_path: Path
) -> None:
    owner, repo = setup(stack)
    url = stack.url(repo, owner.username, stack.pat(owner))
    work = tmp_path / "legacy"
    stack.git("init", "-q", "-b", "main", str(work))
    stack.git("remote", "add", "origin", url, cwd=work)
    legacy = Clone(stack, url, work)
    legacy.write("products/oxford-shirt.yaml", encode(product("oxford-shirt")))
    legacy.commit("a flat catalogue (no marker)")
    accepted, stderr = legacy.push()
    assert accepted, stderr

    legacy.write("products/linen-shirt.yaml", encode(product("linen-shirt")))
    legacy.write(fan("wool-scarf"), encode(product("wool-scarf")))
    legacy.commit("flat and fan-out spellings in a flat repository")
    accepted, stderr = legacy.push()
    assert accepted, stderr  # a flat repository accepts both until it migrates

    moved = ok(mutate(stack.api, MIGRATE, {"repository": repo}, owner.token))
    assert moved["committed"] is True and moved["moved"] == 2
    legacy.pull()
    assert not (work / "products" / "oxford-shirt.yaml").exists()
    assert (work / ".gitstore" / "layout").read_text() == "fanout\n"

    legacy.write(fan("oxford-shirt"), encode(product("oxford-shirt", price="12.00")))
    legacy.commit("edit at the new path")
    accepted, stderr = legacy.push()
    assert accepted, stderr

    legacy.write("products/silk-tie.yaml", encode(product("silk-tie")))
    legacy.commit("a new file in the flat spelling")
    accepted, stderr = legacy.push()
    assert not accepted
    assert "remote: products/silk-tie.yaml @ " in stderr, stderr
    assert "[layout] this repository uses the fan-out layout" in stderr, stderr
    assert f"move the file to {fan('silk-tie')}" in stderr, stderr
