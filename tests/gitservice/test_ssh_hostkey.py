"""The SSH host key file: made once with mode 0600, reused, never silently replaced."""

from __future__ import annotations

import stat
from pathlib import Path

import asyncssh
import pytest

from gitstore.domain.errors import FailedPrecondition
from gitstore.gitservice.ssh.hostkey import load_or_create_host_key


def test_made_once_then_reused(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "ssh_host_ed25519_key"
    first = load_or_create_host_key(path)
    assert first.algorithm == b"ssh-ed25519"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    again = load_or_create_host_key(path)
    assert again.get_fingerprint("sha256") == first.get_fingerprint("sha256")
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # no temporary left


def test_an_existing_key_is_used_as_is(tmp_path: Path) -> None:
    path = tmp_path / "key"
    mine = asyncssh.generate_private_key("ssh-ed25519")
    path.write_bytes(mine.export_private_key("openssh"))
    path.chmod(0o600)
    assert load_or_create_host_key(path).get_fingerprint() == mine.get_fingerprint()


def test_a_broken_key_file_is_an_error_not_replaced(tmp_path: Path) -> None:
    path = tmp_path / "key"
    path.write_text("not a key\n")
    with pytest.raises(FailedPrecondition, match=f"cannot read the SSH host key {path}"):
        load_or_create_host_key(path)
    assert path.read_text() == "not a key\n"
