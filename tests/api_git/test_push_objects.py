"""Pushed objects are checked like ``receive.fsckObjects`` / GitHub do, over HTTP and SSH.

Hostile trees are written straight into a client repository's object database with pygit2
(``Repository.write``: any entry name, any depth) and pushed with the stock ``git`` client.
Two layers refuse them: git's own fsck inside receive-pack (``..``, ``/etc/passwd``,
``.GIT`` and its NTFS/HFS aliases, a ``.gitmodules`` with a traversal name), before any hook;
and the git service's path checks sent to PreReceive (``tree-depth``, ``path-length``,
``path-encoding``, ``submodule``). Either way the client sees a ``remote:`` line naming the
rule, and the branch does not move.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pygit2
import pytest

from gitstore.config import load_settings
from gitstore.gitservice import paths
from gitstore.gitservice.ssh import start_ssh_server
from tests.gitservice.ssh_helpers import git_env, require_tools, run_git
from tests.support.graphql_ops import Person, mutate, ok

from .harness import GitStack, start_git_stack
from .keys import KeyPair, make_key

ADD_KEY = """
mutation Add($input: AddSshKeyInput!) {
  addSshKey(input: $input) { sshKey { fingerprint } userErrors { field message code } }
}"""
BLOB = pygit2.GIT_FILEMODE_BLOB
TREE = pygit2.GIT_FILEMODE_TREE


@dataclass
class Pushers:
    stack: GitStack
    ssh_port: int
    alice: Person
    secret: str
    key: KeyPair
    tmp: Path

    def url(self, transport: str, repo: str) -> str:
        if transport == "ssh":
            return f"ssh://git@127.0.0.1:{self.ssh_port}/{repo}.git"
        return self.stack.url(repo, self.alice.username, self.secret)

    def env(self) -> dict[str, str]:
        return git_env(self.tmp / "home", self.key.private)


@pytest.fixture(scope="module")
def pushers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pushers]:
    require_tools()
    tmp = tmp_path_factory.mktemp("push-objects")
    (tmp / "home").mkdir()
    with start_git_stack(tmp / "stack") as stack:
        settings = load_settings(
            **{"data_dir": str(stack.settings.data_dir), "ssh.port": 0, "git.fsync": False}
        )
        ssh = start_ssh_server(
            settings,
            stack.git_service.store,
            transport=stack.git_service.transport,
            hook_uri=f"127.0.0.1:{stack.hook_port}",
        )
        try:
            alice = stack.person()
            key = make_key(tmp, "alice")
            ok(mutate(stack.api, ADD_KEY, {"publicKey": key.public_line}, alice.token))
            yield Pushers(stack, ssh.port, alice, stack.pat(alice), key, tmp)
        finally:
            ssh.stop(grace=1.0)


def tree(repo: pygit2.Repository, entries: list[tuple[bytes, int, pygit2.Oid]]) -> pygit2.Oid:
    """A tree object with exactly these entries (sorted as git sorts them), unchecked."""

    def key(entry: tuple[bytes, int, pygit2.Oid]) -> bytes:
        return entry[0] + (b"/" if entry[1] == TREE else b"")

    raw = b"".join(
        b"%o %s\0" % (mode, name) + oid.raw for name, mode, oid in sorted(entries, key=key)
    )
    return repo.write(pygit2.GIT_OBJECT_TREE, raw)


def nested(repo: pygit2.Repository, names: list[bytes], leaf: bytes) -> pygit2.Oid:
    """A root tree holding ``names[0]/names[1]/.../leaf`` (a file), built bottom-up."""
    blob = repo.create_blob(b"hello\n")
    oid = tree(repo, [(leaf, BLOB, blob)])
    for name in reversed(names):
        oid = tree(repo, [(name, TREE, oid)])
    return oid


def hostile(repo: pygit2.Repository, case: str) -> pygit2.Oid:
    blob = repo.create_blob(b"hello\n")
    readme = (b"README.md", BLOB, blob)
    if case == "dotdot":
        return tree(repo, [readme, (b"..", TREE, nested(repo, [], b"passwd"))])
    if case == "slash":
        return tree(repo, [readme, (b"/etc/passwd", BLOB, blob)])
    if case in ("dotgit-upper", "dotgit-ntfs", "dotgit-hfs"):
        name = {
            "dotgit-upper": b".GIT",
            "dotgit-ntfs": b"GIT~1",
            "dotgit-hfs": ".g\u200cit".encode(),
        }[case]
        hooks = nested(repo, [b"hooks"], b"post-checkout")
        return tree(repo, [readme, (name, TREE, hooks)])
    if case == "gitmodules-traversal":
        text = b'[submodule "../../modules/evil"]\n\tpath = lib\n\turl = ext::sh -c touch% /tmp/x\n'
        return tree(repo, [readme, (b".gitmodules", BLOB, repo.create_blob(text))])
    if case == "gitmodules-ext":
        text = b'[submodule "lib"]\n\tpath = lib\n\turl = ext::sh -c touch% /tmp/pwned\n'
        return tree(repo, [readme, (b".gitmodules", BLOB, repo.create_blob(text))])
    if case == "deep":
        return tree(repo, [readme, (b"d", TREE, nested(repo, [b"d"] * 9_999, b"f.txt"))])
    if case == "long":
        return nested(repo, [b"x" * 2000] * 50, b"f.txt")  # 100 KB, 51 components
    if case == "latin1":
        return tree(repo, [readme, (b"docs", TREE, nested(repo, [], b"caf\xe9.md"))])
    raise AssertionError(case)


def push_tree(p: Pushers, transport: str, case: str) -> tuple[str, str]:
    """Push a commit of the hostile tree as ``main`` of a new repository: (repo, stderr)."""
    repo_id = p.stack.new_repo(p.alice)
    work = p.tmp / f"{case}-{transport}"
    repo = pygit2.init_repository(str(work), bare=True)
    root = hostile(repo, case)
    who = pygit2.Signature("Tess Ter", "tess@example.com")
    sha = repo.create_commit(None, who, who, f"hostile {case}", root, [])
    target = p.url(transport, repo_id)
    done = run_git(
        p.env(), "--git-dir", str(work), "push", target, f"{sha}:refs/heads/main", check=False
    )
    assert done.returncode != 0, done.stderr
    assert "[remote rejected] " in done.stderr and "-> main (" in done.stderr, done.stderr
    listed = run_git(p.env(), "ls-remote", p.url(transport, repo_id), check=False)
    assert "refs/heads/main" not in listed.stdout, listed.stdout
    return repo_id, done.stderr


TRANSPORTS = ["http", "ssh"]
FSCK_CASES = {
    "dotdot": "hasDotdot: contains '..'",
    "slash": "fullPathname: contains full pathnames",
    "dotgit-upper": "hasDotgit: contains '.git'",
    "dotgit-ntfs": "hasDotgit: contains '.git'",
    "dotgit-hfs": "hasDotgit: contains '.git'",
    "gitmodules-traversal": "gitmodulesName: disallowed submodule name",
}


@pytest.mark.parametrize("transport", TRANSPORTS)
@pytest.mark.parametrize("case", sorted(FSCK_CASES))
def test_git_fsck_refuses_invalid_trees(pushers: Pushers, transport: str, case: str) -> None:
    _, stderr = push_tree(pushers, transport, case)
    assert "remote: error: object " in stderr, stderr
    assert FSCK_CASES[case] in stderr, stderr


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_too_deep_tree_is_refused(pushers: Pushers, transport: str) -> None:
    _, stderr = push_tree(pushers, transport, "deep")
    assert "[tree-depth] the path is 10,001 directories deep; at most 64 are allowed" in stderr, (
        stderr
    )
    assert "remote: d/d/d/" in stderr, stderr


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_too_long_path_is_refused(pushers: Pushers, transport: str) -> None:
    _, stderr = push_tree(pushers, transport, "long")
    expected = f"at most {paths.MAX_PATH_BYTES:,} are allowed"
    assert "[path-length] the path is 100,055 bytes long; " + expected in stderr, stderr
    assert max(len(line) for line in stderr.splitlines()) < 500  # the path is shortened


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_non_utf8_file_name_is_refused_by_name(pushers: Pushers, transport: str) -> None:
    _, stderr = push_tree(pushers, transport, "latin1")
    assert "remote: docs/caf\\xe9.md @ " in stderr, stderr
    assert "[path-encoding] the file name is not valid UTF-8" in stderr, stderr
    assert "internal error" not in stderr.lower()


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_gitmodules_is_refused(pushers: Pushers, transport: str) -> None:
    _, stderr = push_tree(pushers, transport, "gitmodules-ext")
    assert "remote: .gitmodules @ " in stderr, stderr
    assert "[submodule] .gitmodules files are not allowed" in stderr, stderr


def test_a_refused_push_leaves_a_clonable_repository(pushers: Pushers) -> None:
    repo_id, _ = push_tree(pushers, "http", "latin1")
    env = pushers.env()
    work = pushers.tmp / "ok-clone"
    run_git(env, "clone", "-q", pushers.url("http", repo_id), str(work))
    (work / "README.md").write_text("fine\n")
    run_git(env, "-C", str(work), "add", ".")
    run_git(env, "-C", str(work), "commit", "-q", "-m", "fine")
    run_git(env, "-C", str(work), "push", "-q", "origin", "HEAD:refs/heads/main")
    run_git(env, "clone", "-q", pushers.url("ssh", repo_id), str(pushers.tmp / "ok-clone-2"))
    assert (pushers.tmp / "ok-clone-2" / "README.md").read_text() == "fine\n"


def test_every_problem_of_a_push_in_one_answer(pushers: Pushers) -> None:
    """A parse error does not hide the schema and reference problems of the same push; the
    answer is bounded (50 lines, then a count)."""
    p = pushers
    repo_id = p.stack.new_repo(p.alice)
    env = p.env()
    work = p.tmp / "all-at-once"
    run_git(env, "init", "-q", "-b", "main", str(work))
    (work / "products").mkdir()
    (work / "products" / "broken.yaml").write_text("apiVersion: gitstore.dev/v1\nkind: [\n")
    bad = (
        "apiVersion: gitstore.dev/v1\nkind: Product\nmetadata:\n  name: hat\nspec:\n"
        "  title: Hat\n  price:\n    amount: '-1.00'\n    currency: EUR\n"
        "  categories:\n  - nowhere\n"
    )
    (work / "products" / "hat.yaml").write_text(bad)
    for n in range(60):
        (work / "products" / f"p{n:02d}.yaml").write_text("kind: [\n")
    run_git(env, "-C", str(work), "add", ".")
    run_git(env, "-C", str(work), "commit", "-q", "-m", "many problems")
    done = run_git(env, "-C", str(work), "push", p.url("http", repo_id), "main", check=False)
    assert done.returncode != 0
    text = done.stderr
    assert "POLICY CHECK FAILED  (63 problems)" in text, text
    assert "remote: products/broken.yaml @ " in text, text
    assert "[schema] spec.price.amount" in text, text
    assert "products/hat.yaml @ " in text and "[reference] spec.categories[0]" in text, text
    assert "remote: … and 13 more" in text, text
