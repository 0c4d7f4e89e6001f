"""The cache of prepared files: bounds, LRU eviction, what a key depends on (blob id, kind
registry, size limit, repository), invalid files, metrics — and, against the real git service
and KV, a release of the commit ``draft`` just projected that fetches no blob and parses
nothing yet writes the same documents."""

from __future__ import annotations

import threading
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest

from gitstore.backends.kv import KvStore
from gitstore.domain.content import ContentError, KindRegistry, Manifest
from gitstore.domain.errors import FailedPrecondition
from gitstore.domain.events import PublishedEvent, PublishEvent
from gitstore.domain.keys import LIVE
from gitstore.git.client import GitClient
from gitstore.git.v1 import git_service_pb2 as pb
from gitstore.worker import parsing
from gitstore.worker.metrics import WorkerMetrics
from gitstore.worker.parsing import Prepared, prepare_file
from gitstore.worker.prepared_cache import (
    ENTRY_OVERHEAD,
    MAX_CONTEXTS,
    PreparedCache,
    entry_cost,
    merge,
)
from gitstore.worker.projector import Projector
from gitstore.worker.publisher import Publisher
from tests.worker.harness import (
    REGISTRY,
    category,
    commit,
    encode,
    files_of,
    kv_documents,
    path_of,
    product,
    visible_draft,
)
from tests.worker.test_pool import BRANDS

REPO = "acme/catalog"


def prepared(name: str) -> Prepared:
    """A valid product file at a fresh (made-up) blob id."""
    obj = product(name)
    return prepare_file(path_of(obj), uuid.uuid4().hex + "0" * 8, encode(obj), REGISTRY)


def keys(*files: Prepared) -> list[tuple[str, str]]:
    return [(p.path, p.blob_id) for p in files]


# ------------------------------------------------------------------ the cache alone


def test_a_hit_is_the_prepared_file_and_a_new_blob_id_misses() -> None:
    cache = PreparedCache(1 << 20)
    ctx = cache.context(REGISTRY, 1 << 20)
    a, b = prepared("a"), prepared("b")
    assert a.upsert is not None
    assert cache.get_many(ctx, REPO, keys(a, b)) == [None, None]
    cache.put_many(ctx, REPO, [a, b])
    assert cache.get_many(ctx, REPO, keys(b, a)) == [b, a]
    # the same path with other content (a new blob id) is a miss
    assert cache.get_many(ctx, REPO, [(a.path, "f" * 40)]) == [None]
    # another repository never sees it
    assert cache.get_many(ctx, "other/repo", keys(a)) == [None]
    assert (cache.hits, cache.misses) == (2, 4)
    assert len(cache) == 2 and cache.size == entry_cost(a) + entry_cost(b)


def test_the_context_is_the_registry_definitions_and_the_size_limit() -> None:
    cache = PreparedCache(1 << 20)
    builtin = cache.context(REGISTRY, 1000)
    assert cache.context(KindRegistry.builtin(), 1000) == builtin  # the same definitions
    assert cache.context(REGISTRY, 999) != builtin
    custom, problems = KindRegistry.builtin().with_definitions([Manifest.from_object(BRANDS)])
    assert not problems
    with_brands = cache.context(custom, 1000)
    assert with_brands != builtin

    # a Brand is invalid without its kind, valid with it: each context keeps its own answer
    content = b"apiVersion: acme.example/v1\nkind: Brand\nmetadata: {name: acme}\nspec: {}\n"
    unknown = prepare_file("brands/acme.yaml", "b" * 40, content, REGISTRY, max_bytes=1000)
    known = prepare_file("brands/acme.yaml", "b" * 40, content, custom, max_bytes=1000)
    assert unknown.upsert is None and known.upsert is not None
    cache.put_many(builtin, REPO, [unknown])
    assert cache.get_many(with_brands, REPO, keys(known)) == [None]
    cache.put_many(with_brands, REPO, [known])
    assert cache.get_many(builtin, REPO, keys(known)) == [unknown]
    assert cache.get_many(with_brands, REPO, keys(known)) == [known]

    # changing a registry in place changes its context
    custom.unregister("Brand")
    assert cache.context(custom, 1000) == builtin


def test_invalid_files_are_cached_with_their_errors() -> None:
    cache = PreparedCache(1 << 20)
    ctx = cache.context(REGISTRY, 1 << 20)
    bad = prepare_file("products/x.yaml", "c" * 40, b"kind: [", REGISTRY)
    assert bad.upsert is None and bad.errors
    cache.put_many(ctx, REPO, [bad])
    assert cache.get_many(ctx, REPO, keys(bad)) == [bad]
    assert entry_cost(bad) > ENTRY_OVERHEAD + len(bad.path)


def test_the_bound_evicts_the_least_recently_used() -> None:
    files = [prepared(f"p{i}") for i in range(4)]
    cost = max(entry_cost(p) for p in files)
    cache = PreparedCache(3 * cost)
    ctx = cache.context(REGISTRY, 1 << 20)
    cache.put_many(ctx, REPO, files[:3])
    assert len(cache) == 3
    cache.get_many(ctx, REPO, keys(files[0]))  # p0 is now the most recently used
    cache.put_many(ctx, REPO, files[3:])
    assert cache.size <= 3 * cost
    found = cache.get_many(ctx, REPO, keys(*files))
    assert found == [files[0], None, files[2], files[3]]
    # storing the same file again does not count it twice
    before = cache.size
    cache.put_many(ctx, REPO, [files[3]])
    assert cache.size == before


def test_an_entry_larger_than_the_bound_is_not_kept_and_zero_is_off() -> None:
    big = prepared("big")
    small = PreparedCache(entry_cost(big) - 1)
    ctx = small.context(REGISTRY, 1 << 20)
    small.put_many(ctx, REPO, [big])
    assert len(small) == 0 and small.size == 0

    off = PreparedCache(0)
    assert not off.enabled
    ctx = off.context(REGISTRY, 1 << 20)
    off.put_many(ctx, REPO, [big])
    assert off.get_many(ctx, REPO, keys(big)) == [None] and len(off) == 0


def test_old_contexts_are_dropped_with_their_entries() -> None:
    cache = PreparedCache(1 << 20)
    first = cache.context(REGISTRY, 1)
    a = prepared("a")
    cache.put_many(first, REPO, [a])
    for limit in range(2, MAX_CONTEXTS + 2):  # MAX_CONTEXTS newer contexts
        cache.context(REGISTRY, limit)
    assert len(cache) == 0 and cache.size == 0
    # a put for a context dropped meanwhile is ignored (its definitions are not pinned)
    cache.put_many(first, REPO, [a])
    assert len(cache) == 0


def test_metrics_count_hits_misses_and_bytes() -> None:
    metrics = WorkerMetrics()
    cache = PreparedCache(1 << 20, metrics=metrics)
    ctx = cache.context(REGISTRY, 1 << 20)
    a = prepared("a")
    cache.get_many(ctx, REPO, keys(a))
    cache.put_many(ctx, REPO, [a])
    cache.get_many(ctx, REPO, keys(a, a))

    def sample(name: str, **labels: str) -> float | None:
        return metrics.registry.get_sample_value(name, labels)

    assert sample("gitstore_worker_prepared_cache_total", result="hit") == 2
    assert sample("gitstore_worker_prepared_cache_total", result="miss") == 1
    assert sample("gitstore_worker_prepared_cache_bytes") == entry_cost(a)


def test_concurrent_use_keeps_the_books_straight() -> None:
    files = [prepared(f"t{i}") for i in range(40)]
    cache = PreparedCache(10 * max(entry_cost(p) for p in files))
    ctx = cache.context(REGISTRY, 1 << 20)

    def work(offset: int) -> None:
        for round_ in range(50):
            chunk = files[(offset + round_) % 30 :][:10]
            cache.get_many(ctx, REPO, keys(*chunk))
            cache.put_many(ctx, REPO, chunk)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    held = [p for p in cache.get_many(ctx, REPO, keys(*files)) if p is not None]
    assert cache.size == sum(entry_cost(p) for p in held) <= cache.max_bytes
    assert cache.hits + cache.misses == 4 * 50 * 10 + 40


def test_merge_puts_the_misses_back_in_order() -> None:
    a, b, c = prepared("a"), prepared("b"), prepared("c")
    assert merge([a, None, c, None], [b, a]) == [a, b, c, a]
    with pytest.raises(FailedPrecondition, match="2 prepared files for 1 cache misses"):
        merge([None, a], [b, c])


# ------------------------------------------------------------------ with git and the KV


class CountingGit:
    """``GetBlobBatches`` calls (and the blob ids asked for) of a real client."""

    def __init__(self, inner: GitClient) -> None:
        self.inner = inner
        self.blob_requests: list[pb.GetBlobsRequest] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def get_blob_batches(self, request: pb.GetBlobsRequest) -> AsyncIterator[Any]:
        self.blob_requests.append(request)
        return self.inner.get_blob_batches(request)


@pytest.fixture
def parses(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Paths parsed by ``prepare_file`` (it runs in a thread of this process)."""
    seen: list[str] = []
    real = parsing.parse_manifest

    def counting(raw: bytes | str, path: str = "", **kwargs: Any) -> Manifest:
        seen.append(path)
        return real(raw, path, **kwargs)

    monkeypatch.setattr(parsing, "parse_manifest", counting)
    return seen


def publish_event(repo: str, sha: str) -> PublishEvent:
    return PublishEvent(
        event_id=f"publish:{repo}:1",
        repository_id=repo,
        sequence=1,
        tag="v1",
        commit=sha,
        kind="PUBLISH",
    )


async def test_a_release_of_the_projected_head_fetches_and_parses_nothing(
    git: GitClient, kv: KvStore, repo: str, parses: list[str]
) -> None:
    files = files_of(
        *(product(f"p{i}", categories=["shirts"], status="active") for i in range(25)),
        category("shirts"),
    )
    files["products/broken.yaml"] = b"apiVersion: [unclosed\n"
    done = await commit(git, repo, files)
    counting = CountingGit(git)
    metrics = WorkerMetrics()
    cache = PreparedCache(1 << 20, metrics=metrics)
    # batch_size 10: both projections are chunked (the overlap path), in the same order
    projector = Projector(
        counting,  # type: ignore[arg-type]
        kv,
        owner="cache-test",
        batch_size=10,
        metrics=metrics,
        cache=cache,
    )

    drafted = await projector.project(repo)
    assert drafted.upserts == 26 and drafted.invalid_files == 1 and drafted.chunks > 1
    assert len(parses) == 27 and counting.blob_requests
    assert (cache.hits, cache.misses) == (0, 27)

    parses.clear()
    counting.blob_requests.clear()
    announced: list[PublishedEvent] = []

    async def announce(event: PublishedEvent) -> None:
        announced.append(event)

    await Publisher(projector, announce=announce).publish(publish_event(repo, done.commit_sha))

    assert announced and announced[0].state == "PUBLISHED", announced
    assert parses == [] and counting.blob_requests == []
    # the first release is a KV copy of the draft (``worker/release_copy.py``): it does not
    # even need the cache
    assert (cache.hits, cache.misses) == (0, 27)
    live = await kv.resolve(repo, LIVE)
    head = await kv.head(live)
    assert head is not None and head.version == done.commit_sha
    draft = await visible_draft(kv, repo)
    draft_docs = await kv_documents(kv, draft)
    live_docs = await kv_documents(kv, live)
    assert set(draft_docs) == set(live_docs) and len(live_docs) == 26
    for key, doc in draft_docs.items():
        assert live_docs[key].body == doc.body, key
    for scope in (draft, live):
        page = await kv.lookup(scope, "product", "category-status", "shirts|active", first=100)
        assert len(page.items) == 25

    # a later commit changing one file: only that file is fetched and parsed
    changed = await commit(git, repo, files_of(product("p3", title="Renamed")))
    result = await projector.project(repo)
    assert result.version == changed.commit_sha and result.upserts == 1
    assert parses == ["products/p3.yaml"]
    p3 = await kv.get(await visible_draft(kv, repo), "product", "p3")
    assert p3 is not None and p3.value()["spec"]["title"] == "Renamed"
    by_id = [list(r.blob_ids) for r in counting.blob_requests if r.blob_ids]
    assert by_id == [[p3.value()["blobId"]]]  # (the other requests look up other spellings)


def test_the_context_is_the_content_of_the_definitions_and_their_hook() -> None:
    """Equal definitions read twice share a context; another hook module (``sha256``) or
    another hub schema does not, so no file is answered with an older hook's hub form."""
    from tests.worker.test_statuses_hub import offer_kind

    def registry(kind: dict[str, Any]) -> KindRegistry:
        built, problems = KindRegistry.builtin().with_definitions([Manifest.from_object(kind)])
        assert not problems
        return built

    cache = PreparedCache(1 << 20)
    first = cache.context(registry(offer_kind("hooks/h.wasm", b"one")), 1000)
    assert cache.context(registry(offer_kind("hooks/h.wasm", b"one")), 1000) == first
    assert cache.context(registry(offer_kind("hooks/h.wasm", b"two")), 1000) != first
    assert cache.context(registry(offer_kind("hooks/g.wasm", b"one")), 1000) != first
    changed = offer_kind("hooks/h.wasm", b"one")
    changed["spec"]["versions"][1]["schema"]["required"] = ["title"]
    assert cache.context(registry(changed), 1000) != first


def test_conversion_failures_are_not_cached() -> None:
    """A hook failure depends on the module file of the commit (missing, other bytes), not
    only on the definitions: it is prepared again next time."""
    cache = PreparedCache(1 << 20)
    ctx = cache.context(REGISTRY, 1 << 20)
    error = ContentError("offers/a.yaml", "apiVersion", "conversion", "hook failed")
    failed = Prepared("offers/a.yaml", "d" * 40, None, (error,))
    good = prepared("p")
    cache.put_many(ctx, REPO, [failed, good])
    assert cache.get_many(ctx, REPO, keys(failed, good)) == [None, good]
