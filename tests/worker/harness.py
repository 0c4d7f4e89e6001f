"""Reusable pieces for worker (and end-to-end) tests: settings, manifests, commits, checks.

* ``make_settings(data_dir)``: embedded backends in ``data_dir`` (SQLite queue and KV), gRPC
  on a free port, fsync off (these tests never crash the git service).
* ``with_git_uri(settings, address)``: the same settings pointing clients at a running
  git service.
* ``product`` / ``category`` / ``collection``: manifests as plain data; ``encode`` /
  ``path_of`` turn them into file bytes and their conventional path.
* ``commit``: one CommitFiles through the async client (upserts and deletes by path);
  ``event_of``: the ``RefUpdateEvent`` the service publishes for such a commit.
* ``expected_documents``: what the KV must hold for a commit, computed independently from
  the tree (every valid manifest file, parsed again); ``kv_documents``: what it holds;
  ``assert_kv_matches_head``: the two are equal, document by document, and the head names
  the branch head with no claim left.
* ``wait_for_head``: poll the draft head until it names a commit (20 ms steps, deadline).
* ``FaultyKv``: a KV wrapper that fails or blocks a chosen ``apply`` call (crash injection).
"""

from __future__ import annotations

import asyncio
import re
import time
import uuid
from collections import defaultdict
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from gitstore.backends.kv import Batch, Document, KvStore
from gitstore.backends.kv.base import COPY_CHUNK, MAX_PAGE_SIZE, ApplyResult, CopyStep
from gitstore.config import Settings, load_settings
from gitstore.domain.content import (
    KindRegistry,
    Layout,
    Manifest,
    ManifestFormat,
    encode_manifest,
    identity_for_path,
    parse_manifest,
    path_for,
    validate_manifest,
)
from gitstore.domain.content.rules import matching_collections, rule_set
from gitstore.domain.events import ChangedPathInfo, RefUpdateEvent
from gitstore.domain.keys import ChannelScope
from gitstore.domain.projection import (
    DRAFT_VIEW,
    PROJECTION_KIND,
    PROJECTION_MARKER,
    document_indexes,
    document_kind,
    document_value,
    draft_view,
)
from gitstore.git.client import GitClient
from gitstore.git.v1 import git_service_pb2 as pb

REGISTRY = KindRegistry.builtin()
KV_KINDS = ("product", "category", "collection", "kinddefinition")
AUTHOR = pb.Signature(name="Test Author", email="author@example.com")
A = pb.ActionType


def make_settings(data_dir: Path, **extra: object) -> Settings:
    overrides: dict[str, object] = {
        "data_dir": str(data_dir),
        "grpc.port": 0,
        "git.fsync": False,
        "queue.ack_wait": 5.0,
    }
    overrides.update(extra)
    return load_settings(**overrides)


def with_git_uri(settings: Settings, address: str) -> Settings:
    data = settings.model_dump()
    data["git"]["grpc"]["uri"] = address
    return Settings.model_validate(data)


# ---------------------------------------------------------------------- manifests


def product(
    name: str,
    *,
    title: str | None = None,
    price: str = "10.00",
    currency: str = "EUR",
    categories: Iterable[str] = (),
    collections: Iterable[str] = (),
    status: str | None = None,
    handle: str | None = None,
    labels: Mapping[str, str] | None = None,
    **spec: Any,
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "title": title or name.replace("-", " ").title(),
        "price": {"amount": price, "currency": currency},
        **spec,
    }
    if categories:
        body["categories"] = list(categories)
    if collections:
        body["collections"] = list(collections)
    if status:
        body["status"] = status
    if handle:
        body["handle"] = handle
    metadata: dict[str, Any] = {"name": name}
    if labels:
        metadata["labels"] = dict(labels)
    return {"apiVersion": "gitstore.dev/v1", "kind": "Product", "metadata": metadata, "spec": body}


def category(name: str, *, title: str | None = None, parent: str | None = None) -> dict[str, Any]:
    spec: dict[str, Any] = {"title": title or name.title()}
    if parent:
        spec["parent"] = parent
    return {
        "apiVersion": "gitstore.dev/v1",
        "kind": "Category",
        "metadata": {"name": name},
        "spec": spec,
    }


def collection(
    name: str, *, title: str | None = None, products: Iterable[str] = ()
) -> dict[str, Any]:
    return {
        "apiVersion": "gitstore.dev/v1",
        "kind": "Collection",
        "metadata": {"name": name},
        "spec": {"title": title or name.title(), "products": list(products)},
    }


def encode(obj: Mapping[str, Any], fmt: ManifestFormat = ManifestFormat.YAML) -> bytes:
    manifest = Manifest.from_object(obj)
    return encode_manifest(manifest, fmt, schema=REGISTRY.schema_for(manifest))


def path_of(obj: Mapping[str, Any], fmt: ManifestFormat = ManifestFormat.YAML) -> str:
    return path_for(obj["kind"], obj["metadata"]["name"], fmt, REGISTRY, layout=Layout.FLAT)


def files_of(*objs: Mapping[str, Any]) -> dict[str, bytes]:
    """``{path: bytes}`` of manifests, for ``commit(upserts=...)``."""
    return {path_of(o): encode(o) for o in objs}


# ---------------------------------------------------------------------- git


async def create_repository(git: GitClient, repository: str = "acme/catalog") -> str:
    await git.create_repository(repository)
    return repository


async def commit(
    git: GitClient,
    repository: str,
    upserts: Mapping[str, bytes] | None = None,
    deletes: Iterable[str] = (),
    *,
    branch: str = "",
    message: str = "change",
    request_id: str = "",
    start_revision: str = "",
) -> pb.CommitFilesResponse:
    actions = [
        pb.CommitAction(action=A.ACTION_TYPE_UPSERT, path=path, content=content)
        for path, content in (upserts or {}).items()
    ]
    actions += [pb.CommitAction(action=A.ACTION_TYPE_DELETE, path=path) for path in deletes]
    request = pb.CommitFilesRequest(
        repository_id=repository,
        branch=branch,
        author=AUTHOR,
        message=message,
        actions=actions,
        trailers=pb.Trailers(actor="test", request_id=request_id or uuid.uuid4().hex),
        start_revision=start_revision,
    )
    return await git.commit_files(request, timeout=120)


def event_of(
    repository: str, response: pb.CommitFilesResponse, *, correlation_id: str = ""
) -> RefUpdateEvent:
    """The event the git service publishes for a CommitFiles answer."""
    return RefUpdateEvent(
        event_id=uuid.uuid4().hex,
        repository_id=repository,
        ref=f"refs/heads/{response.branch}"
        if not response.branch.startswith("refs/")
        else response.branch,
        old=response.old_head or "0" * 40,
        new=response.commit_sha,
        correlation_id=correlation_id,
        timestamp=time.time(),
        changed_paths=tuple(
            ChangedPathInfo(
                path=c.path,
                change_type=pb.ChangeType.Name(c.change_type).removeprefix("CHANGE_TYPE_"),
                old_blob_id=c.old_blob_id,
                new_blob_id=c.new_blob_id,
                old_path=c.old_path,
            )
            for c in response.changed_paths
        ),
    )


async def head_of(git: GitClient, repository: str) -> str:
    return (await git.resolve_revision(repository, "HEAD")).commit_sha


# ---------------------------------------------------------------------- expectations


async def expected_documents(
    git: GitClient, repository: str, revision: str
) -> dict[tuple[str, str], dict[str, Any]]:
    """The document values a projection of ``revision`` must hold, rebuilt from the tree."""
    request = pb.ListTreeRequest(repository_id=repository, revision=revision, recursive=True)
    paths = [
        e.path
        async for e in git.list_tree(request)
        if e.type == pb.ENTRY_TYPE_BLOB and _manifest_path(e.path)
    ]
    out: dict[tuple[str, str], dict[str, Any]] = {}
    for start in range(0, len(paths), 5000):
        blobs = git.get_blobs(
            pb.GetBlobsRequest(
                repository_id=repository, revision=revision, paths=paths[start : start + 5000]
            )
        )
        async for blob in blobs:
            manifest = parse_manifest(blob.content, blob.path)
            assert not validate_manifest(manifest, REGISTRY), f"{blob.path} is invalid"
            key = (document_kind(manifest.kind), manifest.name)
            assert key not in out, f"{key} twice in the tree"
            out[key] = document_value(
                api_version=manifest.api_version,
                kind=manifest.kind,
                name=manifest.name,
                spec=manifest.spec,
                labels=manifest.labels,
                annotations=manifest.annotations,
                path=blob.path,
                blob_id=blob.blob_id,
            )
    return out


def _manifest_path(path: str) -> bool:
    try:
        return identity_for_path(path, REGISTRY) is not None
    except Exception:
        return False


async def kv_documents(
    kv: KvStore, scope: ChannelScope, kinds: Iterable[str] = KV_KINDS
) -> dict[tuple[str, str], Document]:
    out: dict[tuple[str, str], Document] = {}
    for kind in kinds:
        after: str | None = None
        while True:
            page = await kv.list_documents(scope, kind, first=MAX_PAGE_SIZE, after=after)
            out.update(((kind, d.name), d) for d in page.items)
            if not page.has_next_page:
                break
            after = page.end_cursor
    return out


async def visible_draft(kv: KvStore, repository: str) -> ChannelScope:
    """The draft buffer readers see (``draft`` or ``draft-b``: ``worker/draft_switch.py``)."""
    return draft_view(await kv.resolve(repository, DRAFT_VIEW))


async def assert_kv_matches_head(kv: KvStore, git: GitClient, repository: str) -> str:
    """Every document of the draft readers see equals the branch head's file, and nothing
    else is there."""
    sha = await head_of(git, repository)
    scope = await visible_draft(kv, repository)
    head = await kv.head(scope)
    assert head is not None and head.version == sha, f"head {head} is not at {sha}"
    assert await kv.get(scope, PROJECTION_KIND, PROJECTION_MARKER) is None, "a claim is left"
    expected = await expected_documents(git, repository, sha)
    actual = await kv_documents(kv, scope)
    assert set(actual) == set(expected), (
        f"missing {sorted(set(expected) - set(actual))[:10]}, "
        f"extra {sorted(set(actual) - set(expected))[:10]}"
    )
    for key, value in expected.items():
        assert actual[key].value() == value, f"{key} differs"
        assert re.fullmatch(r"[0-9a-f]{40}", actual[key].version), actual[key].version
    await assert_indexes(kv, scope, expected)
    return sha


async def assert_indexes(
    kv: KvStore, scope: ChannelScope, expected: Mapping[tuple[str, str], Mapping[str, Any]]
) -> None:
    """Every index entry the expected documents imply is there, and no other name is."""
    want: dict[tuple[str, str, str], set[str]] = defaultdict(set)
    rule_sets = {
        name: rules
        for (kind, name), doc in expected.items()
        if kind == "collection" and (rules := rule_set(doc["spec"])) is not None
    }
    for (kind, name), doc in expected.items():
        for index, values in document_indexes(doc["kind"], name, doc["spec"]).items():
            for v in values:
                want[(kind, index, v)].add(name)
        if kind == "product":  # the rule-based collections it matches (worker/collections.py)
            status = doc["spec"].get("status", "draft")
            for matched in matching_collections(rule_sets, doc["spec"], name):
                want[(kind, "collection", matched)].add(name)
                want[(kind, "collection-status", f"{matched}|{status}")].add(name)
    handles = [k for k in want if k[1] == "handle"]
    checked = [k for k in want if k[1] != "handle"] + handles[:200]  # handles are 1:1
    for kind, index, value in checked:
        found: set[str] = set()
        after: str | None = None
        while True:
            page = await kv.lookup(scope, kind, index, value, first=MAX_PAGE_SIZE, after=after)
            found.update(d.name for d in page.items)
            if not page.has_next_page:
                break
            after = page.end_cursor
        assert found == want[(kind, index, value)], f"index {kind} {index}={value!r}"


async def wait_for_head(kv: KvStore, repository: str, sha: str, *, timeout: float = 30.0) -> None:
    """Poll until the draft readers see is at ``sha`` with no claim left."""
    deadline = time.monotonic() + timeout
    while True:
        scope = await visible_draft(kv, repository)
        head = await kv.head(scope)
        at = head is not None and head.version == sha
        if at and await kv.get(scope, PROJECTION_KIND, PROJECTION_MARKER) is None:
            return
        assert time.monotonic() < deadline, f"draft of {repository} not at {sha}: {head}"
        await asyncio.sleep(0.02)


async def wait_until(predicate: Any, *, timeout: float = 30.0, what: str = "condition") -> None:
    """Poll an async predicate (20 ms steps) until it is true."""
    deadline = time.monotonic() + timeout
    while not await predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.02)


# ---------------------------------------------------------------------- fault injection


class FaultyKv(KvStore):
    """Delegates to ``inner``; apply number ``fail_at`` (1-based) raises ``error``, or, with
    ``block_at``, waits for ``release`` before going on (``blocked`` is set meanwhile);
    ``copy_step`` number ``fail_copy_at`` raises ``error`` (a crash mid-copy)."""

    def __init__(
        self,
        inner: KvStore,
        *,
        fail_at: int | None = None,
        error: BaseException | None = None,
        block_at: int | None = None,
        fail_copy_at: int | None = None,
    ) -> None:
        self.inner = inner
        self.fail_at = fail_at
        self.fail_copy_at = fail_copy_at
        self.copies = 0  # copy_step calls
        self.copied = 0  # documents copied by them
        self.error = error or RuntimeError("injected crash")
        self.block_at = block_at
        self.applies = 0
        self.blocked = asyncio.Event()
        self.release = asyncio.Event()

    async def apply(self, batch: Batch) -> ApplyResult:
        self.applies += 1
        if self.applies == self.fail_at:
            raise self.error
        if self.applies == self.block_at:
            self.blocked.set()
            await self.release.wait()
        return await self.inner.apply(batch)

    async def copy_step(
        self,
        source: ChannelScope,
        target: ChannelScope,
        *,
        cursor: str,
        sequence: int,
        expected_head_sequence: int,
        unless_alias: str | None = None,
        keep_kind: str | None = None,
        limit: int = COPY_CHUNK,
    ) -> CopyStep:
        self.copies += 1
        if self.copies == self.fail_copy_at:
            raise self.error
        step = await self.inner.copy_step(
            source,
            target,
            cursor=cursor,
            sequence=sequence,
            expected_head_sequence=expected_head_sequence,
            unless_alias=unless_alias,
            keep_kind=keep_kind,
            limit=limit,
        )
        self.copied += step.copied
        return step

    async def set_alias(
        self,
        repository: str,
        alias: str,
        target: str | None,
        *,
        sequence: int,
        expected_target_version: str | None = None,
    ) -> bool:
        return await self.inner.set_alias(
            repository,
            alias,
            target,
            sequence=sequence,
            expected_target_version=expected_target_version,
        )

    async def prune_tombstones(self, scope: ChannelScope, *, below_sequence: int) -> int:
        return await self.inner.prune_tombstones(scope, below_sequence=below_sequence)

    async def drop_channel(self, scope: ChannelScope) -> None:
        await self.inner.drop_channel(scope)

    async def resolve(self, repository: str, channel: str) -> ChannelScope:
        return await self.inner.resolve(repository, channel)

    async def head(self, scope: ChannelScope) -> Any:
        return await self.inner.head(scope)

    async def get(self, scope: ChannelScope, kind: str, name: str) -> Document | None:
        return await self.inner.get(scope, kind, name)

    async def get_many(self, scope: ChannelScope, kind: str, names: Any) -> list[Document | None]:
        return await self.inner.get_many(scope, kind, names)

    async def list_documents(
        self, scope: ChannelScope, kind: str, *, first: int, after: str | None = None
    ) -> Any:
        return await self.inner.list_documents(scope, kind, first=first, after=after)

    async def lookup(
        self,
        scope: ChannelScope,
        kind: str,
        index: str,
        value: str,
        *,
        first: int,
        after: str | None = None,
    ) -> Any:
        return await self.inner.lookup(scope, kind, index, value, first=first, after=after)

    async def raw_bulk_set(self, pairs: Any) -> None:
        await self.inner.raw_bulk_set(pairs)

    async def raw_bulk_delete(self, keys: Any) -> None:
        await self.inner.raw_bulk_delete(keys)

    async def raw_get(self, key: str) -> bytes | None:
        return await self.inner.raw_get(key)

    async def ping(self) -> None:
        await self.inner.ping()

    async def close(self) -> None:
        """The inner store belongs to the caller."""
