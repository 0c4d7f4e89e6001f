"""Real SSH keys made with ``ssh-keygen`` (and what ``ssh-keygen -lf`` says about them)."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class KeyPair:
    private: Path
    public_line: str  # the .pub file's line, comment included
    fingerprint: str  # SHA256:... from ssh-keygen -lf


def make_key(directory: Path, name: str, kind: str = "ed25519", bits: int | None = None) -> KeyPair:
    path = directory / name
    args = ["ssh-keygen", "-q", "-t", kind, "-N", "", "-C", f"{name}@test", "-f", str(path)]
    if bits is not None:
        args += ["-b", str(bits)]
    subprocess.run(args, check=True, capture_output=True)
    listed = subprocess.run(
        ["ssh-keygen", "-lf", f"{path}.pub"], check=True, capture_output=True, text=True
    ).stdout.split()
    return KeyPair(path, Path(f"{path}.pub").read_text().strip(), listed[1])
