"""SSH sign-in limits with the real ``ssh`` client: refused keys count against the client's
address across connections (then no key is looked up and an auth banner says how long to
wait), a successful login takes back its own connection's refusals, and a disabled user's key
is refused with a banner saying so and does not count. The limiter's clock is the test's."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from gitstore.domain.ratelimit import CredentialGuard, FailureLimiter, Policy
from gitstore.gitservice.ssh import SshHandle, start_ssh_server
from gitstore.gitservice.storage import RepositoryStore
from tests.gitservice.helpers import make_settings
from tests.gitservice.ssh_helpers import ClientKey, FakeHooks, make_key, require_tools, run_ssh
from tests.gitservice.ssh_helpers import serve_hooks as serve

LOCKED = "too many failed sign-in attempts from your address; try again in 60 seconds"


class Clock:
    def __init__(self) -> None:
        self.now = 10.0

    def __call__(self) -> float:
        return self.now


@dataclass
class Site:
    ssh: SshHandle
    hooks: FakeHooks
    clock: Clock
    writer: ClientKey
    stranger: ClientKey
    dora: ClientKey  # a disabled user's key

    def login(self, *keys: ClientKey) -> subprocess.CompletedProcess[str]:
        """Offer ``keys`` in order; "true" is refused after login (exit 128), so 255 means
        the login itself failed."""
        extra = tuple(arg for key in keys[1:] for arg in ("-i", str(key.path)))
        return run_ssh(self.ssh.port, keys[0].path, "true", options=extra, log_level="INFO")

    def lookups(self) -> int:
        return len(self.hooks.called("AuthenticateSshKey"))


@pytest.fixture
def site(tmp_path: Path) -> Iterator[Site]:
    require_tools()
    keys = tmp_path / "keys"
    keys.mkdir()
    writer, stranger, dora = (make_key(keys, n) for n in ("wendy", "stranger", "dora"))
    hooks = FakeHooks(
        keys={
            writer.public_line: (writer.fingerprint, "wendy"),
            dora.public_line: (dora.fingerprint, "dora"),
        },
        disabled={"dora"},
    )
    grpc_server, port = serve(hooks)
    settings = make_settings(tmp_path / "data", **{"ssh.port": 0})
    clock = Clock()
    guard = CredentialGuard(address=FailureLimiter(Policy(2, 900, 60, 900), clock=clock))
    store = RepositoryStore(settings.repos_dir(), fsync=False)
    handle = start_ssh_server(settings, store, hook_uri=f"127.0.0.1:{port}", guard=guard)
    try:
        yield Site(handle, hooks, clock, writer, stranger, dora)
    finally:
        handle.stop(grace=1.0)
        grpc_server.stop(None)


def test_refused_keys_lock_the_address_across_connections(site: Site) -> None:
    for _ in range(3):  # two free refusals, the third locks the address for 60 s
        done = site.login(site.stranger)
        assert done.returncode == 255 and "Permission denied (publickey)" in done.stderr
        assert "too many" not in done.stderr
    before = site.lookups()
    locked = site.login(site.writer)  # even a good key is not checked now
    assert locked.returncode == 255
    assert LOCKED in locked.stderr
    assert site.lookups() == before

    site.clock.now += 60
    done = site.login(site.writer)
    assert done.returncode == 128, done.stderr
    assert "only git-upload-pack and git-receive-pack are allowed" in done.stderr


def test_a_login_takes_back_its_own_connections_refusals(site: Site) -> None:
    for _ in range(4):  # an agent that offers an unregistered key first, every time
        done = site.login(site.stranger, site.writer)
        assert done.returncode == 128, done.stderr
    assert site.login(site.writer).returncode == 128


def test_a_disabled_users_key_is_refused_with_a_reason_and_does_not_count(site: Site) -> None:
    for _ in range(4):
        done = site.login(site.dora)
        assert done.returncode == 255
        assert "gitstore: the account this key belongs to is disabled" in done.stderr
        assert "unavailable" not in done.stderr
    assert site.login(site.writer).returncode == 128  # the address is not locked
    site.hooks.disabled.clear()
    assert site.login(site.dora).returncode == 128  # enabled again: the key works
