"""A stock ``git`` (and ``ssh``) client in a scratch directory, driven like an engineer does.

``Workspace`` isolates the client from the machine's configuration (its own ``HOME``, no
credential helpers, no prompts) and runs ``git`` with ``run(...)`` (raising with the output on
failure) or ``attempt(...)`` (returning the completed process, for pushes that must fail).
SSH: ``ssh_key(name)`` makes an ed25519 key pair; ``ssh_env(key, port)`` is the
``GIT_SSH_COMMAND`` that uses only that key against a GitStore SSH port.
"""

from __future__ import annotations

import json
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any


def manifest(name: str, title: str = "Blue Shirt", amount: str = "19.99", **spec: Any) -> str:
    """A Product manifest as YAML text (JSON is valid YAML)."""
    body = {"title": title, "status": "active", "price": {"amount": amount, "currency": "EUR"}}
    body.update(spec)
    document = {
        "apiVersion": "gitstore.dev/v1",
        "kind": "Product",
        "metadata": {"name": name},
        "spec": body,
    }
    return json.dumps(document, indent=2) + "\n"


@dataclass
class Workspace:
    root: Path

    def __post_init__(self) -> None:
        self.home = self.root / "home"
        self.home.mkdir(parents=True, exist_ok=True)
        (self.home / ".gitconfig").write_text(
            "[user]\n\tname = E2E Engineer\n\temail = e2e@example.com\n"
            "[init]\n\tdefaultBranch = main\n[advice]\n\tdetachedHead = false\n"
        )

    @property
    def env(self) -> dict[str, str]:
        return {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": str(self.home),
            "GIT_TERMINAL_PROMPT": "0",
            "GIT_CONFIG_NOSYSTEM": "1",
            "LANG": "C.UTF-8",
        }

    def attempt(
        self, *args: str, cwd: Path | None = None, env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["git", *args],
            cwd=cwd or self.root,
            env={**self.env, **(env or {})},
            capture_output=True,
            text=True,
            timeout=300,
        )

    def run(self, *args: str, cwd: Path | None = None, env: dict[str, str] | None = None) -> str:
        done = self.attempt(*args, cwd=cwd, env=env)
        assert done.returncode == 0, f"git {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}"
        return done.stdout

    def write(self, clone: Path, path: str, text: str) -> None:
        target = clone / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)

    def commit_all(self, clone: Path, message: str, *extra: str) -> str:
        self.run("add", "-A", cwd=clone)
        self.run("commit", "-q", "-m", message, *extra, cwd=clone)
        return self.run("rev-parse", "HEAD", cwd=clone).strip()

    # ------------------------------------------------------------------ ssh
    def ssh_key(self, name: str) -> Path:
        key = self.root / "keys" / name
        key.parent.mkdir(parents=True, exist_ok=True)
        if not key.exists():
            subprocess.run(
                ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", name, "-f", str(key)],
                check=True,
                timeout=30,
            )
        return key

    def ssh_command(self, key: Path, port: int) -> str:
        return (
            f"ssh -i {key} -p {port} -o IdentitiesOnly=yes -o StrictHostKeyChecking=no "
            "-o UserKnownHostsFile=/dev/null -o LogLevel=ERROR -o BatchMode=yes "
            "-o PasswordAuthentication=no"
        )

    def ssh_env(self, key: Path, port: int) -> dict[str, str]:
        return {"GIT_SSH_COMMAND": self.ssh_command(key, port)}

    def ssh(self, key: Path, port: int, *remote: str) -> subprocess.CompletedProcess[str]:
        """Run ``ssh git@127.0.0.1 <remote...>`` with the key (for refused-command tests)."""
        return subprocess.run(
            [*self.ssh_command(key, port).split(), "git@127.0.0.1", *remote],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=60,
            stdin=subprocess.DEVNULL,
        )
