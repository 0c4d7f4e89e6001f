"""Loading the demo catalogue into a running API, as an ordinary GraphQL client.

The steps ``gitstore demo`` takes (each one idempotent, so a rerun is safe and cheap):

1. log in (or use a given token);
2. ``createNamespace`` (ORGANISATION) and ``createRepository`` (PUBLIC, ``ON_COMMIT``): an
   ``ALREADY_EXISTS`` answer means "reuse it";
3. ``applyManifests`` in batches (default 100 manifests, and at most ~700 KB of JSON so a
   request stays under the API's 1 MiB body limit), one commit each. Every batch carries an
   ``idempotencyKey`` derived from its content (``gitstore-demo-<sha256>``): a rerun replays
   the stored answers instead of committing again, and a different ``--products`` count never
   reuses a key with other input. Even without the key an identical upsert makes no commit.
   A batch that fails with ``UNAVAILABLE`` or ``ABORTED`` is retried with the same key;
4. the last batch asks ``waitForIndex``; while its answer is still ``PENDING`` it is sent
   again (a replay, which waits again) until ``index_timeout`` has passed.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from gitstore.domain.errors import Aborted, AlreadyExists, Unavailable

from .graphql_client import GraphQLClient, raise_user_errors

_ERRORS = "userErrors { field message code }"
LOGIN = f"mutation($i: LoginInput!) {{ login(input: $i) {{ token {_ERRORS} }} }}"
CREATE_NAMESPACE = (
    "mutation($i: CreateNamespaceInput!) { createNamespace(input: $i) "
    f"{{ namespace {{ identifier }} {_ERRORS} }} }}"
)
CREATE_REPOSITORY = (
    "mutation($i: CreateRepositoryInput!) { createRepository(input: $i) "
    f"{{ repository {{ fullName visibility }} {_ERRORS} }} }}"
)
REPOSITORY = "query($n: String!) { repository(by: {fullName: $n}) { fullName visibility } }"
APPLY = (
    "mutation($i: ApplyManifestsInput!) { applyManifests(input: $i) { commit committed "
    f"replayed changes {{ changeType }} indexing {{ state }} {_ERRORS} }} }}"
)
MAX_BATCH_BYTES = 700 * 1024
RETRIES = 3


@dataclass(frozen=True, slots=True)
class BatchResult:
    number: int
    total: int
    manifests: int
    commit: str | None
    committed: bool
    replayed: bool
    changes: Counter[str]
    indexing: str | None


@dataclass
class LoadResult:
    batches: list[BatchResult] = field(default_factory=list)
    indexed: bool = False

    @property
    def commits(self) -> int:
        return sum(1 for b in self.batches if b.committed and not b.replayed)

    @property
    def head(self) -> str | None:
        return self.batches[-1].commit if self.batches else None

    def changes(self) -> Counter[str]:
        total: Counter[str] = Counter()
        for batch in self.batches:
            total.update(batch.changes)
        return total


def login(client: GraphQLClient, username: str, password: str) -> str:
    data = client.execute(LOGIN, {"i": {"username": username, "password": password}})
    payload = data["login"]
    raise_user_errors(payload, f"login as {username!r} failed")
    token: str = payload["token"]
    return token


def ensure_namespace(client: GraphQLClient, identifier: str) -> bool:
    """Create the namespace; False if it already existed."""
    data = client.execute(
        CREATE_NAMESPACE,
        {"i": {"identifier": identifier, "tier": "ORGANISATION", "displayName": "Demo"}},
    )
    try:
        raise_user_errors(data["createNamespace"], f"cannot create namespace {identifier!r}")
    except AlreadyExists:
        return False
    return True


def ensure_repository(client: GraphQLClient, full_name: str) -> tuple[bool, bool]:
    """Create the repository (public, publish on commit); (created, public)."""
    namespace, _, name = full_name.partition("/")
    data = client.execute(
        CREATE_REPOSITORY,
        {
            "i": {
                "namespace": namespace,
                "name": name,
                "description": "GitStore demo catalogue (gitstore demo)",
                "publishMode": "ON_COMMIT",
                "visibility": "PUBLIC",
            }
        },
    )
    payload = data["createRepository"]
    try:
        raise_user_errors(payload, f"cannot create repository {full_name!r}")
    except AlreadyExists:
        found = client.execute(REPOSITORY, {"n": full_name})["repository"] or {}
        return False, found.get("visibility") == "PUBLIC"
    return True, payload["repository"]["visibility"] == "PUBLIC"


def batches(
    inputs: Sequence[dict[str, Any]], size: int, max_bytes: int = MAX_BATCH_BYTES
) -> list[list[dict[str, Any]]]:
    """Consecutive runs of at most ``size`` manifests and about ``max_bytes`` of JSON."""
    out: list[list[dict[str, Any]]] = []
    current: list[dict[str, Any]] = []
    used = 0
    for item in inputs:
        weight = len(json.dumps(item, separators=(",", ":")))
        if current and (len(current) >= size or used + weight > max_bytes):
            out.append(current)
            current, used = [], 0
        current.append(item)
        used += weight
    if current:
        out.append(current)
    return out


def describe(batch: Sequence[dict[str, Any]]) -> str:
    """The commit message of a batch: ``gitstore demo: 100 products`` (content-derived)."""
    kinds = Counter(item["manifest"]["kind"] for item in batch)
    parts = [f"{count} {kind.lower()}{'s' if count != 1 else ''}" for kind, count in kinds.items()]
    return "gitstore demo: " + ", ".join(parts).replace("categorys", "categories")


def idempotency_key(repository: str, message: str, batch: Sequence[dict[str, Any]]) -> str:
    canonical = json.dumps(
        {"repository": repository, "message": message, "manifests": list(batch)},
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
    )
    return "gitstore-demo-" + hashlib.sha256(canonical.encode()).hexdigest()[:40]


def apply_batch(
    client: GraphQLClient,
    repository: str,
    batch: Sequence[dict[str, Any]],
    *,
    number: int,
    total: int,
    wait: bool = False,
    index_timeout: float = 60.0,
) -> BatchResult:
    message = describe(batch)
    variables = {
        "i": {
            "repository": repository,
            "manifests": list(batch),
            "message": message,
            "idempotencyKey": idempotency_key(repository, message, batch),
            "waitForIndex": wait,
            "indexTimeout": min(max(index_timeout, 1.0), 60.0),
        }
    }
    for attempt in range(1, RETRIES + 1):
        try:
            payload = client.execute(APPLY, variables)["applyManifests"]
            break
        except (Unavailable, Aborted):
            if attempt == RETRIES:
                raise
            time.sleep(0.5 * attempt)
    raise_user_errors(payload, f"batch {number}/{total} was refused")
    return BatchResult(
        number=number,
        total=total,
        manifests=len(batch),
        commit=payload["commit"],
        committed=bool(payload["committed"]),
        replayed=bool(payload["replayed"]),
        changes=Counter(c["changeType"] for c in payload["changes"] or []),
        indexing=(payload.get("indexing") or {}).get("state"),
    )


def load(
    client: GraphQLClient,
    repository: str,
    inputs: Sequence[dict[str, Any]],
    *,
    batch_size: int = 100,
    index_timeout: float = 120.0,
    on_batch: Callable[[BatchResult], None] | None = None,
) -> LoadResult:
    """Apply every manifest in batches, then wait until the last commit is indexed."""
    runs = batches(inputs, batch_size)
    result = LoadResult()
    for number, batch in enumerate(runs, start=1):
        last = number == len(runs)
        deadline = time.monotonic() + index_timeout
        outcome = apply_batch(
            client,
            repository,
            batch,
            number=number,
            total=len(runs),
            wait=last,
            index_timeout=index_timeout,
        )
        while last and outcome.indexing != "INDEXED" and time.monotonic() < deadline:
            again = apply_batch(  # a replay: same key, same input; it waits again
                client,
                repository,
                batch,
                number=number,
                total=len(runs),
                wait=True,
                index_timeout=deadline - time.monotonic(),
            )
            outcome = replace(outcome, indexing=again.indexing)
        result.batches.append(outcome)
        if on_batch is not None:
            on_batch(outcome)
    result.indexed = bool(result.batches) and result.batches[-1].indexing == "INDEXED"
    return result
