"""A merge cut short by a crash of the real thing is finished, not stuck
(docs/change-requests.md, "Merging"): ``gitstore serve`` is frozen (SIGSTOP) the moment the
target branch moves on disk and, if the change request is still OPEN then (its merge intent
recorded, MERGED not yet written), killed with SIGKILL — exactly the window a crash can hit.
After the restart, the first read of the request finishes the merge: MERGED at the commit the
target holds, and its proposal branch is deleted. Attempts whose freeze came too late (the
request already MERGED) are let go and tried again with a new request (in practice the
first freeze lands in the window: the audit entry's write comes between)."""

from __future__ import annotations

import contextlib
import os
import signal
import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from gitstore.api.graphql.relay import decode_global_id
from tests.e2e.flows import (
    ok,
    owner_repository,
    product_spec,
    upsert,
)
from tests.e2e.served import Served

PASSWORD = "correct-horse-battery"
ATTEMPTS = 12
APPLY = """mutation($i: ApplyManifestsInput!) { applyManifests(input: $i) {
  commit userErrors { field message code } } }"""
CREATE = """mutation($i: CreateChangeRequestInput!) { createChangeRequest(input: $i) {
  changeRequest { id headSha } userErrors { field message code } } }"""
MERGE = """mutation($i: MergeChangeRequestInput!) { mergeChangeRequest(input: $i) {
  mergeSha userErrors { field message code } } }"""
READ = """query($id: ID!) { changeRequest(id: $id) { state mergeSha mergedBy } }"""


@pytest.fixture
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    server = Served.start(tmp_path_factory.mktemp("merge-kill") / "data")
    try:
        yield server
    finally:
        server.stop()


def ref_of(git_dir: Path, ref: str) -> str:
    with contextlib.suppress(FileNotFoundError):
        return (git_dir / ref).read_text().strip()
    for line in (git_dir / "packed-refs").read_text().splitlines():
        if line.endswith(" " + ref):
            return line.split()[0]
    return ""


def state_on_disk(data_dir: Path, cr_uuid: str) -> str:
    conn = sqlite3.connect(f"file:{data_dir / 'metadata.sqlite3'}?mode=ro", uri=True)
    try:
        row = conn.execute("SELECT state FROM change_requests WHERE id = ?", (cr_uuid,)).fetchone()
    finally:
        conn.close()
    return str(row[0])


def test_kill_9_between_the_target_moving_and_merged_then_the_next_read_finishes(
    served: Served,
) -> None:
    token, repo = owner_repository(served, PASSWORD, "shop", "catalog")
    ok(upsert(served, token, repo, "base", product_spec(), waitForIndex=True, indexTimeout=60.0))
    git_dir = served.data_dir / "repos" / f"{repo}.git"
    proc = served.procs["serve"]
    for attempt in range(ATTEMPTS):
        branch = f"proposals/kill/product-p{attempt}-0"
        manifest = {
            "apiVersion": "gitstore.dev/v1",
            "kind": "Product",
            "metadata": {"name": f"p{attempt}"},
            "spec": product_spec(title=f"P {attempt}"),
        }
        applied = served.data(
            APPLY,
            {"i": {"repository": repo, "branch": branch, "manifests": [{"manifest": manifest}]}},
            token,
        )["applyManifests"]
        assert applied["userErrors"] == [], applied
        opened = served.data(
            CREATE, {"i": {"repository": repo, "sourceBranch": branch, "title": branch}}, token
        )["createChangeRequest"]
        assert opened["userErrors"] == [], opened
        cr, head = opened["changeRequest"]["id"], opened["changeRequest"]["headSha"]
        before = ref_of(git_dir, "refs/heads/main")
        merge = {"id": cr, "expectedHeadSha": head, "strategy": "FAST_FORWARD"}

        def send(url: str = served.url, body: dict[str, object] = merge) -> None:
            with contextlib.suppress(httpx.HTTPError):  # the server may die under it
                httpx.post(
                    f"{url}/graphql",
                    json={"query": MERGE, "variables": {"i": body}},
                    headers={"authorization": f"Bearer {token}"},
                    timeout=60,
                )

        sender = threading.Thread(target=send, daemon=True)
        sender.start()
        deadline = time.monotonic() + 30
        while ref_of(git_dir, "refs/heads/main") == before:
            assert time.monotonic() < deadline, "the merge never moved the target"
        os.kill(proc.pid, signal.SIGSTOP)
        if state_on_disk(served.data_dir, decode_global_id(cr).id) == "OPEN":
            os.kill(proc.pid, signal.SIGKILL)  # in the window: the target moved, not MERGED
            break
        os.kill(proc.pid, signal.SIGCONT)  # too late: already MERGED; try again
        sender.join(60)
    else:
        raise AssertionError(f"no attempt of {ATTEMPTS} froze the server inside the window")
    assert served.restart("serve", hard=True) == -signal.SIGKILL
    sender.join(60)
    assert ref_of(git_dir, "refs/heads/main") == head  # the move survived the crash

    read = served.data(READ, {"id": cr}, token)["changeRequest"]  # the next read finishes it
    assert (read["state"], read["mergeSha"], read["mergedBy"]) == ("MERGED", head, "owner")
    assert state_on_disk(served.data_dir, decode_global_id(cr).id) == "MERGED"
    assert served.git(repo, "for-each-ref", "refs/heads/proposals/kill").strip() == ""
