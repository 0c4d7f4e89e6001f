"""The event handler: commit statuses, redelivered and late events, other branches, tags."""

from __future__ import annotations

import dataclasses

import pytest

from gitstore.backends.kv import KvStore
from gitstore.domain.errors import InvalidArgument
from gitstore.domain.events import ZERO_SHA, RefUpdateEvent
from gitstore.domain.projection import draft_scope
from gitstore.git.client import GitClient
from gitstore.git.v1 import git_service_pb2 as pb
from gitstore.worker.handler import EventHandler, decode_event
from gitstore.worker.projector import Projector
from gitstore.worker.statuses import StatusRecorder, get_commit_status
from tests.worker.harness import (
    assert_kv_matches_head,
    commit,
    encode,
    event_of,
    files_of,
    kv_documents,
    product,
)


@pytest.fixture
def handler(git: GitClient, kv: KvStore, projector: Projector) -> EventHandler:
    return EventHandler(projector, StatusRecorder(git, kv))


async def test_valid_commit_gets_a_valid_status(
    git: GitClient, kv: KvStore, repo: str, handler: EventHandler
) -> None:
    done = await commit(git, repo, files_of(product("a"), product("b")))
    assert (await get_commit_status(kv, repo, done.commit_sha)).state == "PENDING"

    assert await handler.handle(event_of(repo, done)) == "projected"

    status = await get_commit_status(kv, repo, done.commit_sha)
    assert status.state == "VALID" and status.errors == [] and status.checked_at
    assert status.commit == done.commit_sha


async def test_invalid_commit_status_lists_each_error_with_path_field_rule_and_line(
    git: GitClient, kv: KvStore, repo: str, handler: EventHandler
) -> None:
    first = await commit(git, repo, files_of(product("a", price="5.00")))
    await handler.handle(event_of(repo, first))
    bad = encode(product("a", price="5.00", colour="blue")).replace(b"5.00", b"-5")
    second = await commit(
        git,
        repo,
        {"products/a.yaml": bad, "products/c.yaml": b"kind: [unclosed\n", "notes.txt": b"x"},
    )

    assert await handler.handle(event_of(repo, second)) == "projected"

    status = await get_commit_status(kv, repo, second.commit_sha)
    assert status.state == "INVALID"
    found = {(e["path"], e["field"], e["rule"]) for e in status.errors}
    assert ("products/a.yaml", "spec.price.amount", "pattern") in found
    assert ("products/a.yaml", "spec.colour", "additionalProperties") in found
    assert any(p == "products/c.yaml" and r == "yaml-syntax" for p, _, r in found)
    for error in status.errors:
        assert set(error) == {"path", "field", "rule", "message", "line", "column"}
        assert error["message"]
    amount = next(e for e in status.errors if e["field"] == "spec.price.amount")
    assert isinstance(amount["line"], int) and amount["line"] > 1
    # The last valid projection stays served; the first commit's status is unaffected.
    doc = await kv.get(draft_scope(repo), "product", "a")
    assert doc is not None and doc.version == first.commit_sha
    assert (await get_commit_status(kv, repo, first.commit_sha)).state == "VALID"


async def test_status_checks_files_the_projection_skipped_over(
    git: GitClient, kv: KvStore, repo: str, handler: EventHandler
) -> None:
    """A late event whose commit was never the projection target still gets its status."""
    bad = await commit(git, repo, {"products/a.yaml": b"apiVersion: nope\n"})
    good = await commit(git, repo, files_of(product("a")))
    assert await handler.handle(event_of(repo, good)) == "projected"

    assert await handler.handle(event_of(repo, bad)) == "unchanged"

    status = await get_commit_status(kv, repo, bad.commit_sha)
    assert status.state == "INVALID" and status.errors[0]["path"] == "products/a.yaml"
    await assert_kv_matches_head(kv, git, repo)


async def test_redelivered_and_late_events_never_regress_the_kv(
    git: GitClient, kv: KvStore, repo: str, handler: EventHandler
) -> None:
    first = await commit(git, repo, files_of(product("a", title="One"), product("b")))
    second = await commit(
        git, repo, files_of(product("a", title="Two")), deletes=["products/b.yaml"]
    )
    e1, e2 = event_of(repo, first), event_of(repo, second)

    assert await handler.handle(e2) == "projected"  # out of order: the newer first
    snapshot = await kv_documents(kv, draft_scope(repo))
    head = await kv.head(draft_scope(repo))
    assert await handler.handle(e1) == "unchanged"  # late
    assert await handler.handle(e2) == "unchanged"  # redelivered
    assert await handler.handle(dataclasses.replace(e2, event_id="republished")) == "unchanged"

    assert await kv.head(draft_scope(repo)) == head
    assert await kv_documents(kv, draft_scope(repo)) == snapshot
    doc = await kv.get(draft_scope(repo), "product", "a")
    assert doc is not None and doc.value()["spec"]["title"] == "Two"
    assert (await get_commit_status(kv, repo, first.commit_sha)).state == "VALID"
    await assert_kv_matches_head(kv, git, repo)


async def test_other_branches_get_statuses_but_are_not_projected(
    git: GitClient, kv: KvStore, repo: str, handler: EventHandler
) -> None:
    main = await commit(git, repo, files_of(product("a")))
    dev = await commit(git, repo, {"products/b.yaml": b"{}"}, branch="dev", start_revision="main")

    await handler.handle(event_of(repo, main))
    assert await handler.handle(event_of(repo, dev)) == "unchanged"

    assert (await get_commit_status(kv, repo, dev.commit_sha)).state == "INVALID"
    assert await kv.get(draft_scope(repo), "product", "b") is None


async def test_tag_events_and_missing_repositories(
    git: GitClient, kv: KvStore, repo: str, handler: EventHandler
) -> None:
    main = await commit(git, repo, files_of(product("a")))
    tag = RefUpdateEvent("t1", repo, "refs/tags/v1", ZERO_SHA, main.commit_sha)
    assert await handler.handle(tag) == "projected"  # a signal like any other
    assert (await get_commit_status(kv, repo, main.commit_sha)).state == "PENDING"
    gone = RefUpdateEvent("t2", "acme/gone", "refs/heads/main", ZERO_SHA, main.commit_sha)
    assert await handler.handle(gone) == "ignored"
    empty = await git.create_repository("acme/empty")
    assert empty.repository_id == "acme/empty"
    unborn = RefUpdateEvent("t3", "acme/empty", "refs/heads/main", ZERO_SHA, main.commit_sha)
    assert await handler.handle(unborn) == "ignored"


async def test_status_of_a_commit_changing_paths_without_event_paths(
    git: GitClient, kv: KvStore, repo: str, handler: EventHandler
) -> None:
    first = await commit(git, repo, files_of(product("a")))
    second = await commit(git, repo, {"products/b.yaml": b"spec: 1\n"})
    bare = dataclasses.replace(event_of(repo, second), changed_paths=())
    assert bare.old == first.commit_sha

    await handler.handle(bare)

    status = await get_commit_status(kv, repo, second.commit_sha)
    assert status.state == "INVALID" and {e["path"] for e in status.errors} == {"products/b.yaml"}


def test_decode_event_names_what_is_wrong() -> None:
    with pytest.raises(InvalidArgument, match="not a ref-update event"):
        decode_event(b"{not json")
    with pytest.raises(InvalidArgument, match="not a ref-update event"):
        decode_event(b'{"event_id": "x"}')
    with pytest.raises(InvalidArgument, match="repository"):
        decode_event(
            RefUpdateEvent("x", "Not/Valid", "refs/heads/main", ZERO_SHA, "a" * 40).to_json()
        )
    event = RefUpdateEvent("x", "acme/shop", "refs/heads/main", ZERO_SHA, "a" * 40)
    assert decode_event(event.to_json()) == event


def test_event_types_are_what_the_git_service_sends() -> None:
    assert pb.ChangeType.Name(pb.CHANGE_TYPE_DELETED) == "CHANGE_TYPE_DELETED"


async def test_every_commit_a_ref_update_brought_gets_its_own_status(
    git: GitClient, kv: KvStore, repo: str, handler: EventHandler
) -> None:
    """A push of several commits is one ref update; each commit is judged on its own diff."""
    base = await commit(git, repo, files_of(product("a")))
    await handler.handle(event_of(repo, base))
    one = await commit(git, repo, files_of(product("b")))
    bad = await commit(git, repo, {"products/c.yaml": b"apiVersion: nope\n"})
    fixed = await commit(git, repo, files_of(product("c")))
    pushed = dataclasses.replace(event_of(repo, fixed), old=base.commit_sha, changed_paths=())

    assert await handler.handle(pushed) == "projected"

    async def state(done: pb.CommitFilesResponse) -> str:
        return (await get_commit_status(kv, repo, done.commit_sha)).state

    assert [await state(c) for c in (one, bad, fixed)] == ["VALID", "INVALID", "VALID"]
    errors = (await get_commit_status(kv, repo, bad.commit_sha)).errors
    assert {e["path"] for e in errors} == {"products/c.yaml"}
    before = await get_commit_status(kv, repo, one.commit_sha)
    assert await handler.handle(pushed) == "unchanged"  # redelivered: nothing is re-judged
    assert await get_commit_status(kv, repo, one.commit_sha) == before


async def test_statuses_of_a_very_long_push_stop_at_the_cap(
    git: GitClient,
    kv: KvStore,
    repo: str,
    handler: EventHandler,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("gitstore.worker.statuses.MAX_BROUGHT", 1)
    base = await commit(git, repo, files_of(product("a")))
    await handler.handle(event_of(repo, base))
    older = await commit(git, repo, files_of(product("b")))
    newer = await commit(git, repo, files_of(product("c")))
    tip = await commit(git, repo, files_of(product("d")))

    await handler.handle(dataclasses.replace(event_of(repo, tip), old=base.commit_sha))

    states = [(await get_commit_status(kv, repo, c.commit_sha)).state for c in (older, newer, tip)]
    assert states == ["PENDING", "VALID", "VALID"]


async def test_a_new_branch_gets_statuses_for_what_no_other_branch_has(
    git: GitClient, kv: KvStore, repo: str, handler: EventHandler
) -> None:
    base = await commit(git, repo, files_of(product("a")))
    await handler.handle(event_of(repo, base))
    first = await commit(
        git, repo, {"products/b.yaml": b"kind: [\n"}, branch="feature", start_revision="main"
    )
    tip = await commit(git, repo, files_of(product("b")), branch="feature")
    created = dataclasses.replace(event_of(repo, tip), old=ZERO_SHA, changed_paths=())
    assert created.ref == "refs/heads/feature"

    await handler.handle(created)

    assert (await get_commit_status(kv, repo, first.commit_sha)).state == "INVALID"
    assert (await get_commit_status(kv, repo, tip.commit_sha)).state == "VALID"
    assert (await get_commit_status(kv, repo, base.commit_sha)).state == "VALID"


async def test_an_update_from_a_head_that_no_longer_exists_still_gets_a_status(
    git: GitClient, kv: KvStore, repo: str, handler: EventHandler
) -> None:
    """A late event whose old head was force-pushed away and pruned: judged on its own diff."""
    base = await commit(git, repo, files_of(product("a")))
    await handler.handle(event_of(repo, base))
    tip = await commit(git, repo, {"products/b.yaml": b"apiVersion: nope\n"})
    gone = "f" * 40
    late = dataclasses.replace(event_of(repo, tip), old=gone, changed_paths=())

    await handler.handle(late)

    status = await get_commit_status(kv, repo, tip.commit_sha)
    assert status.state == "INVALID"
    assert {e["path"] for e in status.errors} == {"products/b.yaml"}
