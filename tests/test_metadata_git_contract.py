"""The git-ingress part of the metadata contract (``base_git``: SSH keys, releases,
publications, webhooks, deliveries, ``require_signed_commits``) on every store: memory,
SQLite and PostgreSQL, with the fixtures of ``test_metadata_contract`` (PostgreSQL: a fresh
schema per test, dropped afterwards).

The race cases use two stores on the same database (SQL backends: two connection pools or
two SQLite connections, as two processes would) as well as concurrent calls on one store.
"""

from __future__ import annotations

import asyncio
import sqlite3
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import psycopg
import pytest

from gitstore.backends.metadata.base import (
    MetadataStore,
    RepositoryPatch,
    RepositoryRecord,
)
from gitstore.backends.metadata.base_git import (
    DeliveryState,
    PublicationKind,
    PublicationState,
    Webhook,
)
from gitstore.backends.metadata.migrations import latest_version, load_migrations
from gitstore.backends.metadata.postgres import PostgresMetadataStore
from gitstore.backends.metadata.sqlite import SqliteMetadataStore, split_statements
from gitstore.domain.errors import AlreadyExists, FailedPrecondition, InvalidArgument, NotFound
from tests import test_metadata_contract as contract
from tests.servers import POSTGRES_URL
from tests.test_metadata_contract import Backend, make_ns, make_repo

# The contract suite's fixtures: every backend, a fresh database (schema) per test.
backend = contract.backend
sql_backend = contract.sql_backend
store = contract.store

SHA1 = "1" * 40
SHA2 = "2" * 40
SHA256 = "a" * 64
KEY_A = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIKeyA"
KEY_B = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIKeyB"
T0 = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)


async def repo_of(
    store: MetadataStore, name: str = "catalog", ns: str = "acme"
) -> RepositoryRecord:
    namespace = await store.get_namespace_by_identifier(ns) or await make_ns(store, ns)
    return await make_repo(store, namespace.id, name)


async def hook_of(store: MetadataStore, repo: RepositoryRecord, n: int = 0) -> Webhook:
    return await store.create_webhook(
        repo.id, f"https://shop.example/hooks/{n}", "s3cret", created_by="alice"
    )


# ---------------------------------------------------------------------------- repositories
async def test_require_signed_commits_defaults_off_and_can_be_switched(
    store: MetadataStore,
) -> None:
    repo = await repo_of(store)
    assert repo.require_signed_commits is False
    on = await store.update_repository(
        repo.id, RepositoryPatch(require_signed_commits=True), updated_by="bob"
    )
    assert on.require_signed_commits is True
    assert await store.get_repository(repo.id) == on
    assert await store.get_repository_by_name("acme", "catalog") == on
    listed = await store.list_repositories(repo.namespace_id, first=5)
    assert listed.items == [on]
    other = await store.update_repository(
        repo.id, RepositoryPatch(description="kept"), updated_by="bob"
    )
    assert other.require_signed_commits is True
    off = await store.update_repository(
        repo.id, RepositoryPatch(require_signed_commits=False), updated_by="bob"
    )
    assert off.require_signed_commits is False


# ---------------------------------------------------------------------------- SSH keys
async def test_ssh_keys(store: MetadataStore) -> None:
    alice = await store.create_user("alice", "h", is_admin=False)
    bob = await store.create_user("bob", "h", is_admin=False)
    k1 = await store.add_ssh_key(alice.id, title="laptop", public_key=KEY_A, fingerprint="SHA256:a")
    assert (k1.user_id, k1.username, k1.title) == (alice.id, "alice", "laptop")
    assert (k1.public_key, k1.fingerprint, k1.last_used_at) == (KEY_A, "SHA256:a", None)
    assert k1.created_at.utcoffset() == timedelta(0)
    k2 = await store.add_ssh_key(alice.id, title="ci", public_key=KEY_B, fingerprint="SHA256:b")
    assert await store.list_ssh_keys(alice.id) == [k1, k2]
    assert await store.list_ssh_keys(bob.id) == []
    assert await store.get_ssh_key_by_fingerprint("SHA256:b") == k2
    assert await store.get_ssh_key_by_fingerprint("SHA256:zzz") is None

    with pytest.raises(AlreadyExists, match="SHA256:a") as taken:
        await store.add_ssh_key(bob.id, title="stolen", public_key=KEY_A, fingerprint="SHA256:a")
    assert taken.value.field == "fingerprint"
    with pytest.raises(NotFound, match="missing-user"):
        await store.add_ssh_key("missing-user", title="t", public_key=KEY_A, fingerprint="SHA256:c")
    for kwargs, field in [
        ({"title": " ", "public_key": KEY_A, "fingerprint": "SHA256:c"}, "title"),
        ({"title": "t", "public_key": KEY_A + " me@host", "fingerprint": "SHA256:c"}, "public_key"),
        ({"title": "t", "public_key": "", "fingerprint": "SHA256:c"}, "public_key"),
        ({"title": "t", "public_key": KEY_A, "fingerprint": "MD5:aa:bb"}, "fingerprint"),
        ({"title": "t", "public_key": KEY_A, "fingerprint": "SHA256:"}, "fingerprint"),
    ]:
        with pytest.raises(InvalidArgument, match=field) as bad:
            await store.add_ssh_key(alice.id, **kwargs)
        assert bad.value.field == field

    used = T0.astimezone(timezone(timedelta(hours=2)))
    await store.touch_ssh_key(k1.id, at=used)
    await store.touch_ssh_key("unknown", at=used)  # ignored
    touched = await store.get_ssh_key_by_fingerprint("SHA256:a")
    assert touched is not None and touched.last_used_at == T0
    assert touched.last_used_at.utcoffset() == timedelta(0)
    with pytest.raises(InvalidArgument, match="at"):
        await store.touch_ssh_key(k1.id, at=datetime(2026, 1, 1))

    assert await store.remove_ssh_key(bob.id, k1.id) is False  # not bob's
    assert await store.remove_ssh_key(alice.id, k1.id) is True
    assert await store.remove_ssh_key(alice.id, k1.id) is False
    assert await store.get_ssh_key_by_fingerprint("SHA256:a") is None
    assert await store.list_ssh_keys(alice.id) == [k2]
    again = await store.add_ssh_key(
        bob.id, title="now bob's", public_key=KEY_A, fingerprint="SHA256:a"
    )
    assert again.username == "bob"


async def test_concurrent_adds_of_one_fingerprint_have_one_winner(backend: Backend) -> None:
    a = backend.open()
    await a.migrate()
    b = a if backend.name == "memory" else backend.open()
    users = [await a.create_user(f"user{i}", "h", is_admin=False) for i in range(6)]
    results = await asyncio.gather(
        *(
            (a if i % 2 else b).add_ssh_key(
                u.id, title="k", public_key=KEY_A, fingerprint="SHA256:same"
            )
            for i, u in enumerate(users)
        ),
        return_exceptions=True,
    )
    winners = [r for r in results if not isinstance(r, BaseException)]
    assert len(winners) == 1
    assert all(isinstance(r, AlreadyExists) for r in results if r not in winners)
    found = await a.get_ssh_key_by_fingerprint("SHA256:same")
    assert found == winners[0]


# ---------------------------------------------------------------------------- releases
async def test_releases(store: MetadataStore) -> None:
    repo = await repo_of(store)
    other = await repo_of(store, "other")
    r1 = await store.create_release(
        repo.id, "v1.0.0", SHA1, created_by="alice", source="ssh", message="first"
    )
    assert (r1.repository_uuid, r1.tag, r1.commit_sha) == (repo.id, "v1.0.0", SHA1)
    assert (r1.created_by, r1.source, r1.message) == ("alice", "ssh", "first")
    r2 = await store.create_release(repo.id, "release/2026-11", SHA256, created_by="", source="api")
    assert r2.message == ""
    same_tag_elsewhere = await store.create_release(
        other.id, "v1.0.0", SHA2, created_by="x", source="http"
    )
    assert await store.get_release(repo.id, "v1.0.0") == r1
    assert await store.get_release(other.id, "v1.0.0") == same_tag_elsewhere
    assert await store.get_release(repo.id, "v9") is None

    with pytest.raises(AlreadyExists, match=r"v1\.0\.0") as taken:
        await store.create_release(repo.id, "v1.0.0", SHA2, created_by="bob", source="api")
    assert taken.value.field == "tag"
    with pytest.raises(NotFound, match="missing"):
        await store.create_release("missing", "v1", SHA1, created_by="a", source="api")
    for tag, sha, source, field in [
        ("", SHA1, "api", "tag"),
        ("  ", SHA1, "api", "tag"),
        ("refs/tags/v1", SHA1, "api", "tag"),
        ("v 1", SHA1, "api", "tag"),
        ("v1", "abc123", "api", "commit"),
        ("v1", SHA1.upper().replace("1", "A"), "api", "commit"),
        ("v1", SHA1, "ftp", "source"),
    ]:
        with pytest.raises(InvalidArgument, match=field):
            await store.create_release(repo.id, tag, sha, created_by="a", source=source)


async def test_list_releases_pages_newest_first(store: MetadataStore) -> None:
    repo = await repo_of(store)
    other = await repo_of(store, "other")
    made = [
        await store.create_release(repo.id, f"v{i}", SHA1, created_by="a", source="api")
        for i in range(5)
    ]
    await store.create_release(other.id, "v0", SHA1, created_by="a", source="api")
    p1 = await store.list_releases(repo.id, first=2)
    p2 = await store.list_releases(repo.id, first=2, after=p1.end_cursor)
    p3 = await store.list_releases(repo.id, first=2, after=p2.end_cursor)
    assert p1.items + p2.items + p3.items == made[::-1]
    assert (p1.has_next_page, p2.has_next_page, p3.has_next_page) == (True, True, False)
    assert {p1.total_count, p2.total_count, p3.total_count} == {5}
    empty = await store.list_releases(repo.id, first=0)
    assert (empty.items, empty.total_count, empty.end_cursor, empty.has_next_page) == (
        [],
        5,
        None,
        True,
    )
    assert (await store.list_releases("missing", first=3)).total_count == 0
    with pytest.raises(InvalidArgument, match="first"):
        await store.list_releases(repo.id, first=-1)
    for bad in ["nonsense!", (await store.list_namespaces(first=1)).end_cursor]:
        with pytest.raises(InvalidArgument, match="after") as exc:
            await store.list_releases(repo.id, first=2, after=bad)
        assert exc.value.field == "after"


# ---------------------------------------------------------------------------- publications
async def test_publications_get_increasing_sequences_per_repository(store: MetadataStore) -> None:
    repo = await repo_of(store)
    other = await repo_of(store, "other")
    p1 = await store.create_publication(
        repo.id,
        "v1",
        SHA1,
        kind=PublicationKind.PUBLISH,
        requested_by="alice",
        correlation_id="push-1",
    )
    assert (p1.sequence, p1.state, p1.kind, p1.tag, p1.commit_sha) == (
        1,
        PublicationState.PENDING,
        PublicationKind.PUBLISH,
        "v1",
        SHA1,
    )
    assert (p1.requested_by, p1.correlation_id, p1.completed_at, p1.changed, p1.error) == (
        "alice",
        "push-1",
        None,
        (),
        "",
    )
    p2 = await store.create_publication(
        repo.id, "v1", SHA1, kind=PublicationKind.REPLAY, requested_by="bob"
    )
    o1 = await store.create_publication(
        other.id, "v9", SHA2, kind=PublicationKind.PUBLISH, requested_by="bob"
    )
    assert (p2.sequence, p2.kind, o1.sequence) == (2, PublicationKind.REPLAY, 1)
    assert await store.get_publication(repo.id, 2) == p2
    assert await store.get_publication(repo.id, 3) is None
    assert await store.get_publication("missing", 1) is None
    with pytest.raises(InvalidArgument, match="sequence"):
        await store.get_publication(repo.id, 0)
    with pytest.raises(NotFound, match="missing"):
        await store.create_publication(
            "missing", "v1", SHA1, kind=PublicationKind.PUBLISH, requested_by="a"
        )
    with pytest.raises(InvalidArgument, match="kind"):
        await store.create_publication(repo.id, "v1", SHA1, kind="NOPE", requested_by="a")  # type: ignore[arg-type]
    with pytest.raises(InvalidArgument, match="tag"):
        await store.create_publication(
            repo.id, "", SHA1, kind=PublicationKind.PUBLISH, requested_by="a"
        )
    with pytest.raises(InvalidArgument, match="commit"):
        await store.create_publication(
            repo.id, "v1", "HEAD", kind=PublicationKind.PUBLISH, requested_by="a"
        )
    # A refused call allocates nothing.
    p3 = await store.create_publication(
        repo.id, "v2", SHA2, kind=PublicationKind.PUBLISH, requested_by="a"
    )
    assert p3.sequence == 3


async def test_list_publications_newest_first_filtered_by_tag(store: MetadataStore) -> None:
    repo = await repo_of(store)
    made = [
        await store.create_publication(
            repo.id, f"v{i % 2}", SHA1, kind=PublicationKind.PUBLISH, requested_by="a"
        )
        for i in range(5)
    ]
    p1 = await store.list_publications(repo.id, first=2)
    p2 = await store.list_publications(repo.id, first=2, after=p1.end_cursor)
    p3 = await store.list_publications(repo.id, first=2, after=p2.end_cursor)
    assert p1.items + p2.items + p3.items == made[::-1]
    assert [p.sequence for p in p1.items] == [5, 4]
    assert (p1.has_next_page, p3.has_next_page, p3.total_count) == (True, False, 5)
    v0 = await store.list_publications(repo.id, first=2, tag="v0")
    v0b = await store.list_publications(repo.id, first=2, tag="v0", after=v0.end_cursor)
    assert [p.sequence for p in v0.items + v0b.items] == [5, 3, 1]
    assert (v0.total_count, v0.has_next_page, v0b.has_next_page) == (3, True, False)
    assert (await store.list_publications(repo.id, first=5, tag="v9")).items == []
    with pytest.raises(InvalidArgument, match="first"):
        await store.list_publications(repo.id, first=-2)
    releases_cursor = "cjF8MXx4"  # "r1|1|x": a release cursor is not a publication cursor
    for bad in ["%%%", releases_cursor]:
        with pytest.raises(InvalidArgument, match="after"):
            await store.list_publications(repo.id, first=1, after=bad)


async def test_complete_publication_and_live(store: MetadataStore) -> None:
    repo = await repo_of(store)
    pubs = [
        await store.create_publication(
            repo.id, f"v{i}", SHA1, kind=PublicationKind.PUBLISH, requested_by="a"
        )
        for i in range(1, 5)
    ]
    assert await store.live_publication(repo.id) is None
    failed = await store.complete_publication(
        repo.id, 1, state=PublicationState.FAILED, at=T0, error="boom"
    )
    assert (failed.state, failed.error, failed.completed_at) == (
        PublicationState.FAILED,
        "boom",
        T0,
    )
    assert await store.live_publication(repo.id) is None

    done = await store.complete_publication(
        repo.id,
        3,
        state=PublicationState.PUBLISHED,
        at=T0 + timedelta(seconds=1),
        changed=("products/a", "categories/b"),
    )
    assert (done.state, done.changed, done.sequence) == (
        PublicationState.PUBLISHED,
        ("products/a", "categories/b"),
        3,
    )
    assert await store.get_publication(repo.id, 3) == done
    assert await store.live_publication(repo.id) == done
    older = await store.get_publication(repo.id, 2)
    assert older is not None and older.state is PublicationState.SUPERSEDED
    assert older.completed_at == T0 + timedelta(seconds=1)
    assert (await store.get_publication(repo.id, 1)) == failed  # not PENDING: untouched
    newer = await store.get_publication(repo.id, 4)
    assert newer == pubs[3] and newer.state is PublicationState.PENDING

    # Idempotent with the same state; a different outcome is refused.
    again = await store.complete_publication(
        repo.id, 3, state=PublicationState.PUBLISHED, at=T0 + timedelta(hours=1)
    )
    assert again == done
    with pytest.raises(FailedPrecondition, match="PUBLISHED"):
        await store.complete_publication(repo.id, 3, state=PublicationState.FAILED, at=T0)
    with pytest.raises(FailedPrecondition, match="SUPERSEDED"):
        await store.complete_publication(repo.id, 2, state=PublicationState.PUBLISHED, at=T0)
    superseded = await store.complete_publication(
        repo.id, 2, state=PublicationState.SUPERSEDED, at=T0
    )
    assert superseded == older

    latest = await store.complete_publication(
        repo.id, 4, state=PublicationState.PUBLISHED, at=T0 + timedelta(seconds=2)
    )
    assert await store.live_publication(repo.id) == latest
    assert await store.live_publication("missing") is None

    with pytest.raises(NotFound, match="publication 9"):
        await store.complete_publication(repo.id, 9, state=PublicationState.PUBLISHED, at=T0)
    with pytest.raises(InvalidArgument, match="state"):
        await store.complete_publication(repo.id, 4, state=PublicationState.PENDING, at=T0)
    with pytest.raises(InvalidArgument, match="sequence"):
        await store.complete_publication(repo.id, 0, state=PublicationState.FAILED, at=T0)
    with pytest.raises(InvalidArgument, match="at"):
        await store.complete_publication(
            repo.id, 4, state=PublicationState.FAILED, at=datetime(2026, 1, 1)
        )
    with pytest.raises(InvalidArgument, match="changed"):
        await store.complete_publication(
            repo.id,
            4,
            state=PublicationState.PUBLISHED,
            at=T0,
            changed=(1,),  # type: ignore[arg-type]
        )


async def test_concurrent_publications_get_distinct_increasing_sequences(
    backend: Backend,
) -> None:
    a = backend.open()
    await a.migrate()
    b = a if backend.name == "memory" else backend.open()
    repo = await repo_of(a)

    async def request(store: MetadataStore, i: int) -> int:
        p = await store.create_publication(
            repo.id, f"v{i}", SHA1, kind=PublicationKind.PUBLISH, requested_by=f"u{i}"
        )
        return p.sequence

    sequences = await asyncio.gather(*(request(a if i % 2 else b, i) for i in range(20)))
    assert sorted(sequences) == list(range(1, 21))
    listed = await a.list_publications(repo.id, first=50)
    assert [p.sequence for p in listed.items] == list(range(20, 0, -1))


# ---------------------------------------------------------------------------- webhooks
async def test_webhooks(store: MetadataStore) -> None:
    repo = await repo_of(store)
    other = await repo_of(store, "other")
    w1 = await store.create_webhook(
        repo.id, "https://shop.example/hook", "s3cret", created_by="alice", description="shop"
    )
    assert (w1.repository_uuid, w1.url, w1.secret, w1.created_by) == (
        repo.id,
        "https://shop.example/hook",
        "s3cret",
        "alice",
    )
    assert (w1.active, w1.description) == (True, "shop")
    w2 = await store.create_webhook(repo.id, "http://10.0.0.1:8080/x", "k", created_by="bob")
    elsewhere = await store.create_webhook(
        other.id, "https://shop.example/hook", "k", created_by="bob"
    )
    assert await store.get_webhook(w1.id) == w1
    assert await store.get_webhook("missing") is None
    assert await store.list_webhooks(repo.id) == [w1, w2]
    assert await store.list_webhooks(other.id) == [elsewhere]
    with pytest.raises(AlreadyExists, match=r"shop\.example") as taken:
        await store.create_webhook(repo.id, "https://shop.example/hook", "x", created_by="c")
    assert taken.value.field == "url"
    with pytest.raises(NotFound, match="missing"):
        await store.create_webhook("missing", "https://a.example/", "x", created_by="c")
    for url, secret, field in [
        ("", "x", "url"),
        ("ftp://a.example/", "x", "url"),
        ("/relative", "x", "url"),
        ("https://", "x", "url"),
        ("https://a.example/", "", "secret"),
    ]:
        with pytest.raises(InvalidArgument, match=field):
            await store.create_webhook(repo.id, url, secret, created_by="c")

    assert await store.delete_webhook(w1.id) is True
    assert await store.delete_webhook(w1.id) is False
    assert await store.get_webhook(w1.id) is None
    assert await store.list_webhooks(repo.id) == [w2]


async def test_update_webhook_changes_only_given_fields(store: MetadataStore) -> None:
    repo = await repo_of(store)
    hook = await store.create_webhook(
        repo.id, "https://shop.example/hook", "s3cret", created_by="alice", description="shop"
    )
    paused = await store.update_webhook(hook.id, active=False)
    assert (paused.active, paused.description, paused.secret) == (False, "shop", "s3cret")
    assert await store.get_webhook(hook.id) == paused
    renamed = await store.update_webhook(hook.id, description="")
    assert (renamed.active, renamed.description, renamed.secret) == (False, "", "s3cret")
    rotated = await store.update_webhook(hook.id, secret="n3w", active=True)
    assert (rotated.active, rotated.description, rotated.secret) == (True, "", "n3w")
    assert (rotated.id, rotated.url, rotated.created_at) == (hook.id, hook.url, hook.created_at)
    assert await store.update_webhook(hook.id) == rotated
    assert await store.list_webhooks(repo.id) == [rotated]
    with pytest.raises(NotFound, match="nope") as missing:
        await store.update_webhook("nope", active=False)
    assert missing.value.field == "webhook_id"
    with pytest.raises(InvalidArgument, match="secret"):
        await store.update_webhook(hook.id, secret="")
    with pytest.raises(InvalidArgument, match="description"):
        await store.update_webhook(hook.id, description="x" * 1025)
    assert await store.get_webhook(hook.id) == rotated


async def test_paused_webhooks_keep_pending_deliveries_unclaimed(store: MetadataStore) -> None:
    repo = await repo_of(store)
    paused, running = [await hook_of(store, repo, n) for n in range(2)]
    made = {
        hook.id: await store.create_delivery(
            hook.id, publication_sequence=1, payload={"n": 1}, next_attempt_at=T0
        )
        for hook in (paused, running)
    }
    await store.update_webhook(paused.id, active=False)
    # A paused webhook still records deliveries; they wait, PENDING, until it is resumed.
    later = await store.create_delivery(
        paused.id, publication_sequence=2, payload={"n": 2}, next_attempt_at=T0
    )
    now = T0 + timedelta(minutes=1)
    claimed = await store.claim_due_deliveries(now=now, limit=10, lease_seconds=60)
    assert [d.id for d in claimed] == [made[running.id].id]
    assert await store.claim_due_deliveries(now=now, limit=10, lease_seconds=60) == []
    await store.update_webhook(paused.id, active=True)
    resumed = await store.claim_due_deliveries(now=now, limit=10, lease_seconds=60)
    assert {d.id for d in resumed} == {made[paused.id].id, later.id}
    assert all(d.state is DeliveryState.PENDING and d.attempts == 0 for d in resumed)


# ---------------------------------------------------------------------------- deliveries
PAYLOAD: dict[str, Any] = {
    "repository": "acme/catalog",
    "channel": "live",
    "release": {"tag": "v1", "commit": SHA1, "sequence": 1},
    "changed": ["products/a"],
    "previousCommit": None,
}


async def test_deliveries_lifecycle(store: MetadataStore) -> None:
    repo = await repo_of(store)
    hook = await hook_of(store, repo)
    d = await store.create_delivery(
        hook.id, publication_sequence=1, payload=PAYLOAD, next_attempt_at=T0
    )
    assert (d.webhook_id, d.repository_uuid, d.publication_sequence) == (hook.id, repo.id, 1)
    assert (d.payload, d.state, d.attempts, d.next_attempt_at) == (
        PAYLOAD,
        DeliveryState.PENDING,
        0,
        T0,
    )
    assert (d.last_status_code, d.last_error, d.completed_at, d.history) == (None, "", None, ())
    d.payload["mutated"] = True  # the store keeps its own copy
    same = await store.create_delivery(
        hook.id, publication_sequence=1, payload={"other": 1}, next_attempt_at=T0
    )
    assert same.id == d.id and same.payload == PAYLOAD  # idempotent per (webhook, publication)

    # Not due yet, then due.
    assert (
        await store.claim_due_deliveries(now=T0 - timedelta(seconds=1), limit=10, lease_seconds=30)
        == []
    )
    claimed = await store.claim_due_deliveries(now=T0, limit=10, lease_seconds=30)
    assert [c.id for c in claimed] == [d.id]
    assert claimed[0].next_attempt_at == T0 + timedelta(seconds=30)
    # Leased: a second claim before the lease runs out gets nothing, after it gets it again.
    assert (
        await store.claim_due_deliveries(now=T0 + timedelta(seconds=29), limit=10, lease_seconds=30)
        == []
    )
    reclaimed = await store.claim_due_deliveries(
        now=T0 + timedelta(seconds=30), limit=10, lease_seconds=30
    )
    assert [c.id for c in reclaimed] == [d.id]

    retry_at = T0 + timedelta(minutes=1)
    after1 = await store.record_delivery_attempt(
        d.id,
        at=T0 + timedelta(seconds=31),
        status_code=500,
        error="HTTP 500",
        succeeded=False,
        next_attempt_at=retry_at,
    )
    assert (after1.state, after1.attempts, after1.next_attempt_at) == (
        DeliveryState.PENDING,
        1,
        retry_at,
    )
    assert (after1.last_status_code, after1.last_error, after1.completed_at) == (
        500,
        "HTTP 500",
        None,
    )
    assert after1.history == (
        {"at": (T0 + timedelta(seconds=31)).isoformat(), "statusCode": 500, "error": "HTTP 500"},
    )
    after2 = await store.record_delivery_attempt(
        d.id, at=retry_at, status_code=204, error="", succeeded=True, next_attempt_at=None
    )
    assert (after2.state, after2.attempts, after2.next_attempt_at, after2.completed_at) == (
        DeliveryState.SUCCEEDED,
        2,
        None,
        retry_at,
    )
    assert [h["statusCode"] for h in after2.history] == [500, 204]
    assert after2.payload == PAYLOAD
    assert (
        await store.claim_due_deliveries(now=T0 + timedelta(days=1), limit=10, lease_seconds=1)
        == []
    )
    with pytest.raises(FailedPrecondition, match="SUCCEEDED"):
        await store.record_delivery_attempt(
            d.id, at=retry_at, status_code=200, error="", succeeded=True, next_attempt_at=None
        )

    # Giving up: no next attempt means FAILED.
    d2 = await store.create_delivery(
        hook.id, publication_sequence=2, payload=PAYLOAD, next_attempt_at=T0
    )
    gave_up = await store.record_delivery_attempt(
        d2.id,
        at=T0,
        status_code=None,
        error="connection refused",
        succeeded=False,
        next_attempt_at=None,
    )
    assert (gave_up.state, gave_up.attempts, gave_up.completed_at, gave_up.next_attempt_at) == (
        DeliveryState.FAILED,
        1,
        T0,
        None,
    )
    assert gave_up.history[0]["statusCode"] is None

    with pytest.raises(NotFound, match="missing"):
        await store.record_delivery_attempt(
            "missing", at=T0, status_code=200, error="", succeeded=True, next_attempt_at=None
        )
    with pytest.raises(NotFound, match="missing"):
        await store.create_delivery(
            "missing", publication_sequence=1, payload={}, next_attempt_at=T0
        )
    for kwargs, field in [
        ({"publication_sequence": 0, "payload": {}, "next_attempt_at": T0}, "publication_sequence"),
        ({"publication_sequence": 3, "payload": {"x": object()}, "next_attempt_at": T0}, "payload"),
        ({"publication_sequence": 3, "payload": [1], "next_attempt_at": T0}, "payload"),
        (
            {"publication_sequence": 3, "payload": {}, "next_attempt_at": datetime(2026, 1, 1)},
            "next_attempt_at",
        ),
    ]:
        with pytest.raises(InvalidArgument, match=field):
            await store.create_delivery(hook.id, **kwargs)
    for kwargs, field in [
        ({"now": T0, "limit": -1, "lease_seconds": 1}, "limit"),
        ({"now": T0, "limit": 1, "lease_seconds": 0}, "lease_seconds"),
        ({"now": datetime(2026, 1, 1), "limit": 1, "lease_seconds": 1}, "now"),
    ]:
        with pytest.raises(InvalidArgument, match=field):
            await store.claim_due_deliveries(**kwargs)


async def test_claims_are_due_first_and_limited(store: MetadataStore) -> None:
    repo = await repo_of(store)
    hooks = [await hook_of(store, repo, n) for n in range(2)]
    made = []
    for seq, minutes in [(1, 3), (2, 1), (3, 2), (4, 9)]:
        for hook in hooks:
            made.append(
                await store.create_delivery(
                    hook.id,
                    publication_sequence=seq,
                    payload={"seq": seq},
                    next_attempt_at=T0 + timedelta(minutes=minutes),
                )
            )
    now = T0 + timedelta(minutes=5)
    first = await store.claim_due_deliveries(now=now, limit=4, lease_seconds=60)
    rest = await store.claim_due_deliveries(now=now, limit=4, lease_seconds=60)
    assert [d.payload["seq"] for d in first] == [2, 2, 3, 3]
    assert [d.payload["seq"] for d in rest] == [1, 1]
    assert {d.id for d in first + rest} == {d.id for d in made if d.publication_sequence < 4}
    assert await store.claim_due_deliveries(now=now, limit=0, lease_seconds=60) == []


async def test_concurrent_claimers_never_share_a_delivery(backend: Backend) -> None:
    a = backend.open()
    await a.migrate()
    b = a if backend.name == "memory" else backend.open()
    repo = await repo_of(a)
    hooks = [await hook_of(a, repo, n) for n in range(3)]
    ids = set()
    for seq in range(1, 11):
        for hook in hooks:
            d = await a.create_delivery(
                hook.id, publication_sequence=seq, payload={}, next_attempt_at=T0
            )
            ids.add(d.id)
    claims = await asyncio.gather(
        *(
            (a if i % 2 else b).claim_due_deliveries(now=T0, limit=4, lease_seconds=300)
            for i in range(12)
        )
    )
    claimed = [d.id for batch in claims for d in batch]
    assert len(claimed) == len(set(claimed)) == len(ids) == 30
    assert set(claimed) == ids
    assert all(len(batch) <= 4 for batch in claims)


async def test_list_deliveries_newest_first(store: MetadataStore) -> None:
    repo = await repo_of(store)
    hook, other = await hook_of(store, repo, 0), await hook_of(store, repo, 1)
    made = [
        await store.create_delivery(
            hook.id, publication_sequence=i, payload={"i": i}, next_attempt_at=T0
        )
        for i in range(1, 6)
    ]
    await store.create_delivery(other.id, publication_sequence=1, payload={}, next_attempt_at=T0)
    p1 = await store.list_deliveries(hook.id, first=3)
    p2 = await store.list_deliveries(hook.id, first=3, after=p1.end_cursor)
    assert p1.items + p2.items == made[::-1]
    assert (p1.has_next_page, p2.has_next_page, p1.total_count, p2.total_count) == (
        True,
        False,
        5,
        5,
    )
    assert (await store.list_deliveries("missing", first=3)).total_count == 0
    with pytest.raises(InvalidArgument, match="first"):
        await store.list_deliveries(hook.id, first=-1)
    release_cursor = (await store.list_releases(repo.id, first=0)).end_cursor or "cjF8MXx4"
    with pytest.raises(InvalidArgument, match="after"):
        await store.list_deliveries(hook.id, first=1, after=release_cursor)

    assert await store.delete_webhook(hook.id) is True  # its deliveries go with it
    assert (await store.list_deliveries(hook.id, first=10)).total_count == 0
    assert await store.claim_due_deliveries(now=T0, limit=10, lease_seconds=5) != []
    with pytest.raises(NotFound):
        await store.record_delivery_attempt(
            made[0].id, at=T0, status_code=200, error="", succeeded=True, next_attempt_at=None
        )


# ---------------------------------------------------------------------------- cascade
async def test_deleting_a_repository_deletes_its_git_records(store: MetadataStore) -> None:
    repo = await repo_of(store)
    keep = await repo_of(store, "keep")
    for r in (repo, keep):
        await store.create_release(r.id, "v1", SHA1, created_by="a", source="api")
        await store.create_publication(
            r.id, "v1", SHA1, kind=PublicationKind.PUBLISH, requested_by="a"
        )
        hook = await hook_of(store, r)
        await store.create_delivery(
            hook.id, publication_sequence=1, payload={"r": r.name}, next_attempt_at=T0
        )
    gone_hook = (await store.list_webhooks(repo.id))[0]
    await store.delete_repository(repo.id)

    assert await store.get_release(repo.id, "v1") is None
    assert (await store.list_releases(repo.id, first=5)).total_count == 0
    assert await store.get_publication(repo.id, 1) is None
    assert (await store.list_publications(repo.id, first=5)).total_count == 0
    assert await store.list_webhooks(repo.id) == []
    assert await store.get_webhook(gone_hook.id) is None
    assert (await store.list_deliveries(gone_hook.id, first=5)).total_count == 0
    due = await store.claim_due_deliveries(now=T0, limit=10, lease_seconds=5)
    assert [d.payload for d in due] == [{"r": "keep"}]
    # The other repository keeps everything.
    assert await store.get_release(keep.id, "v1") is not None
    assert await store.get_publication(keep.id, 1) is not None
    # A repository of the same name starts over.
    again = await repo_of(store)
    assert await store.get_release(again.id, "v1") is None
    p = await store.create_publication(
        again.id, "v1", SHA1, kind=PublicationKind.PUBLISH, requested_by="a"
    )
    assert p.sequence == 1


# ---------------------------------------------------------------------------- SQL only
async def run_sql(backend: Backend, store: MetadataStore, statements: list[str]) -> None:
    """Run statements on the store's database with the backend's own driver (PostgreSQL: in
    the store's schema), as an operator or an older gitstore would."""
    if isinstance(store, SqliteMetadataStore):
        store.path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(store.path, isolation_level=None)
        try:
            conn.execute("PRAGMA foreign_keys = ON")
            conn.execute("BEGIN")
            for statement in statements:
                conn.execute(statement)
            conn.execute("COMMIT")
        finally:
            conn.close()
        return
    assert isinstance(store, PostgresMetadataStore) and store.schema is not None
    async with await psycopg.AsyncConnection.connect(POSTGRES_URL) as conn:
        await conn.execute(f"CREATE SCHEMA IF NOT EXISTS {store.schema}".encode())
        await conn.execute(f"SET search_path = {store.schema}".encode())
        for statement in statements:
            await conn.execute(statement.encode())


async def test_deleting_a_user_deletes_their_ssh_keys(sql_backend: Backend) -> None:
    store = sql_backend.open()
    await store.migrate()
    alice = await store.create_user("alice", "h", is_admin=False)
    bob = await store.create_user("bob", "h", is_admin=False)
    await store.add_ssh_key(alice.id, title="a", public_key=KEY_A, fingerprint="SHA256:a")
    kept = await store.add_ssh_key(bob.id, title="b", public_key=KEY_B, fingerprint="SHA256:b")
    await run_sql(sql_backend, store, [f"DELETE FROM users WHERE id = '{alice.id}'"])
    assert await store.get_ssh_key_by_fingerprint("SHA256:a") is None
    assert await store.list_ssh_keys(alice.id) == []
    assert await store.list_ssh_keys(bob.id) == [kept]


async def test_migration_2_upgrades_a_version_1_database(sql_backend: Backend) -> None:
    store = sql_backend.open()
    dialect = "sqlite" if sql_backend.name == "sqlite" else "postgres"
    v1 = load_migrations(dialect)[0]
    stamp = "0" if dialect == "sqlite" else "now()"
    patterns = """'["v*"]'"""
    statements = split_statements(v1.sql) if dialect == "sqlite" else [v1.sql]
    await run_sql(
        sql_backend,
        store,
        [
            "CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL,"
            f" applied_at {'INTEGER' if dialect == 'sqlite' else 'TIMESTAMPTZ'} NOT NULL)",
            *statements,
            f"INSERT INTO schema_migrations VALUES (1, 'init', {stamp})",
            "INSERT INTO namespaces (id, identifier, display_name, tier, created_at, created_by,"
            f" updated_at, updated_by) VALUES ('ns1', 'acme', 'Acme', 'USER', {stamp}, 'a',"
            f" {stamp}, 'a')",
            "INSERT INTO repositories (id, namespace_id, name, publish_mode, default_branch,"
            " visibility, release_patterns, created_at, created_by, updated_at, updated_by)"
            f" VALUES ('r1', 'ns1', 'catalog', 'ON_RELEASE_TAG', 'main', 'PRIVATE', {patterns},"
            f" {stamp}, 'a', {stamp}, 'a')",
        ],
    )
    assert await store.migrate() == latest_version() >= 2
    old = await store.get_repository("r1")
    assert old is not None and old.require_signed_commits is False
    assert old.release_patterns == ("v*",)
    release = await store.create_release("r1", "v1", SHA1, created_by="a", source="ssh")
    assert await store.get_release("r1", "v1") == release
