"""Is requirements.txt in step with pyproject.toml? (offline; part of `make check`)

Every requirement of the project (runtime and the `dev` extra) must be pinned in the lock, at a
version its range allows, with hashes. Anything else means pyproject.toml was edited without
`make lock`: the message names the requirement.
"""

from __future__ import annotations

import re
import sys
import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parent.parent
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)(\[[^\]]*\])?==([^\s;\\]+)")


def pins(text: str) -> dict[str, tuple[str, bool]]:
    """name -> (version, has hashes)"""
    found: dict[str, tuple[str, bool]] = {}
    lines = text.splitlines()
    for i, line in enumerate(lines):
        m = PIN.match(line)
        if m:
            hashed = i + 1 < len(lines) and lines[i + 1].strip().startswith("--hash=sha256:")
            found[canonicalize_name(m.group(1))] = (m.group(3), hashed)
    return found


def main() -> int:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    wanted = [*project["dependencies"], *project["optional-dependencies"]["dev"]]
    locked = pins((ROOT / "requirements.txt").read_text())
    problems = []
    for spec in wanted:
        req = Requirement(spec)
        if req.marker is not None and not req.marker.evaluate():
            continue
        pin = locked.get(canonicalize_name(req.name))
        if pin is None:
            problems.append(f"{req.name} is not in requirements.txt")
        elif not req.specifier.contains(pin[0], prereleases=True):
            problems.append(f"{req.name}=={pin[0]} in requirements.txt is outside {spec!r}")
        elif not pin[1]:
            problems.append(f"{req.name}=={pin[0]} in requirements.txt has no hashes")
    for problem in problems:
        print(f"error: {problem}; run 'make lock'", file=sys.stderr)
    if not problems:
        print(f"requirements.txt matches pyproject.toml ({len(locked)} packages pinned)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
