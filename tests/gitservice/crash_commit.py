"""Run one CommitFiles in this process and die (``os._exit``) at a chosen point.

``python -m tests.gitservice.crash_commit <data_dir> <repo> <path> after-cas|before-cas``

* ``after-cas``: the ref has moved (durably) but the outbox row is still an intent - the
  crash the outbox recovery exists for;
* ``before-cas``: the intent row is written, the ref never moves.
Prints nothing; the exit code is 0 when it died where asked.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from gitstore.domain.identity import RepositoryId
from gitstore.git.v1 import git_service_pb2 as pb
from gitstore.gitservice import cas, commits
from gitstore.gitservice.outbox import Outbox
from gitstore.gitservice.server import OUTBOX_FILE
from gitstore.gitservice.storage import RepositoryStore
from tests.gitservice.helpers import AUTHOR, make_settings


def main(data_dir: str, repo: str, path: str, mode: str) -> None:
    settings = make_settings(Path(data_dir))
    store = RepositoryStore(settings.repos_dir())
    outbox = Outbox(store.root / OUTBOX_FILE)
    if mode == "after-cas":
        outbox.committed = lambda row_id: os._exit(0)  # type: ignore[method-assign]
    else:
        cas.swap = lambda *a, **k: os._exit(0)  # type: ignore[assignment]
    request = pb.CommitFilesRequest(
        repository_id=repo,
        branch="main",
        author=AUTHOR,
        message=f"crash {mode}",
        trailers=pb.Trailers(actor="crasher", request_id=f"req-{mode}"),
        actions=[pb.CommitAction(action=pb.ACTION_TYPE_UPSERT, path=path, content=mode.encode())],
    )
    commits.commit_files(store, outbox, settings.git, RepositoryId.parse(repo), request)
    sys.exit(3)  # should not get here


if __name__ == "__main__":
    main(*sys.argv[1:])
