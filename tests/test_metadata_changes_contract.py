"""The change request part of the metadata contract (``base_changes``) on every store: memory,
SQLite and PostgreSQL, with the fixtures of ``test_metadata_contract``."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from gitstore.backends.metadata.base import MetadataStore, RepositoryRecord
from gitstore.backends.metadata.base_changes import ChangeRequest, ChangeRequestStatus
from gitstore.domain.errors import AlreadyExists, FailedPrecondition, InvalidArgument, NotFound
from tests import test_metadata_contract as contract
from tests.test_metadata_contract import Backend, make_ns, make_repo

backend = contract.backend
sql_backend = contract.sql_backend
store = contract.store

H1, H2, B = "1" * 40, "2" * 40, "b" * 40


async def repo_of(store: MetadataStore, name: str = "catalog") -> RepositoryRecord:
    namespace = await store.get_namespace_by_identifier("acme") or await make_ns(store, "acme")
    return await make_repo(store, namespace.id, name)


async def open_cr(
    store: MetadataStore, repo: RepositoryRecord, source: str = "feature", **kw: Any
) -> ChangeRequest:
    args: dict[str, Any] = {
        "source_branch": source,
        "target_branch": "main",
        "title": f"Change {source}",
        "description": "why",
        "author_id": "u1",
        "author_username": "alice",
        "head_sha": H1,
        "base_sha": B,
    }
    args.update(kw)
    return await store.create_change_request(repo.id, **args)


async def test_create_get_and_numbers(store: MetadataStore) -> None:
    repo = await repo_of(store)
    first = await open_cr(store, repo)
    second = await open_cr(store, repo, "other")
    assert (first.number, second.number) == (1, 2)
    assert first.state is ChangeRequestStatus.OPEN
    got = await store.get_change_request(first.id)
    assert got == first
    assert await store.get_change_request("00000000-0000-0000-0000-000000000000") is None
    other_repo = await repo_of(store, "other")
    assert (await open_cr(store, other_repo)).number == 1


async def test_one_open_request_per_branch_pair(store: MetadataStore) -> None:
    repo = await repo_of(store)
    first = await open_cr(store, repo)
    with pytest.raises(AlreadyExists, match="open change request from 'feature'"):
        await open_cr(store, repo)
    assert await store.find_open_change_request(repo.id, "feature", "main") == first
    await store.update_change_request(first.id, state=ChangeRequestStatus.CLOSED)
    assert await store.find_open_change_request(repo.id, "feature", "main") is None
    again = await open_cr(store, repo)  # a closed one does not block a new one
    assert again.number == 2


async def test_bad_input(store: MetadataStore) -> None:
    repo = await repo_of(store)
    with pytest.raises(InvalidArgument, match="title"):
        await open_cr(store, repo, title="  ")
    with pytest.raises(InvalidArgument, match="both 'main'"):
        await open_cr(store, repo, "main")
    with pytest.raises(NotFound):
        await store.create_change_request(
            "00000000-0000-0000-0000-000000000000",
            source_branch="a",
            target_branch="b",
            title="t",
            description="",
            author_id="u",
            author_username="u",
            head_sha=H1,
            base_sha=B,
        )
    with pytest.raises(InvalidArgument, match="verdict"):
        cr = await open_cr(store, repo)
        await store.add_change_request_note(
            cr.id, author_id="u", author_username="u", verdict="LGTM", body="", head_sha=H1
        )


async def test_update_is_a_compare_and_swap(store: MetadataStore) -> None:
    repo = await repo_of(store)
    cr = await open_cr(store, repo)
    moved = await store.update_change_request(cr.id, head_sha=H2, title="New title")
    assert (moved.head_sha, moved.title) == (H2, "New title")
    with pytest.raises(FailedPrecondition, match="not " + H1):
        await store.update_change_request(cr.id, expected_head=H1, state=ChangeRequestStatus.MERGED)
    merged = await store.update_change_request(
        cr.id, expected_head=H2, state=ChangeRequestStatus.MERGED, merge_sha=B, merged_by="bob"
    )
    assert merged.state is ChangeRequestStatus.MERGED
    assert (merged.merge_sha, merged.merged_by) == (B, "bob")
    assert merged.closed_at is not None
    with pytest.raises(FailedPrecondition, match="MERGED, not OPEN"):
        await store.update_change_request(cr.id, title="again")
    with pytest.raises(NotFound):
        await store.update_change_request("00000000-0000-0000-0000-000000000000", title="x")


async def test_list_pages_newest_first_and_filters(store: MetadataStore) -> None:
    repo = await repo_of(store)
    made = [await open_cr(store, repo, f"b{i}") for i in range(5)]
    await store.update_change_request(made[1].id, state=ChangeRequestStatus.CLOSED)
    page = await store.list_change_requests(repo.id, first=2)
    assert [r.number for r in page.items] == [5, 4]
    assert (page.total_count, page.has_next_page) == (5, True)
    rest = await store.list_change_requests(repo.id, first=10, after=page.end_cursor)
    assert [r.number for r in rest.items] == [3, 2, 1]
    assert not rest.has_next_page
    opened = await store.list_change_requests(repo.id, state=ChangeRequestStatus.OPEN, first=10)
    assert [r.number for r in opened.items] == [5, 4, 3, 1]
    by_branch = await store.list_change_requests(repo.id, source_branch="b2", first=10)
    assert [r.number for r in by_branch.items] == [3]
    with pytest.raises(InvalidArgument, match="after"):
        await store.list_change_requests(repo.id, first=1, after="nonsense")


async def test_notes_and_approval_rule(store: MetadataStore) -> None:
    repo = await repo_of(store)
    cr = await open_cr(store, repo)
    review = await store.add_change_request_note(
        cr.id, author_id="u2", author_username="bob", verdict="APPROVE", body="", head_sha=H1
    )
    comment = await store.add_change_request_note(
        cr.id, author_id="u3", author_username="eve", verdict="", body="nice", head_sha=H1
    )
    assert await store.list_change_request_notes(cr.id) == [review, comment]
    with pytest.raises(InvalidArgument, match="body"):
        await store.add_change_request_note(
            cr.id, author_id="u3", author_username="eve", verdict="", body=" ", head_sha=H1
        )
    assert await store.get_required_approvals(repo.id) == 0
    await store.set_required_approvals(repo.id, 2)
    await store.set_required_approvals(repo.id, 3)
    assert await store.get_required_approvals(repo.id) == 3
    with pytest.raises(InvalidArgument, match="required approvals"):
        await store.set_required_approvals(repo.id, -1)


async def test_deleting_the_repository_deletes_its_requests(store: MetadataStore) -> None:
    repo = await repo_of(store)
    cr = await open_cr(store, repo)
    await store.delete_repository(repo.id)
    assert await store.get_change_request(cr.id) is None


async def test_concurrent_creators_get_distinct_numbers(sql_backend: Backend) -> None:
    one, two = sql_backend.open(), sql_backend.open()
    await one.migrate()
    repo = await repo_of(one)
    made = await asyncio.gather(*(open_cr(s, repo, f"b{i}") for i, s in enumerate([one, two] * 4)))
    assert sorted(r.number for r in made) == list(range(1, 9))
