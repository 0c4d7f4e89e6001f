"""Helpers for the git transport tests: an isolated ``git`` client, keys, pushes."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

CLIENT_CONFIG = (
    "-c",
    "user.name=Ada Lovelace",
    "-c",
    "user.email=ada@example.com",
    "-c",
    "init.defaultBranch=main",
)


def client_env(home: Path) -> dict[str, str]:
    home.mkdir(parents=True, exist_ok=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    env.update(
        HOME=str(home),
        GIT_CONFIG_NOSYSTEM="1",
        GIT_TERMINAL_PROMPT="0",
        LANG="C",
        LC_ALL="C",
    )
    return env


def run_git(
    home: Path, *args: str, cwd: Path | None = None, check: bool = True, protocol: int = 0
) -> subprocess.CompletedProcess[str]:
    """``git`` as a client with its own HOME; ``protocol`` 0 (v0) unless asked for v2."""
    config = [*CLIENT_CONFIG, "-c", f"protocol.version={protocol}"]
    done = subprocess.run(
        ["git", *config, *args],
        cwd=cwd,
        env=client_env(home),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if check and done.returncode != 0:
        raise AssertionError(f"git {' '.join(args)} failed ({done.returncode}):\n{done.stderr}")
    return done


def commit_file(home: Path, work: Path, path: str, content: str, message: str) -> str:
    target = work / path
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(content)
    run_git(home, "add", path, cwd=work)
    run_git(home, "commit", "-q", "-m", message, cwd=work)
    return run_git(home, "rev-parse", "HEAD", cwd=work).stdout.strip()


def remote_lines(stderr: str) -> list[str]:
    return [
        line[len("remote: ") :].rstrip()
        for line in stderr.splitlines()
        if line.startswith("remote: ")
    ]


def make_ssh_key(directory: Path) -> tuple[Path, str]:
    """A fresh ed25519 key; returns (private key path, ``SHA256:…`` fingerprint)."""
    key = directory / "id_ed25519"
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "test", "-f", str(key)], check=True
    )
    shown = subprocess.run(
        ["ssh-keygen", "-l", "-f", str(key) + ".pub"], capture_output=True, text=True, check=True
    ).stdout
    return key, shown.split()[1]
