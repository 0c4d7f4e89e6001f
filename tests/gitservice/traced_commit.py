"""One CommitFiles between two marker writes, for reading its syscalls with ``strace``.

``python -m tests.gitservice.traced_commit <data_dir> <repo>``: prints the commit id.
Writes ``==BEGIN==`` and ``==END==`` to stderr around the commit so a trace can be cut.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from gitstore.domain.identity import RepositoryId
from gitstore.git.v1 import git_service_pb2 as pb
from gitstore.gitservice import commits
from gitstore.gitservice.outbox import Outbox
from gitstore.gitservice.server import OUTBOX_FILE
from gitstore.gitservice.storage import RepositoryStore
from tests.gitservice.helpers import AUTHOR, make_settings


def main(data_dir: str, repo: str) -> None:
    settings = make_settings(Path(data_dir))
    store = RepositoryStore(settings.repos_dir(), fsync=True)
    outbox = Outbox(store.root / OUTBOX_FILE, fsync=True)
    request = pb.CommitFilesRequest(
        repository_id=repo,
        author=AUTHOR,
        message="traced",
        actions=[
            pb.CommitAction(action=pb.ACTION_TYPE_UPSERT, path="deep/dir/file.yaml", content=b"x")
        ],
    )
    os.write(2, b"==BEGIN==\n")
    done = commits.commit_files(store, outbox, settings.git, RepositoryId.parse(repo), request)
    os.write(2, b"==END==\n")
    print(done.commit_sha)
    outbox.close()


if __name__ == "__main__":
    main(*sys.argv[1:])
