"""What a commit syncs, read from ``strace``: objects, then the outbox intent, then the ref.

Skipped when ``strace`` is not installed or not permitted (it is a diagnostic tool, not a
dependency of the project).
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

from gitstore.domain.identity import RepositoryId
from gitstore.gitservice.storage import RepositoryStore
from tests.gitservice.proc import ROOT
from tests.servers import missing

_OPEN = re.compile(r'openat\(AT_FDCWD, "([^"]+)", [^)]*\) = (\d+)')
_FSYNC = re.compile(r"f(?:data)?sync\((\d+)\)\s+= 0")


def synced_paths(trace: str) -> list[str]:
    """Paths in the order they were fsynced between the BEGIN and END markers."""
    fds: dict[str, str] = {}
    synced: list[str] = []
    inside = False
    for line in trace.splitlines():
        if "==BEGIN==" in line or "==END==" in line:
            inside = "==BEGIN==" in line
        elif match := _OPEN.search(line):
            fds[match.group(2)] = match.group(1)
        elif inside and (match := _FSYNC.search(line)) and match.group(1) in fds:
            synced.append(fds[match.group(1)])
    return synced


def test_commit_syncs_objects_then_intent_then_ref(tmp_path: Path) -> None:
    if shutil.which("strace") is None:
        missing("strace is not installed")
    data = tmp_path / "data"
    RepositoryStore(data / "repos").create(RepositoryId("acme", "r"), "main", "")
    trace_file = tmp_path / "trace.txt"
    done = subprocess.run(
        ["strace", "-f", "-qq", "-e", "trace=openat,fsync,fdatasync,write", "-o", str(trace_file),
         sys.executable, "-m", "tests.gitservice.traced_commit", str(data), "acme/r"],
        cwd=ROOT, capture_output=True, text=True,
    )  # fmt: skip
    if done.returncode != 0 and "ptrace" in done.stderr:
        missing(f"strace not permitted: {done.stderr.strip()}")
    assert done.returncode == 0, done.stderr
    sha = done.stdout.strip()
    synced = synced_paths(trace_file.read_text())
    repo = str(data / "repos" / "acme" / "r.git")
    objects = [i for i, p in enumerate(synced) if "/objects/tmp_object" in p]
    assert len(objects) >= 5  # blob, three trees (deep/dir, deep, root), commit
    assert f"{repo}/objects/{sha[:2]}" in synced  # the commit's fan-out directory
    intent = [i for i, p in enumerate(synced) if p.endswith(".outbox.sqlite3-wal")]
    ref = synced.index(f"{repo}/refs/heads/main.lock")
    ref_dirs = [i for i, p in enumerate(synced) if p in (f"{repo}/refs/heads", f"{repo}/refs")]
    assert intent and ref_dirs
    assert max(objects) < intent[0] < ref < max(ref_dirs)
