"""Controller leases (leader election) on every metadata store: memory, SQLite, PostgreSQL.

Part of the metadata contract suite (``test_metadata_contract``'s backends and fixtures).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from gitstore.backends.metadata.base import MetadataStore
from gitstore.domain.errors import InvalidArgument

from .test_metadata_contract import Backend, open_backend


@pytest.fixture(params=["memory", "sqlite", "postgres"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[MetadataStore]:
    async with open_backend(request.param, tmp_path) as b:
        s = b.open()
        await s.migrate()
        yield s


@pytest.fixture(params=["sqlite", "postgres"])
async def sql_backend(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Backend]:
    async with open_backend(request.param, tmp_path) as b:
        yield b


async def test_first_caller_takes_the_lease_and_others_see_the_holder(
    store: MetadataStore,
) -> None:
    assert await store.get_lease("acme/catalog", "readiness") is None
    a = await store.acquire_lease("acme/catalog", "readiness", "a", lease_seconds=30)
    assert (a.holder, a.transitions) == ("a", 0)
    assert a.expires_at > a.renewed_at
    b = await store.acquire_lease("acme/catalog", "readiness", "b", lease_seconds=30)
    assert b.holder == "a"  # held and not expired: nothing changes
    assert b == await store.get_lease("acme/catalog", "readiness")
    other = await store.acquire_lease("acme/catalog", "revalidation", "b", lease_seconds=30)
    assert other.holder == "b"  # another name, another lease


async def test_renewal_keeps_acquired_at_and_moves_expiry(store: MetadataStore) -> None:
    first = await store.acquire_lease("s", "n", "a", lease_seconds=30)
    again = await store.acquire_lease("s", "n", "a", lease_seconds=60)
    assert again.holder == "a"
    assert again.acquired_at == first.acquired_at
    assert again.renewed_at > first.renewed_at and again.expires_at > first.expires_at
    assert again.transitions == 0


async def test_an_expired_lease_is_taken_over_by_exactly_one(store: MetadataStore) -> None:
    await store.acquire_lease("s", "n", "old", lease_seconds=0.05)
    await asyncio.sleep(0.1)
    results = await asyncio.gather(
        *(store.acquire_lease("s", "n", f"r{i}", lease_seconds=30) for i in range(8))
    )
    holders = {r.holder for r in results}
    assert len(holders) == 1 and holders != {"old"}
    final = await store.get_lease("s", "n")
    assert final is not None and final.transitions == 1 and final.holder in holders


async def test_release_frees_the_lease_only_for_its_holder(store: MetadataStore) -> None:
    await store.acquire_lease("s", "n", "a", lease_seconds=30)
    assert not await store.release_lease("s", "n", "b")
    assert (await store.acquire_lease("s", "n", "b", lease_seconds=30)).holder == "a"
    assert await store.release_lease("s", "n", "a")
    assert await store.get_lease("s", "n") is None
    assert (await store.acquire_lease("s", "n", "b", lease_seconds=30)).holder == "b"


@pytest.mark.parametrize(
    ("scope", "name", "holder", "seconds", "field"),
    [
        ("", "n", "h", 1.0, "scope"),
        ("s", "", "h", 1.0, "name"),
        ("s", "n", "", 1.0, "holder"),
        ("s", "n", "h", 0.0, "leaseSeconds"),
        ("s", "n", "h", float("nan"), "leaseSeconds"),
        ("s", "n", "h", 7200.0, "leaseSeconds"),
    ],
)
async def test_bad_lease_requests_name_the_field(
    store: MetadataStore, scope: str, name: str, holder: str, seconds: float, field: str
) -> None:
    with pytest.raises(InvalidArgument) as err:
        await store.acquire_lease(scope, name, holder, lease_seconds=seconds)
    assert err.value.field == field
    assert await store.get_lease(scope or "s", name or "n") is None


async def test_two_stores_on_one_database_share_the_lease(sql_backend: Backend) -> None:
    one, two = sql_backend.open(), sql_backend.open()
    await one.migrate()
    assert (await one.acquire_lease("s", "n", "a", lease_seconds=30)).holder == "a"
    assert (await two.acquire_lease("s", "n", "b", lease_seconds=30)).holder == "a"
