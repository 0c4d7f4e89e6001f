"""The SSH command grammar (pure): exactly git's two pack services on one valid repository."""

from __future__ import annotations

import pytest

from gitstore.domain.identity import RepositoryId
from gitstore.gitservice.ssh.command import (
    ONLY_GIT,
    CommandRefused,
    GitService,
    parse_git_command,
)

UP = GitService.UPLOAD_PACK
RECV = GitService.RECEIVE_PACK


@pytest.mark.parametrize(
    ("command", "service", "repo"),
    [
        ("git-upload-pack '/acme/catalog.git'", UP, "acme/catalog"),
        ("git-upload-pack 'acme/catalog.git'", UP, "acme/catalog"),
        ("git-upload-pack '/acme/catalog'", UP, "acme/catalog"),
        ("git-upload-pack 'acme/catalog'", UP, "acme/catalog"),
        ("git upload-pack '/acme/catalog.git'", UP, "acme/catalog"),
        ("git-receive-pack '/acme/catalog.git'", RECV, "acme/catalog"),
        ("git receive-pack 'a-1/b-2.git'", RECV, "a-1/b-2"),
        (f"git-upload-pack '/{'a' * 63}/{'b' * 63}.git'", UP, f"{'a' * 63}/{'b' * 63}"),
    ],
)
def test_accepted(command: str, service: GitService, repo: str) -> None:
    parsed = parse_git_command(command)
    assert parsed.service is service
    assert parsed.repository == RepositoryId.parse(repo)


@pytest.mark.parametrize(
    "command",
    [
        None,
        "",
        "ls",
        "git",
        "git-upload-pack",
        "git-upload-archive '/acme/catalog.git'",
        "git-upload-packs '/acme/catalog.git'",
        "git upload-archive '/acme/catalog.git'",
        "GIT-UPLOAD-PACK '/acme/catalog.git'",
        " git-upload-pack '/acme/catalog.git'",
        "git  upload-pack '/acme/catalog.git'",
        "git-upload-pack\t'/acme/catalog.git'",
        "rm -rf /; git-upload-pack '/acme/catalog.git'",
        "sh -c 'git-upload-pack /acme/catalog.git'",
        "/usr/bin/git-upload-pack '/acme/catalog.git'",
        "git-upload-pack '/acme/catalog.git'" + " " * 2000,
    ],
)
def test_other_commands(command: str | None) -> None:
    with pytest.raises(CommandRefused) as info:
        parse_git_command(command)
    assert info.value.message == ONLY_GIT


@pytest.mark.parametrize(
    ("command", "why"),
    [
        ("git-upload-pack '/acme/catalog.git'; rm -rf /", "single-quoted path"),
        ("git-upload-pack '/acme/catalog.git' && id", "single-quoted path"),
        ("git-upload-pack '/acme/catalog.git'\nid", "single-quoted path"),
        ("git-upload-pack '/acme/catalog.git' extra", "single-quoted path"),
        ("git-upload-pack --strict '/acme/catalog.git'", "single-quoted path"),
        ("git-upload-pack /acme/catalog.git", "single-quoted path"),
        ('git-upload-pack "/acme/catalog.git"', "single-quoted path"),
        ("git-upload-pack '/acme/'\\''catalog.git'", "single-quoted path"),
        ("git-upload-pack '/acme/catalog.git''", "single-quoted path"),
        ("git-upload-pack '", "single-quoted path"),
        ("git-upload-pack ", "single-quoted path"),
        ("git-upload-pack '$(id)'", "expected /<namespace>/<repository>.git"),
        ("git-upload-pack '../../etc'", "expected /<namespace>"),
        ("git-upload-pack '../etc'", "namespace may contain only"),
        ("git-upload-pack '/acme/../catalog.git'", "expected /<namespace>"),
        ("git-upload-pack '/'", "expected /<namespace>"),
        ("git-upload-pack ''", "expected /<namespace>"),
        ("git-upload-pack '//acme/catalog.git'", "expected /<namespace>"),
        ("git-upload-pack '/acme/catalog.git/'", "expected /<namespace>"),
        ("git-upload-pack '/acme/x/catalog.git'", "expected /<namespace>"),
        ("git-upload-pack '/Acme/catalog.git'", "namespace may contain only"),
        ("git-upload-pack '/acme/-catalog.git'", "repository name must not start or end"),
        ("git-upload-pack '/acme/.git'", "repository name must not be empty"),
        ("git-upload-pack '/acme/catalog.git.git'", "repository name may contain only"),
        ("git-upload-pack '/acme/cat\x00alog.git'", "repository name may contain only"),
        ("git-upload-pack '/acme/catälog.git'", "repository name may contain only"),
        (f"git-upload-pack '/acme/{'a' * 64}.git'", "at most 63 characters"),
        ("git-upload-pack '/acme/`id`.git'", "repository name may contain only"),
    ],
)
def test_bad_paths(command: str, why: str) -> None:
    with pytest.raises(CommandRefused) as info:
        parse_git_command(command)
    assert info.value.message.startswith("gitstore: invalid repository path")
    assert why in info.value.message


def test_echoed_path_is_sanitised_and_short() -> None:
    with pytest.raises(CommandRefused) as info:
        parse_git_command("git-upload-pack '/acme/\x1b[31m" + "x" * 500 + ".git'")
    message = info.value.message
    assert "\x1b" not in message
    assert len(message) < 300
