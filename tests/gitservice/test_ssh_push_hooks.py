"""SSH pushes through the whole git service (``start_server`` + its ``GitTransport``): the
pre-receive/post-receive hooks reach the API's HookService with the SSH push context, and a
refusal there stops the push."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from gitstore.domain.identity import RepositoryId
from gitstore.gitservice.server import GitServiceHandle, start_server
from gitstore.gitservice.ssh import SshHandle, start_ssh_server
from tests.gitservice.helpers import make_settings
from tests.gitservice.ssh_helpers import (
    READ,
    WRITE,
    ClientKey,
    FakeHooks,
    git_env,
    make_key,
    require_tools,
    run_git,
    serve_hooks,
)

REPO = "acme/shop"


@dataclass
class Stack:
    tmp: Path
    git: GitServiceHandle
    ssh: SshHandle
    hooks: FakeHooks
    writer: ClientKey

    def url(self) -> str:
        return f"ssh://git@127.0.0.1:{self.ssh.port}/acme/shop.git"

    def ref(self, ref: str) -> str:
        path = self.git.store.locate(RepositoryId.parse(REPO))
        done = run_git({}, "--git-dir", str(path), "rev-parse", "--verify", "-q", ref, check=False)
        return done.stdout.strip()


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[Stack]:
    require_tools()
    writer = make_key(tmp_path, "wendy")
    hooks = FakeHooks(
        keys={writer.public_line: (writer.fingerprint, "wendy")},
        grants={("wendy", REPO): WRITE},
        repositories={REPO},
        refused_refs={"refs/heads/blocked"},
    )
    grpc_server, hooks_port = serve_hooks(hooks)
    settings = make_settings(tmp_path / "data", **{"ssh.port": 0})
    git = start_server(settings)
    ssh: SshHandle | None = None
    try:
        git.set_hook_uri(f"127.0.0.1:{hooks_port}")
        git.store.create(RepositoryId.parse(REPO), "main", "")
        ssh = start_ssh_server(settings, git.store, transport=git.transport)
        ssh.set_hook_uri(f"127.0.0.1:{hooks_port}")
        yield Stack(tmp_path, git, ssh, hooks, writer)
    finally:
        if ssh is not None:
            ssh.stop(grace=1.0)
        git.stop(grace=1.0)
        grpc_server.stop(None)


def _commit(stack: Stack, work: Path, name: str) -> str:
    env = git_env(stack.tmp, stack.writer.path)
    (work / name).write_text(f"{name}\n")
    run_git(env, "add", name, cwd=work)
    run_git(env, "commit", "-q", "-m", f"add {name}", cwd=work)
    return run_git(env, "rev-parse", "HEAD", cwd=work).stdout.strip()


def test_ssh_push_runs_the_hooks_with_the_ssh_context(stack: Stack) -> None:
    env = git_env(stack.tmp, stack.writer.path)
    work = stack.tmp / "w"
    run_git(env, "clone", "-q", stack.url(), str(work))
    run_git(env, "checkout", "-q", "-b", "main", cwd=work)
    head = _commit(stack, work, "a.yaml")
    done = run_git(env, "push", "origin", "main", cwd=work)
    assert stack.ref("refs/heads/main") == head
    assert "remote: checked by the test" in done.stderr
    (pre,) = stack.hooks.called("PreReceive")
    assert pre.repository_id == REPO
    context = pre.context
    assert (context.username, context.transport) == ("wendy", "ssh")
    assert context.remote_address == "127.0.0.1" and len(context.push_id) == 32
    posts = stack.hooks.called("PostReceive")
    assert [u.new for u in posts[-1].updates] == [head]
    assert posts[-1].context.push_id == context.push_id


def test_a_refused_ssh_push_moves_nothing(stack: Stack) -> None:
    env = git_env(stack.tmp, stack.writer.path)
    work = stack.tmp / "w"
    run_git(env, "clone", "-q", stack.url(), str(work))
    run_git(env, "checkout", "-q", "-b", "blocked", cwd=work)
    _commit(stack, work, "b.yaml")
    done = run_git(env, "push", "origin", "blocked", cwd=work, check=False)
    assert done.returncode != 0
    assert "remote: POLICY CHECK FAILED" in done.stderr
    assert "remote: refs/heads/blocked [test] refused" in done.stderr
    assert stack.ref("refs/heads/blocked") == ""
    assert stack.hooks.called("PostReceive") == []


def test_fetch_needs_no_hooks(stack: Stack) -> None:
    stack.hooks.grants[("wendy", REPO)] = READ
    env = git_env(stack.tmp, stack.writer.path)
    run_git(env, "clone", "-q", stack.url(), str(stack.tmp / "r"))
    assert stack.hooks.called("PreReceive") == []
