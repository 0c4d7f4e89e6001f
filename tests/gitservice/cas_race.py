"""One contender in a compare-and-swap race between OS processes.

``python -m tests.gitservice.cas_race <repo.git> <start-file> <rounds>``: waits for
``start-file`` to appear (so contenders start together), then ``rounds`` times reads the head
of ``main``, writes a commit on top of it and tries ``cas.swap(expected=head)``; prints one
line per swap won (the commit id). No gitstore lock is taken: only the CAS protects the ref.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import pygit2

from gitstore.gitservice import cas


def main(repo_path: str, start_file: str, rounds: str) -> None:
    pygit2.option(pygit2.enums.Option.ENABLE_FSYNC_GITDIR, False)
    repo = pygit2.Repository(repo_path)
    sig = pygit2.Signature("racer", "r@example.com")
    while not Path(start_file).exists():
        time.sleep(0.001)
    for i in range(int(rounds)):
        head = cas.current(repo, "refs/heads/main")
        assert head is not None
        parent = repo.get(head)
        assert isinstance(parent, pygit2.Commit)
        oid = repo.create_commit(None, sig, sig, f"{os.getpid()} {i}", parent.tree_id, [parent.id])
        try:
            cas.swap(repo, "refs/heads/main", head, str(oid), fsync=False)
        except cas.RefMoved:
            continue
        print(oid, flush=True)


if __name__ == "__main__":
    main(*sys.argv[1:])
