"""One contract suite for every metadata store: memory, SQLite (a file in tmp_path) and
PostgreSQL (the real server; each test in a fresh schema ``t_<hex>``, dropped afterwards).

Every test runs against every backend, so the SQL stores are held to the behaviour of the
reference implementation. Tests that need a second store on the same database (concurrent
migrations, persistence) use ``sql_backend`` and run on the SQL backends only.
"""

from __future__ import annotations

import asyncio
import sqlite3
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest

from gitstore.backends.metadata.base import (
    MetadataStore,
    NamespacePatch,
    PublishMode,
    RepositoryPatch,
    Role,
    Tier,
    Visibility,
)
from gitstore.backends.metadata.memory import MemoryMetadataStore
from gitstore.backends.metadata.migrations import latest_version
from gitstore.backends.metadata.postgres import PostgresMetadataStore
from gitstore.backends.metadata.sqlite import SqliteMetadataStore
from gitstore.domain.errors import (
    AlreadyExists,
    FailedPrecondition,
    InvalidArgument,
    NotFound,
    Unavailable,
)
from tests.servers import POSTGRES_URL, require_server


@dataclass
class Backend:
    name: str
    factory: Callable[[], MetadataStore]
    opened: list[MetadataStore] = field(default_factory=list)

    def open(self) -> MetadataStore:
        """A new store on the same database (memory: a new, empty store)."""
        store = self.factory()
        self.opened.append(store)
        return store

    async def close_all(self) -> None:
        for store in self.opened:
            await store.close()


async def applied_versions(backend: Backend) -> list[int]:
    """The rows of ``schema_migrations``, read with the backend's own driver."""
    store = backend.opened[0]
    if isinstance(store, SqliteMetadataStore):
        with sqlite3.connect(store.path) as conn:
            rows = conn.execute("SELECT version FROM schema_migrations ORDER BY version")
            return [r[0] for r in rows]
    assert isinstance(store, PostgresMetadataStore)
    async with await psycopg.AsyncConnection.connect(POSTGRES_URL) as conn:
        query = f"SELECT version FROM {store.schema}.schema_migrations ORDER BY version"
        cur = await conn.execute(query.encode())
        return [r[0] for r in await cur.fetchall()]


@asynccontextmanager
async def open_backend(name: str, tmp_path: Path) -> AsyncIterator[Backend]:
    if name == "memory":
        b = Backend("memory", MemoryMetadataStore)
    elif name == "sqlite":
        path = tmp_path / "data" / "metadata.sqlite3"
        b = Backend("sqlite", lambda: SqliteMetadataStore(path))
    else:
        url = require_server(POSTGRES_URL, "PostgreSQL")
        schema = f"t_{uuid.uuid4().hex[:16]}"
        b = Backend("postgres", lambda: PostgresMetadataStore(url, schema=schema, max_size=4))
    try:
        yield b
    finally:
        await b.close_all()
        if name == "postgres":
            async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
                await conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE".encode())


@pytest.fixture(params=["memory", "sqlite", "postgres"])
async def backend(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Backend]:
    async with open_backend(request.param, tmp_path) as b:
        yield b


@pytest.fixture(params=["sqlite", "postgres"])
async def sql_backend(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Backend]:
    """For tests that need a second store on the same database."""
    async with open_backend(request.param, tmp_path) as b:
        yield b


@pytest.fixture
async def store(backend: Backend) -> MetadataStore:
    s = backend.open()
    await s.migrate()
    return s


async def make_ns(store: MetadataStore, identifier: str, tier: Tier = Tier.USER, **kw):
    return await store.create_namespace(
        identifier,
        tier,
        display_name=kw.pop("display_name", identifier.title()),
        parent_enterprise_id=kw.pop("parent", None),
        created_by=kw.pop("created_by", "alice"),
    )


async def make_repo(store: MetadataStore, namespace_id: str, name: str):
    return await store.create_repository(
        namespace_id,
        name,
        description=f"{name} catalogue",
        publish_mode=PublishMode.ON_COMMIT,
        default_branch="main",
        visibility=Visibility.PRIVATE,
        created_by="alice",
    )


# ---------------------------------------------------------------------------- migrations
async def test_migrate_twice_is_a_noop_reporting_the_same_version(backend: Backend) -> None:
    store = backend.open()
    first = await store.migrate()
    assert first == latest_version() >= 1
    assert await store.migrate() == first
    if backend.name != "memory":
        assert await applied_versions(backend) == list(range(1, first + 1))


async def test_concurrent_migrate_from_two_stores_is_safe(sql_backend: Backend) -> None:
    backend = sql_backend
    a, b = backend.open(), backend.open()
    versions = await asyncio.gather(a.migrate(), b.migrate(), a.migrate(), b.migrate())
    assert set(versions) == {latest_version()}
    assert await applied_versions(backend) == list(range(1, latest_version() + 1))
    await make_ns(a, "shared")
    assert (await b.get_namespace_by_identifier("shared")) is not None


async def test_a_second_store_on_the_same_database_sees_the_data(sql_backend: Backend) -> None:
    backend = sql_backend
    first = backend.open()
    await first.migrate()
    user = await first.create_user("alice", "hash", is_admin=True)
    ns = await make_ns(first, "acme")
    repo = await make_repo(first, ns.id, "catalog")
    await first.close()
    second = backend.open()
    assert await second.migrate() == latest_version()
    assert await second.get_user_by_username("alice") == user
    assert await second.get_namespace(ns.id) == ns
    assert await second.get_repository_by_name("acme", "catalog") == repo


async def test_closed_store_refuses_calls(sql_backend: Backend) -> None:
    store = sql_backend.open()
    await store.migrate()
    await store.close()
    await store.close()  # idempotent
    with pytest.raises(Unavailable, match="closed"):
        await store.get_user("x")


# ---------------------------------------------------------------------------- users
async def test_users(store: MetadataStore) -> None:
    alice = await store.create_user("alice", "argon2-hash", is_admin=True)
    bob = await store.create_user("bob", "other-hash", is_admin=False)
    assert alice.username == "alice" and alice.is_admin and not alice.disabled
    assert alice.created_at.tzinfo is not None and alice.created_at.utcoffset() == timedelta(0)
    assert await store.get_user(alice.id) == alice
    assert await store.get_user_by_username("bob") == bob
    assert await store.get_user("nope") is None
    assert await store.get_user_by_username("carol") is None
    with pytest.raises(AlreadyExists, match="alice"):
        await store.create_user("alice", "x", is_admin=False)
    with pytest.raises(InvalidArgument, match="username"):
        await store.create_user("", "x", is_admin=False)

    await store.update_user_password(bob.id, "new-hash")
    updated = await store.get_user(bob.id)
    assert updated is not None and updated.password_hash == "new-hash"
    with pytest.raises(NotFound):
        await store.update_user_password("missing", "x")

    page = await store.list_users(first=1)
    assert [u.username for u in page.items] == ["alice"]
    assert page.total_count == 2 and page.has_next_page
    page = await store.list_users(first=5, after=page.end_cursor)
    assert [u.username for u in page.items] == ["bob"]
    assert not page.has_next_page and page.total_count == 2


async def test_disabling_and_password_resets_end_sessions(store: MetadataStore) -> None:
    alice = await store.create_user("alice", "hash-1", is_admin=False)
    bob = await store.create_user("bob", "hash-b", is_admin=False)
    assert alice.session_epoch == 0 and not alice.disabled

    disabled = await store.set_user_disabled(alice.id, True)
    assert disabled.disabled and disabled.session_epoch == 1
    assert await store.get_user(alice.id) == disabled
    assert await store.get_user_by_username("alice") == disabled
    again = await store.set_user_disabled(alice.id, True)  # already disabled: no new epoch
    assert again.disabled and again.session_epoch == 1
    enabled = await store.set_user_disabled(alice.id, False)
    assert not enabled.disabled and enabled.session_epoch == 1  # enabling keeps the epoch
    assert (await store.list_users(first=5)).items[0] == enabled
    with pytest.raises(NotFound):
        await store.set_user_disabled("missing", True)

    await store.update_user_password(alice.id, "hash-2")  # a rehash keeps sessions
    kept = await store.get_user(alice.id)
    assert kept is not None and kept.password_hash == "hash-2" and kept.session_epoch == 1
    await store.update_user_password(alice.id, "hash-3", end_sessions=True)
    reset = await store.get_user(alice.id)
    assert reset is not None and reset.password_hash == "hash-3" and reset.session_epoch == 2
    with pytest.raises(NotFound):
        await store.update_user_password("missing", "x", end_sessions=True)
    assert await store.get_user(bob.id) == bob  # nobody else changed


async def test_concurrent_disables_bump_the_epoch_once(store: MetadataStore) -> None:
    alice = await store.create_user("alice", "h", is_admin=False)
    results = await asyncio.gather(*(store.set_user_disabled(alice.id, True) for _ in range(5)))
    assert all(r.disabled for r in results)
    final = await store.get_user(alice.id)
    assert final is not None and final.session_epoch == 1


# ---------------------------------------------------------------------------- tokens
async def test_tokens(store: MetadataStore) -> None:
    alice = await store.create_user("alice", "h", is_admin=False)
    later = datetime.now(UTC) + timedelta(days=30)
    t1 = await store.create_token(alice.id, "ci", "hash-1", frozenset({"read"}), later)
    t2 = await store.create_token(alice.id, "agent", "hash-2", frozenset({"read", "write"}), None)
    assert t1.scopes == frozenset({"read"}) and t1.expires_at == later
    assert t1.revoked_at is None and t1.last_used_at is None
    assert await store.get_token_by_hash("hash-2") == t2
    assert await store.get_token_by_hash("unknown") is None
    assert await store.list_tokens(alice.id) == [t1, t2]
    assert await store.list_tokens("someone-else") == []

    with pytest.raises(AlreadyExists):
        await store.create_token(alice.id, "dup", "hash-1", frozenset({"read"}), None)
    with pytest.raises(NotFound):
        await store.create_token("no-such-user", "x", "hash-3", frozenset({"read"}), None)
    with pytest.raises(InvalidArgument, match="admin"):
        await store.create_token(alice.id, "x", "hash-4", frozenset({"admin"}), None)

    used = datetime(2030, 1, 2, 3, 4, 5, 678901, tzinfo=UTC)
    await store.touch_token(t1.id, at=used)
    await store.touch_token("missing", at=used)  # a vanished token is not an error
    touched = await store.get_token_by_hash("hash-1")
    assert touched is not None and touched.last_used_at == used

    assert await store.revoke_token(t1.id, at=used) is True
    assert await store.revoke_token(t1.id, at=used) is False
    assert await store.revoke_token("missing", at=used) is False
    revoked = await store.get_token_by_hash("hash-1")
    assert revoked is not None and revoked.revoked_at == used


# ---------------------------------------------------------------------------- namespaces
async def test_namespace_create_and_get(store: MetadataStore) -> None:
    ns = await make_ns(store, "acme-corp", display_name="Acme Corp")
    assert (ns.identifier, ns.tier, ns.display_name) == ("acme-corp", Tier.USER, "Acme Corp")
    assert ns.created_by == ns.updated_by == "alice" and ns.created_at == ns.updated_at
    assert await store.get_namespace(ns.id) == ns
    assert await store.get_namespace_by_identifier("acme-corp") == ns
    assert await store.get_namespace("missing") is None
    assert await store.get_namespace_by_identifier("missing") is None
    uuid.UUID(ns.id)


@pytest.mark.parametrize("bad", ["Acme", "-acme", "acme-", "a" * 64, "", "caf\u00e9", "a_b"])
async def test_namespace_identifier_must_be_a_dns_label(store: MetadataStore, bad: str) -> None:
    with pytest.raises(InvalidArgument, match="identifier"):
        await make_ns(store, bad)
    assert (await store.list_namespaces(first=10)).total_count == 0


async def test_namespace_identifiers_are_unique_across_tiers(store: MetadataStore) -> None:
    await make_ns(store, "acme", Tier.USER)
    for tier in Tier:
        with pytest.raises(AlreadyExists, match="acme"):
            await make_ns(store, "acme", tier)
    assert (await store.list_namespaces(first=10)).total_count == 1


async def test_concurrent_creates_of_one_identifier_have_one_winner(store: MetadataStore) -> None:
    results = await asyncio.gather(
        *(make_ns(store, "race", Tier.ORGANISATION) for _ in range(10)), return_exceptions=True
    )
    winners = [r for r in results if not isinstance(r, BaseException)]
    assert len(winners) == 1
    assert all(isinstance(r, AlreadyExists) for r in results if r not in winners)


async def test_parent_enterprise_must_exist_and_be_an_enterprise(store: MetadataStore) -> None:
    ent = await make_ns(store, "bigco", Tier.ENTERPRISE)
    user_ns = await make_ns(store, "someone", Tier.USER)
    org = await make_ns(store, "bigco-eu", Tier.ORGANISATION, parent=ent.id)
    assert org.parent_enterprise_id == ent.id
    with pytest.raises(InvalidArgument, match="does not exist"):
        await make_ns(store, "orphan", Tier.ORGANISATION, parent=str(uuid.uuid4()))
    with pytest.raises(InvalidArgument, match="not an ENTERPRISE"):
        await make_ns(store, "wrong", Tier.ORGANISATION, parent=user_ns.id)
    with pytest.raises(InvalidArgument, match="only an ORGANISATION"):
        await make_ns(store, "user-with-parent", Tier.USER, parent=ent.id)
    assert (await store.list_namespaces(first=10)).total_count == 3


async def test_update_namespace(store: MetadataStore) -> None:
    ns = await make_ns(store, "acme", display_name="Old")
    updated = await store.update_namespace(ns.id, NamespacePatch("New"), updated_by="bob")
    assert updated.display_name == "New" and updated.updated_by == "bob"
    assert updated.updated_at > ns.updated_at and updated.created_at == ns.created_at
    assert updated.created_by == "alice" and updated.identifier == "acme"
    same = await store.update_namespace(ns.id, NamespacePatch(), updated_by="carol")
    assert same.display_name == "New" and same.updated_by == "carol"
    assert await store.get_namespace(ns.id) == same
    with pytest.raises(NotFound):
        await store.update_namespace("missing", NamespacePatch("x"), updated_by="bob")


async def test_list_namespaces_pages_in_creation_order(store: MetadataStore) -> None:
    created = [await make_ns(store, f"ns-{i}") for i in range(7)]
    seen, after, pages = [], None, []
    while True:
        page = await store.list_namespaces(first=3, after=after)
        pages.append(page)
        seen += page.items
        if not page.has_next_page:
            break
        after = page.end_cursor
    assert [len(p.items) for p in pages] == [3, 3, 1]
    assert [p.has_next_page for p in pages] == [True, True, False]
    assert {p.total_count for p in pages} == {7}
    assert seen == created
    assert pages[-1].end_cursor is not None
    empty = await store.list_namespaces(first=3, after=pages[-1].end_cursor)
    assert (empty.items, empty.has_next_page, empty.end_cursor) == ([], False, None)
    assert empty.total_count == 7
    zero = await store.list_namespaces(first=0)
    assert zero.items == [] and zero.has_next_page and zero.total_count == 7


@pytest.mark.parametrize("cursor", ["garbage!", "YTF8MQ", "", "Yz18eHx5"])
async def test_a_bad_cursor_is_an_invalid_argument(store: MetadataStore, cursor: str) -> None:
    with pytest.raises(InvalidArgument, match="after"):
        await store.list_namespaces(first=3, after=cursor)
    with pytest.raises(InvalidArgument, match="first"):
        await store.list_namespaces(first=-1)


async def test_delete_guard_keeps_a_namespace_with_repositories(store: MetadataStore) -> None:
    ns = await make_ns(store, "acme")
    repo = await make_repo(store, ns.id, "catalog")
    with pytest.raises(FailedPrecondition, match="repositor"):
        await store.delete_namespace(ns.id)
    assert await store.get_namespace(ns.id) == ns
    assert await store.get_repository(repo.id) == repo
    await store.delete_repository(repo.id)
    await store.delete_namespace(ns.id)
    assert await store.get_namespace(ns.id) is None
    with pytest.raises(NotFound):
        await store.delete_namespace(ns.id)


async def test_delete_guard_keeps_an_enterprise_with_organisations(store: MetadataStore) -> None:
    ent = await make_ns(store, "bigco", Tier.ENTERPRISE)
    org = await make_ns(store, "bigco-eu", Tier.ORGANISATION, parent=ent.id)
    with pytest.raises(FailedPrecondition, match="organisation"):
        await store.delete_namespace(ent.id)
    assert await store.get_namespace(ent.id) == ent
    await store.delete_namespace(org.id)
    await store.delete_namespace(ent.id)
    assert (await store.list_namespaces(first=5)).total_count == 0


async def test_delete_racing_create_repository_never_orphans(store: MetadataStore) -> None:
    for round_ in range(5):
        ns = await make_ns(store, f"race-{round_}")
        results = await asyncio.gather(
            make_repo(store, ns.id, "catalog"),
            store.delete_namespace(ns.id),
            return_exceptions=True,
        )
        repo, deleted = results
        if isinstance(deleted, BaseException):  # the repository won
            assert isinstance(deleted, FailedPrecondition), deleted
            assert not isinstance(repo, BaseException)
            assert await store.get_repository(repo.id) == repo
        else:  # the delete won
            assert isinstance(repo, NotFound), repo
            assert await store.get_namespace(ns.id) is None
            assert (await store.list_repositories(ns.id, first=5)).total_count == 0


# ---------------------------------------------------------------------------- memberships
async def test_memberships(store: MetadataStore) -> None:
    await store.create_user("bob", "h", is_admin=False)
    await store.create_user("carol", "h", is_admin=False)
    org = await make_ns(store, "acme", Tier.ORGANISATION)
    bob = await store.set_membership(org.id, "bob", Role.WRITER)
    carol = await store.set_membership(org.id, "carol", Role.OWNER)
    assert (bob.namespace_id, bob.username, bob.role) == (org.id, "bob", Role.WRITER)
    promoted = await store.set_membership(org.id, "bob", Role.MAINTAINER)
    assert promoted.role == Role.MAINTAINER and promoted.created_at == bob.created_at
    assert await store.get_membership(org.id, "bob") == promoted
    assert await store.get_membership(org.id, "dave") is None
    assert await store.list_memberships(org.id) == [promoted, carol]

    with pytest.raises(NotFound, match="namespace"):
        await store.set_membership("missing", "bob", Role.READER)
    with pytest.raises(NotFound, match="dave"):
        await store.set_membership(org.id, "dave", Role.READER)
    with pytest.raises(InvalidArgument, match="role"):
        await store.set_membership(org.id, "bob", "boss")  # type: ignore[arg-type]

    assert await store.remove_membership(org.id, "carol") is True
    assert await store.remove_membership(org.id, "carol") is False
    assert await store.list_memberships(org.id) == [promoted]

    await store.delete_namespace(org.id)  # memberships go with the namespace
    assert await store.get_membership(org.id, "bob") is None
    again = await make_ns(store, "other", Tier.ORGANISATION)
    assert await store.list_memberships(again.id) == []


# ---------------------------------------------------------------------------- repositories
async def test_repositories(store: MetadataStore) -> None:
    acme = await make_ns(store, "acme")
    other = await make_ns(store, "other")
    repo = await make_repo(store, acme.id, "catalog")
    assert (repo.namespace, repo.name, repo.repository_id) == ("acme", "catalog", "acme/catalog")
    assert repo.publish_mode is PublishMode.ON_COMMIT and repo.visibility is Visibility.PRIVATE
    assert repo.release_patterns == ("release/*", "v*") and repo.default_branch == "main"
    assert await store.get_repository(repo.id) == repo
    assert await store.get_repository_by_name("acme", "catalog") == repo
    assert await store.get_repository_by_name("other", "catalog") is None
    assert await store.get_repository("missing") is None

    with pytest.raises(AlreadyExists, match="acme/catalog"):
        await make_repo(store, acme.id, "catalog")
    twin = await make_repo(store, other.id, "catalog")
    assert twin.repository_id == "other/catalog" and twin.id != repo.id
    with pytest.raises(NotFound, match="namespace"):
        await make_repo(store, str(uuid.uuid4()), "catalog")
    with pytest.raises(InvalidArgument, match="name"):
        await make_repo(store, acme.id, "Bad_Name")
    with pytest.raises(InvalidArgument, match="branch"):
        await store.create_repository(
            acme.id,
            "x",
            description="",
            publish_mode=PublishMode.ON_COMMIT,
            default_branch="bad..branch",
            visibility=Visibility.PUBLIC,
            created_by="alice",
        )


async def test_update_and_delete_repository(store: MetadataStore) -> None:
    ns = await make_ns(store, "acme")
    repo = await make_repo(store, ns.id, "catalog")
    patch = RepositoryPatch(
        publish_mode=PublishMode.ON_RELEASE_TAG,
        visibility=Visibility.PUBLIC,
        release_patterns=("v*",),
    )
    updated = await store.update_repository(repo.id, patch, updated_by="bob")
    assert updated.publish_mode is PublishMode.ON_RELEASE_TAG
    assert updated.visibility is Visibility.PUBLIC and updated.release_patterns == ("v*",)
    assert updated.description == repo.description and updated.default_branch == "main"
    assert updated.updated_by == "bob" and updated.updated_at > repo.updated_at
    assert await store.get_repository(repo.id) == updated
    again = await store.update_repository(
        repo.id, RepositoryPatch(description="new", default_branch="trunk"), updated_by="carol"
    )
    assert (again.description, again.default_branch) == ("new", "trunk")
    assert again.publish_mode is PublishMode.ON_RELEASE_TAG
    with pytest.raises(InvalidArgument, match="release"):
        await store.update_repository(repo.id, RepositoryPatch(release_patterns=()), updated_by="x")
    with pytest.raises(NotFound):
        await store.update_repository("missing", RepositoryPatch(description="x"), updated_by="x")

    await store.delete_repository(repo.id)
    assert await store.get_repository(repo.id) is None
    with pytest.raises(NotFound):
        await store.delete_repository(repo.id)


async def test_list_repositories_pages_per_namespace(store: MetadataStore) -> None:
    acme = await make_ns(store, "acme")
    other = await make_ns(store, "other")
    mine = [await make_repo(store, acme.id, f"repo-{i}") for i in range(5)]
    await make_repo(store, other.id, "elsewhere")
    first = await store.list_repositories(acme.id, first=2)
    second = await store.list_repositories(acme.id, first=2, after=first.end_cursor)
    third = await store.list_repositories(acme.id, first=2, after=second.end_cursor)
    assert first.items + second.items + third.items == mine
    assert (first.has_next_page, second.has_next_page, third.has_next_page) == (True, True, False)
    assert {first.total_count, second.total_count, third.total_count} == {5}
    assert (await store.list_repositories(other.id, first=10)).total_count == 1
    assert (await store.list_repositories("missing", first=10)).items == []


# ---------------------------------------------------------------------------- idempotency
async def test_twenty_concurrent_claims_have_exactly_one_winner(store: MetadataStore) -> None:
    results = await asyncio.gather(
        *(store.claim_idempotency_key("createNamespace:alice", "k1", "req") for _ in range(20))
    )
    assert sum(r is None for r in results) == 1
    losers = [r for r in results if r is not None]
    assert len(losers) == 19
    assert all(r.request_hash == "req" and r.response is None for r in losers)
    assert all((r.scope, r.key) == ("createNamespace:alice", "k1") for r in losers)


async def test_complete_and_release_idempotency_keys(store: MetadataStore) -> None:
    assert await store.claim_idempotency_key("s", "k", "h1") is None
    assert await store.claim_idempotency_key("other-scope", "k", "h1") is None  # own scope
    response = {"namespace": {"id": "abc", "tags": ["a", 1, None]}, "ok": True}
    await store.complete_idempotency_key("s", "k", response)
    done = await store.claim_idempotency_key("s", "k", "h2")
    assert done is not None and done.response == response and done.request_hash == "h1"
    await store.release_idempotency_key("s", "k")  # a completed key is kept
    kept = await store.claim_idempotency_key("s", "k", "h3")
    assert kept is not None and kept.response == response

    await store.release_idempotency_key("other-scope", "k")  # failed work: forget the claim
    assert await store.claim_idempotency_key("other-scope", "k", "h4") is None
    await store.release_idempotency_key("never", "claimed")
    with pytest.raises(NotFound):
        await store.complete_idempotency_key("never", "claimed", {})
    with pytest.raises(InvalidArgument, match="response"):
        await store.complete_idempotency_key("s", "k", {"bad": object()})


async def test_a_claim_holds_a_lease_its_owner_extends(store: MetadataStore) -> None:
    assert await store.claim_idempotency_key("s", "k", "h", owner="a", lease_seconds=60) is None
    seen = await store.claim_idempotency_key("s", "k", "h", owner="b", lease_seconds=60)
    assert seen is not None and seen.owner == "a" and seen.response is None
    assert seen.claimed_at is not None and seen.lease_until is not None
    assert seen.lease_until - seen.claimed_at == timedelta(seconds=60)
    assert seen.claimed_at == seen.created_at and not seen.lease_expired
    # a live owner's claim cannot be taken over
    assert not await store.take_over_idempotency_key("s", "k", expired_owner="a", owner="b")
    assert await store.extend_idempotency_lease("s", "k", owner="a", lease_seconds=120)
    later = await store.claim_idempotency_key("s", "k", "h", owner="b")
    assert later is not None and later.lease_until is not None
    assert later.lease_until > seen.lease_until and later.owner == "a"
    assert not await store.extend_idempotency_lease("s", "k", owner="b")  # not b's claim
    assert not await store.extend_idempotency_lease("s", "missing", owner="a")
    with pytest.raises(InvalidArgument, match="lease_seconds"):
        await store.claim_idempotency_key("s", "k2", "h", owner="a", lease_seconds=-1)
    await store.complete_idempotency_key("s", "k", {"commit": "c1"})
    assert not await store.extend_idempotency_lease("s", "k", owner="a")  # completed
    done = await store.claim_idempotency_key("s", "k", "h", owner="b")
    assert done is not None and done.response == {"commit": "c1"} and not done.lease_expired


async def test_an_expired_claim_is_taken_over_by_exactly_one_caller(
    store: MetadataStore,
) -> None:
    """An owner that died (lease 0: its lease has run out) leaves an in-progress claim; of 20
    retries that see it expired, exactly one takes it over; then it is live again."""
    assert await store.claim_idempotency_key("s", "k", "h", owner="dead", lease_seconds=0) is None
    seen = await store.claim_idempotency_key("s", "k", "h", owner="x")
    assert seen is not None and seen.lease_expired and seen.owner == "dead"
    won = await asyncio.gather(
        *(
            store.take_over_idempotency_key(
                "s", "k", expired_owner="dead", owner=f"r{i}", lease_seconds=60
            )
            for i in range(20)
        )
    )
    assert sum(won) == 1
    winner = f"r{won.index(True)}"
    now = await store.claim_idempotency_key("s", "k", "h", owner="x")
    assert now is not None and now.owner == winner and not now.lease_expired
    assert now.claimed_at is not None and now.claimed_at > now.created_at
    # the dead owner, back after all: it cannot extend, release or take back the claim
    assert not await store.extend_idempotency_lease("s", "k", owner="dead")
    await store.release_idempotency_key("s", "k", owner="dead")
    assert not await store.take_over_idempotency_key("s", "k", expired_owner="dead", owner="dead")
    still = await store.claim_idempotency_key("s", "k", "h", owner="x")
    assert still is not None and still.owner == winner
    # the new owner releases its claim: the key is free again
    await store.release_idempotency_key("s", "k", owner=winner)
    assert await store.claim_idempotency_key("s", "k", "h", owner="y") is None


async def test_an_expired_owner_can_still_extend_until_taken_over(store: MetadataStore) -> None:
    assert await store.claim_idempotency_key("s", "k", "h", owner="slow", lease_seconds=0) is None
    assert await store.extend_idempotency_lease("s", "k", owner="slow", lease_seconds=60)
    seen = await store.claim_idempotency_key("s", "k", "h", owner="x")
    assert seen is not None and not seen.lease_expired
    assert not await store.take_over_idempotency_key("s", "k", expired_owner="slow", owner="x")


# ---------------------------------------------------------------------------- audit log
async def test_audit_log_newest_first_with_filters(store: MetadataStore) -> None:
    entries = [
        await store.append_audit("alice", "namespace.create", "acme", {"tier": "USER"}),
        await store.append_audit("alice", "repository.create", "acme/catalog"),
        await store.append_audit("bob", "repository.create", "acme/blog"),
        await store.append_audit("bob", "repository.delete", "acme/blog", {"n": [1, 2]}),
        await store.append_audit("carol", "namespace.create", "acme_%x"),
        await store.append_audit("carol", "repository.create", "other/catalog"),
    ]
    assert entries[0].details == {"tier": "USER"} and entries[1].details == {}
    everything = await store.list_audit(first=10)
    assert everything.items == entries[::-1] and everything.total_count == 6
    assert not everything.has_next_page

    by_action = await store.list_audit(first=10, action="repository.create")
    assert [e.target for e in by_action.items] == ["other/catalog", "acme/blog", "acme/catalog"]
    by_target = await store.list_audit(first=10, target_prefix="acme/")
    assert by_target.items == [entries[3], entries[2], entries[1]]
    assert (await store.list_audit(first=10, target_prefix="acme_%")).items == [entries[4]]
    both = await store.list_audit(first=10, target_prefix="acme", action="repository.create")
    assert both.items == [entries[2], entries[1]] and both.total_count == 2

    p1 = await store.list_audit(first=4)
    p2 = await store.list_audit(first=4, after=p1.end_cursor)
    assert p1.items + p2.items == entries[::-1]
    assert (p1.has_next_page, p2.has_next_page) == (True, False)
    assert p1.total_count == p2.total_count == 6
    f1 = await store.list_audit(first=1, action="namespace.create")
    f2 = await store.list_audit(first=1, action="namespace.create", after=f1.end_cursor)
    assert (f1.items, f2.items) == ([entries[4]], [entries[0]])
    assert (f1.has_next_page, f2.has_next_page) == (True, False)
    with pytest.raises(InvalidArgument, match="after"):
        await store.list_audit(
            first=1, after=(await store.list_namespaces(first=0)).end_cursor or "x"
        )
    with pytest.raises(InvalidArgument, match="details"):
        await store.append_audit("alice", "x", "y", {"when": datetime.now(UTC)})
