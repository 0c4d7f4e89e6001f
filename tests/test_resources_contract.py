"""One contract suite for every resource store: memory (the reference), SQLite (a file in
tmp_path) and PostgreSQL (the real server, a fresh schema per test; CI=true fails rather
than skips when it is missing)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import psycopg
import pytest

from gitstore.backends.resources import ResourceStore, open_resource_store
from gitstore.backends.resources.memory import MemoryResourceStore
from gitstore.backends.resources.migrations import latest_version
from gitstore.backends.resources.postgres import PostgresResourceStore
from gitstore.backends.resources.sqlite import SqliteResourceStore
from gitstore.domain.errors import InvalidArgument, NotFound, Unavailable
from gitstore.domain.resources.model import Conflict, SpecDelete, SpecUpsert
from gitstore.domain.resources.rules import MetadataPatch
from gitstore.domain.resources.selector import parse_selector
from gitstore.domain.resources.watch import Expired
from tests.servers import POSTGRES_URL, require_server

REPO = "acme/catalog"
OTHER = "acme/other"


def product(name: str, price: int = 10, **labels: str) -> SpecUpsert:
    return SpecUpsert("Product", name, "gitstore.dev/v1", {"title": name, "price": price}, labels)


Factory = Callable[..., ResourceStore]


async def _factory(name: str, tmp_path: Path) -> AsyncIterator[Factory]:
    opened: list[ResourceStore] = []
    schema = f"r_{uuid.uuid4().hex[:16]}"
    url = ""
    if name == "postgres":
        url = require_server(POSTGRES_URL, "PostgreSQL")

    def make(retain: int = 10_000) -> ResourceStore:
        store: ResourceStore
        if name == "memory":
            store = MemoryResourceStore(retain=retain)
        elif name == "sqlite":
            store = SqliteResourceStore(tmp_path / "resources.sqlite3", retain=retain)
        else:
            store = PostgresResourceStore(url, schema=schema, max_size=4, retain=retain)
        opened.append(store)
        return store

    try:
        yield make
    finally:
        for store in opened:
            await store.close()
        if name == "postgres":
            async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
                await conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE".encode())


@pytest.fixture(params=["memory", "sqlite", "postgres"])
async def factory(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Factory]:
    async for make in _factory(request.param, tmp_path):
        yield make


@pytest.fixture(params=["sqlite", "postgres"])
async def sql_factory(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Factory]:
    async for make in _factory(request.param, tmp_path):
        yield make


@pytest.fixture
async def store(factory: Factory) -> ResourceStore:
    s = factory()
    await s.migrate()
    return s


# ---------------------------------------------------------------------------- lifecycle
async def test_migrate_is_idempotent_and_concurrent_safe(sql_factory: Factory) -> None:
    a, b = sql_factory(), sql_factory()
    versions = await asyncio.gather(a.migrate(), b.migrate(), a.migrate())
    assert set(versions) == {latest_version()}
    await a.apply_commit(REPO, "c1", [product("a")], [])
    assert (await b.get(REPO, "Product", "a")) is not None


async def test_data_survives_a_new_store_on_the_same_database(sql_factory: Factory) -> None:
    first = sql_factory()
    await first.migrate()
    await first.apply_commit(REPO, "c1", [product("a")], [])
    before = await first.get(REPO, "Product", "a")
    await first.close()
    second = sql_factory()
    await second.migrate()
    assert await second.get(REPO, "Product", "a") == before
    assert await second.current_version(REPO) == 1
    assert await second.applied_commit(REPO) == "c1"


async def test_closed_store_refuses_calls(store: ResourceStore) -> None:
    await store.close()
    with pytest.raises(Unavailable, match="closed"):
        await store.current_version(REPO)


# ---------------------------------------------------------------------------- spec
async def test_apply_adds_with_metadata_and_versions(store: ResourceStore) -> None:
    assert await store.current_version(REPO) == 0
    assert await store.applied_commit(REPO) is None
    out = await store.apply_commit(REPO, "c1", [product("a", tier="gold"), product("b")], [])
    assert (out.version, out.changes) == (2, 2)
    a = await store.get(REPO, "Product", "a")
    assert a is not None
    obj = a.to_object()
    assert obj["apiVersion"] == "gitstore.dev/v1" and obj["kind"] == "Product"
    meta = obj["metadata"]
    assert meta["name"] == "a" and meta["labels"] == {"tier": "gold"}
    assert meta["resourceVersion"] == "1" and meta["generation"] == 1
    assert meta["deletionTimestamp"] is None and meta["finalizers"] == []
    assert meta["creationTimestamp"].endswith("Z") and len(meta["uid"]) == 36
    assert obj["spec"] == {"title": "a", "price": 10} and obj["status"] == {}
    assert await store.applied_commit(REPO) == "c1"
    assert await store.current_version(OTHER) == 0  # versions are per repository


async def test_kind_is_case_insensitive_and_keeps_its_spelling(store: ResourceStore) -> None:
    await store.apply_commit(REPO, "c1", [product("a")], [])
    got = await store.get(REPO, "product", "a")
    assert got is not None and got.kind == "Product"
    objects, version = await store.list_resources(REPO, "PRODUCT")
    assert [o["metadata"]["name"] for o in objects] == ["a"] and version == 1


async def test_same_commit_twice_changes_nothing(store: ResourceStore) -> None:
    await store.apply_commit(REPO, "c1", [product("a")], [])
    again = await store.apply_commit(REPO, "c1", [product("a", price=99)], [SpecDelete("X", "y")])
    assert (again.version, again.changes) == (1, 0)
    got = await store.get(REPO, "Product", "a")
    assert got is not None and got.spec["price"] == 10


async def test_unchanged_spec_takes_no_version(store: ResourceStore) -> None:
    await store.apply_commit(REPO, "c1", [product("a")], [])
    out = await store.apply_commit(REPO, "c2", [product("a")], [])
    assert (out.version, out.changes) == (1, 0)
    assert await store.applied_commit(REPO) == "c2"


async def test_generation_grows_only_with_spec(store: ResourceStore) -> None:
    await store.apply_commit(REPO, "c1", [product("a")], [])
    await store.apply_commit(REPO, "c2", [product("a", tier="x")], [])  # labels only
    a = await store.get(REPO, "Product", "a")
    assert a is not None and (a.generation, a.resource_version) == (1, 2)
    await store.apply_commit(REPO, "c3", [product("a", price=11, tier="x")], [])
    a = await store.get(REPO, "Product", "a")
    assert a is not None and (a.generation, a.resource_version) == (2, 3)


async def test_status_is_untouched_by_spec_writes(store: ResourceStore) -> None:
    await store.apply_commit(REPO, "c1", [product("a")], [])
    await store.update_status(REPO, "Product", "a", 1, {"phase": "Ready"})
    await store.apply_commit(REPO, "c2", [product("a", price=12)], [])
    a = await store.get(REPO, "Product", "a")
    assert a is not None and a.status == {"phase": "Ready"} and a.spec["price"] == 12


async def test_delete_without_finalizers_removes(store: ResourceStore) -> None:
    await store.apply_commit(REPO, "c1", [product("a"), product("b")], [])
    out = await store.apply_commit(REPO, "c2", [], [SpecDelete("Product", "a")])
    assert out.version == 3
    assert await store.get(REPO, "Product", "a") is None
    objects, version = await store.list_resources(REPO)
    assert [o["metadata"]["name"] for o in objects] == ["b"] and version == 3
    # deleting what does not exist is nothing
    out = await store.apply_commit(REPO, "c3", [], [SpecDelete("Product", "zz")])
    assert out.changes == 0


async def test_delete_with_finalizers_waits_for_the_last_one(store: ResourceStore) -> None:
    await store.apply_commit(REPO, "c1", [product("a")], [])
    await store.update_metadata(
        REPO, "Product", "a", 1, MetadataPatch(finalizers=["x/cleanup", "y/cleanup"])
    )
    await store.apply_commit(REPO, "c2", [], [SpecDelete("Product", "a")])
    a = await store.get(REPO, "Product", "a")
    assert a is not None and a.deletion_timestamp is not None and a.resource_version == 3
    a, changed = await store.update_metadata(
        REPO, "Product", "a", 3, MetadataPatch(finalizers=["y/cleanup"])
    )
    assert changed and await store.get(REPO, "Product", "a") is not None
    a, changed = await store.update_metadata(
        REPO, "Product", "a", a.resource_version, MetadataPatch(finalizers=[])
    )
    assert changed and await store.get(REPO, "Product", "a") is None
    changes = await store.changes_since(REPO, 0)
    assert [c.type for c in changes] == ["ADDED", "MODIFIED", "MODIFIED", "MODIFIED", "DELETED"]
    assert changes[-1].object["metadata"]["finalizers"] == []


async def test_upsert_of_a_terminating_resource_brings_it_back(store: ResourceStore) -> None:
    await store.apply_commit(REPO, "c1", [product("a")], [])
    await store.update_metadata(REPO, "Product", "a", 1, MetadataPatch(finalizers=["f"]))
    await store.apply_commit(REPO, "c2", [], [SpecDelete("Product", "a")])
    await store.apply_commit(REPO, "c3", [product("a")], [])
    a = await store.get(REPO, "Product", "a")
    assert a is not None and a.deletion_timestamp is None and a.finalizers == ("f",)


async def test_bad_batches_are_refused_whole(store: ResourceStore) -> None:
    with pytest.raises(InvalidArgument, match="twice"):
        await store.apply_commit(REPO, "c1", [product("a")], [SpecDelete("product", "a")])
    with pytest.raises(InvalidArgument, match="repository"):
        await store.apply_commit("nope", "c1", [product("a")], [])
    assert await store.current_version(REPO) == 0


# ---------------------------------------------------------------------------- status
async def test_status_compare_and_set(store: ResourceStore) -> None:
    await store.apply_commit(REPO, "c1", [product("a")], [])
    r, changed = await store.update_status(REPO, "Product", "a", 1, {"observedGeneration": 1})
    assert changed and r.resource_version == 2 and r.status == {"observedGeneration": 1}
    with pytest.raises(Conflict, match="expected resourceVersion 1 but it is 2") as info:
        await store.update_status(REPO, "Product", "a", 1, {"observedGeneration": 9})
    assert info.value.code == "CONFLICT" and info.value.current == 2
    a = await store.get(REPO, "Product", "a")
    assert a is not None and a.status == {"observedGeneration": 1}
    assert await store.current_version(REPO) == 2
    with pytest.raises(NotFound):
        await store.update_status(REPO, "Product", "zz", 1, {})
    same, changed = await store.update_status(REPO, "Product", "a", 2, {"observedGeneration": 1})
    assert not changed and same.resource_version == 2


async def test_concurrent_status_writes_one_wins(store: ResourceStore) -> None:
    await store.apply_commit(REPO, "c1", [product("a")], [])
    results = await asyncio.gather(
        *(store.update_status(REPO, "Product", "a", 1, {"n": i}) for i in range(8)),
        return_exceptions=True,
    )
    wins = [r for r in results if not isinstance(r, BaseException)]
    assert len(wins) == 1
    assert all(isinstance(r, Conflict) for r in results if isinstance(r, BaseException))
    assert await store.current_version(REPO) == 2


async def test_condition_transition_time_moves_only_on_status_change(store: ResourceStore) -> None:
    await store.apply_commit(REPO, "c1", [product("a")], [])
    ready = {"type": "Ready", "status": "False", "reason": "MissingCategory"}
    r, _ = await store.update_status(REPO, "Product", "a", 1, {"conditions": [ready]})
    first = r.status["conditions"][0]["lastTransitionTime"]
    moved = {**ready, "message": "still missing", "lastTransitionTime": "2000-01-01T00:00:00Z"}
    r, _ = await store.update_status(REPO, "Product", "a", 2, {"conditions": [moved]})
    assert r.status["conditions"][0]["lastTransitionTime"] == first
    flipped = {"type": "Ready", "status": "True", "reason": "AllChecksPassed"}
    r, _ = await store.update_status(REPO, "Product", "a", 3, {"conditions": [flipped]})
    assert r.status["conditions"][0]["lastTransitionTime"] >= first
    with pytest.raises(InvalidArgument, match=r"conditions\[0\].status"):
        await store.update_status(
            REPO, "Product", "a", 4, {"conditions": [{"type": "Ready", "status": "yes"}]}
        )


# ---------------------------------------------------------------------------- metadata
async def test_metadata_labels_and_annotations_cas(store: ResourceStore) -> None:
    await store.apply_commit(REPO, "c1", [product("a")], [])
    r, _ = await store.update_metadata(
        REPO, "Product", "a", 1, MetadataPatch(labels={"team": "x"}, annotations={"n": "1"})
    )
    assert (r.labels, r.annotations, r.generation) == ({"team": "x"}, {"n": "1"}, 1)
    with pytest.raises(Conflict):
        await store.update_metadata(REPO, "Product", "a", 1, MetadataPatch(labels={}))


# ---------------------------------------------------------------------------- list
async def test_list_with_label_selector(store: ResourceStore) -> None:
    await store.apply_commit(
        REPO,
        "c1",
        [
            product("a", tier="gold", region="eu"),
            product("b", tier="gold"),
            product("c", tier="silver", region="us"),
            SpecUpsert("Category", "shoes", "gitstore.dev/v1", {"title": "Shoes"}),
        ],
        [],
    )

    async def names(selector: str, kind: str | None = "Product") -> list[str]:
        found, version = await store.select(REPO, kind, parse_selector(selector))
        assert version == 4
        return [r.name for r in found]

    assert await names("") == ["a", "b", "c"]
    assert await names("", None) == ["shoes", "a", "b", "c"]  # ordered by kind, then name
    assert await names("tier=gold") == ["a", "b"]
    assert await names("tier=gold,region") == ["a"]
    assert await names("tier!=gold") == ["c"]
    assert await names("!region") == ["b"]
    assert await names("tier==gold,region!=eu") == ["b"]


# ---------------------------------------------------------------------------- watch feed
async def test_changes_since_in_order_with_whole_objects(store: ResourceStore) -> None:
    await store.apply_commit(REPO, "c1", [product("a"), product("b")], [])
    await store.update_status(REPO, "Product", "a", 1, {"phase": "x"})
    await store.apply_commit(REPO, "c2", [], [SpecDelete("Product", "b")])
    changes = await store.changes_since(REPO, 0)
    assert [(c.resource_version, c.type, c.name) for c in changes] == [
        (1, "ADDED", "a"),
        (2, "ADDED", "b"),
        (3, "MODIFIED", "a"),
        (4, "DELETED", "b"),
    ]
    assert changes[2].object["status"] == {"phase": "x"}
    assert changes[2].object["metadata"]["resourceVersion"] == "3"
    assert changes[3].object["metadata"]["name"] == "b" and changes[3].kind == "Product"
    assert [c.resource_version for c in await store.changes_since(REPO, 2, limit=1)] == [3]
    assert await store.changes_since(REPO, 4) == []
    assert await store.changes_since(OTHER, 0) == []


async def test_changes_record_the_labels_they_replaced(store: ResourceStore) -> None:
    await store.apply_commit(REPO, "c1", [product("a", tier="gold"), product("b")], [])
    await store.apply_commit(REPO, "c2", [product("a", tier="silver"), product("b", 11)], [])
    a = await store.get(REPO, "Product", "a")
    assert a is not None
    await store.update_metadata(REPO, "Product", "a", a.resource_version, MetadataPatch(labels={}))
    b = await store.get(REPO, "Product", "b")
    assert b is not None
    await store.update_status(REPO, "Product", "b", b.resource_version, {"phase": "x"})
    await store.apply_commit(REPO, "c3", [], [SpecDelete("Product", "a")])
    changes = await store.changes_since(REPO, 0)
    assert [(c.type, c.name, c.previous_labels) for c in changes] == [
        ("ADDED", "a", None),
        ("ADDED", "b", None),
        ("MODIFIED", "a", {"tier": "gold"}),  # a Git change of the labels
        ("MODIFIED", "b", None),  # labels unchanged
        ("MODIFIED", "a", {"tier": "silver"}),  # a metadata write of the labels
        ("MODIFIED", "b", None),  # a status write
        ("DELETED", "a", None),  # the last state is the one before
    ]


async def test_window_is_bounded_and_older_versions_expire(factory: Factory) -> None:
    store = factory(retain=3)
    await store.migrate()
    for i in range(5):
        await store.apply_commit(REPO, f"c{i}", [product("a", price=i)], [])
    assert await store.current_version(REPO) == 5
    assert [c.resource_version for c in await store.changes_since(REPO, 2)] == [3, 4, 5]
    with pytest.raises(Expired) as info:
        await store.changes_since(REPO, 1)
    assert (info.value.resource_version, info.value.oldest) == (1, 2)


async def test_list_then_watch_misses_nothing(store: ResourceStore) -> None:
    await store.apply_commit(REPO, "c1", [product("a")], [])
    objects, version = await store.list_resources(REPO)
    await store.apply_commit(REPO, "c2", [product("b")], [])
    changes = await store.changes_since(REPO, version)
    assert [c.name for c in changes] == ["b"] and len(objects) == 1


def test_factory_urls(tmp_path: Path) -> None:
    assert isinstance(open_resource_store("memory://"), MemoryResourceStore)
    s = open_resource_store(f"sqlite:///{tmp_path}/r.sqlite3")
    assert isinstance(s, SqliteResourceStore) and s.path == tmp_path / "r.sqlite3"
    p = open_resource_store("postgresql://u@h:5432/db?schema=abc&pool_max=3", retain=7)
    assert isinstance(p, PostgresResourceStore) and p.schema == "abc" and p.retain == 7
    with pytest.raises(InvalidArgument, match="unknown resource store scheme 'ftp'"):
        open_resource_store("ftp://x")
    with pytest.raises(InvalidArgument, match="retain"):
        open_resource_store("memory://", retain=0)


async def test_two_stores_writing_at_once_never_repeat_a_version(sql_factory: Factory) -> None:
    a, b = sql_factory(), sql_factory()
    await a.migrate()
    await b.migrate()
    await a.apply_commit(REPO, "c0", [product(f"p{i}") for i in range(4)], [])

    async def spec(store: ResourceStore, n: int) -> None:
        await store.apply_commit(REPO, f"c{n}", [product(f"p{n % 4}", price=100 + n)], [])

    async def status(store: ResourceStore, n: int) -> None:
        name = f"p{n % 4}"
        for _ in range(50):
            current = await store.get(REPO, "Product", name)
            assert current is not None
            try:
                await store.update_status(REPO, "Product", name, current.resource_version, {"n": n})
                return
            except Conflict:
                continue

    await asyncio.gather(
        *(spec(a if n % 2 else b, n) for n in range(1, 9)),
        *(status(b if n % 2 else a, n) for n in range(8)),
    )
    changes = await a.changes_since(REPO, 0, limit=1000)
    versions = [c.resource_version for c in changes]
    assert versions == list(range(1, len(versions) + 1))
    assert versions[-1] == await b.current_version(REPO)
    objects, _ = await b.list_resources(REPO)
    latest = {c.name: c.resource_version for c in changes}
    assert {o["metadata"]["name"]: int(o["metadata"]["resourceVersion"]) for o in objects} == latest


async def test_apply_commit_compare_and_sets_the_base(store: ResourceStore) -> None:
    from gitstore.domain.errors import Aborted

    await store.apply_commit(REPO, "c1", [product("a")], [], base="")
    with pytest.raises(Aborted, match="computed from 'c0' but 'c1' was applied") as info:
        await store.apply_commit(REPO, "c2", [product("a", price=1)], [], base="c0")
    assert info.value.field == "base"
    assert await store.current_version(REPO) == 1
    out = await store.apply_commit(REPO, "c1", [product("a", price=2)], [], base="c0")
    assert out.changes == 0  # the applied commit again: a redelivery, whatever the base
    out = await store.apply_commit(REPO, "c2", [product("a", price=3)], [], base="c1")
    assert (out.changes, await store.applied_commit(REPO)) == (1, "c2")


async def test_a_big_commit_keeps_every_text_exact(store: ResourceStore) -> None:
    """Thousands of resources in one commit, specs of multi-byte text, quotes, backslashes
    and line separators; then half changed (labels too), a quarter deleted: every resource
    and every logged change reads back exactly (SQLite writes a commit in one statement per
    table, texts as slices of one BLOB: ``_sqlite_bulk``)."""
    texts = ["é", "✓✓", "😀 emoji", 'q"uote', "back\\slash", "line\u2028sep", "x" * 200]

    def spec(i: int, rev: int) -> SpecUpsert:
        title = texts[i % len(texts)] * (1 + i % 3) + f" {rev}"
        labels = {"tier": "gold" if (i + rev) % 2 else "silver"}
        return SpecUpsert("Product", f"p-{i:04}", "gitstore.dev/v1", {"title": title}, labels)

    count = 3_000
    await store.apply_commit(REPO, "c1", [spec(i, 0) for i in range(count)], [])
    await store.apply_commit(
        REPO,
        "c2",
        [spec(i, 1) for i in range(0, count, 2)],
        [SpecDelete("Product", f"p-{i:04}") for i in range(1, count, 4)],
    )
    for i in (0, 1, 2, 3, 6, 2998):
        got = await store.get(REPO, "Product", f"p-{i:04}")
        if i % 4 == 1:
            assert got is None, i
            continue
        rev = 1 if i % 2 == 0 else 0
        assert got is not None and got.spec == spec(i, rev).spec, i
        assert got.labels == spec(i, rev).labels, i
    listed, version = await store.list_resources(REPO, "Product")
    assert len(listed) == count - count // 4 and version == count + count // 2 + count // 4
    changes = await store.changes_since(REPO, 0, limit=10_000)
    assert len(changes) == count + count // 2 + count // 4
    modified = [c for c in changes if c.type == "MODIFIED"]
    assert modified[0].name == "p-0000" and modified[0].object["spec"] == spec(0, 1).spec
    assert modified[0].previous_labels == {"tier": "silver"}
    deleted = [c for c in changes if c.type == "DELETED"]
    assert [c.name for c in deleted[:2]] == ["p-0001", "p-0005"]
    assert deleted[0].object["spec"] == spec(1, 0).spec
