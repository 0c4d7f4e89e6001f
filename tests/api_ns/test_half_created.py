"""No half-created repository: failures injected on either side of createRepository (and of
deleteRepository) leave both the metadata store and the git service as they were.

The real store and the real git client sit behind thin wrappers that fail on demand; the
last test drives the domain action directly to cancel it mid-create.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from gitstore.api.identity.principal import Principal
from gitstore.api.repositories.actions import RepositoryActions
from gitstore.backends.metadata.base import Tier
from gitstore.backends.metadata.memory import MemoryMetadataStore
from gitstore.domain.errors import Unavailable
from gitstore.git.client import GitServiceError

from .harness import Stack
from .ops import (
    CREATE_REPOSITORY,
    DELETE_REPOSITORY,
    create_namespace,
    create_repository,
    error_of,
    make_people,
    mutate,
    ok,
)


class Wrapper:
    """Delegates everything to ``inner`` except what a test overrides."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


class FlakyStore(Wrapper):
    def __init__(self, inner: Any) -> None:
        super().__init__(inner)
        self.fail_create = False
        self.delete_failures = 0
        self.delete_calls = 0

    async def create_repository(self, *args: Any, **kwargs: Any) -> Any:
        if self.fail_create:
            raise Unavailable("metadata store: connection lost (injected)")
        return await self.inner.create_repository(*args, **kwargs)

    async def delete_repository(self, repository_uuid: str) -> None:
        self.delete_calls += 1
        if self.delete_failures:
            self.delete_failures -= 1
            raise Unavailable("metadata store: busy (injected)")
        await self.inner.delete_repository(repository_uuid)


class FlakyGit(Wrapper):
    mode: str = ""  # "", "lost-answer", "internal", "delete-unavailable"

    async def create_repository(self, repository_id: str, **kwargs: Any) -> Any:
        if FlakyGit.mode == "internal":
            raise GitServiceError("git service: INTERNAL: disk on fire (injected)")
        created = await self.inner.create_repository(repository_id, **kwargs)
        if FlakyGit.mode == "lost-answer":
            raise Unavailable("deadline exceeded (injected, after the repository was made)")
        return created

    async def delete_repository(self, repository_id: str) -> None:
        if FlakyGit.mode == "delete-unavailable":
            raise Unavailable("git service unavailable (injected)")
        await self.inner.delete_repository(repository_id)


def record_of(stack: Stack, namespace: str, name: str) -> Any:
    store = stack.api.services.store
    return stack.api.run(store.get_repository_by_name(namespace, name))


def test_a_leftover_git_repository_is_already_exists_and_no_record(
    stack_factory: Callable[..., Stack],
) -> None:
    stack = stack_factory()
    people = make_people(stack.api)
    ns = create_namespace(stack.api, people.alice.token)["identifier"]
    stack.git_create(f"{ns}/ghost")
    error = error_of(
        mutate(stack.api, CREATE_REPOSITORY, {"namespace": ns, "name": "ghost"}, people.alice.token)
    )
    assert (error["code"], error["field"]) == ("ALREADY_EXISTS", "name")
    assert "already exists in the git service" in error["message"]
    assert record_of(stack, ns, "ghost") is None
    assert stack.git_repositories(ns) == [f"{ns}/ghost"]  # not ours: left alone


def test_a_metadata_failure_creates_nothing_in_git(stack_factory: Callable[..., Stack]) -> None:
    stores: list[FlakyStore] = []

    def wrap(store: Any) -> FlakyStore:
        stores.append(FlakyStore(store))
        return stores[-1]

    stack = stack_factory(store_wrapper=wrap)
    people = make_people(stack.api)
    ns = create_namespace(stack.api, people.alice.token)["identifier"]
    stores[0].fail_create = True
    response = stack.api.graphql(
        CREATE_REPOSITORY,
        {"input": {"namespace": ns, "name": "catalog"}},
        token=people.alice.token,
    )
    body = response.json()
    assert body["data"] is None
    assert body["errors"][0]["extensions"]["code"] == "UNAVAILABLE"
    assert "Traceback" not in response.text
    assert stack.git_repositories(ns) == []
    stores[0].fail_create = False
    create_repository(stack.api, people.alice.token, ns, "catalog")
    assert stack.git_repositories(ns) == [f"{ns}/catalog"]


def test_git_failures_remove_the_claim_and_anything_git_made(
    stack_factory: Callable[..., Stack],
) -> None:
    stores: list[FlakyStore] = []

    def wrap(store: Any) -> FlakyStore:
        stores.append(FlakyStore(store))
        return stores[-1]

    stack = stack_factory(store_wrapper=wrap, git_wrapper=FlakyGit)
    people = make_people(stack.api)
    ns = create_namespace(stack.api, people.alice.token)["identifier"]
    try:
        for mode, code in (("lost-answer", "UNAVAILABLE"), ("internal", "INTERNAL")):
            FlakyGit.mode = mode
            # the clean-up meets a busy store twice and retries
            stores[0].delete_failures = 2
            stores[0].delete_calls = 0
            response = stack.api.graphql(
                CREATE_REPOSITORY,
                {"input": {"namespace": ns, "name": "catalog"}},
                token=people.alice.token,
            )
            body = response.json()
            assert body["data"] is None
            assert body["errors"][0]["extensions"]["code"] == code
            assert "Traceback" not in response.text
            assert stores[0].delete_calls == 3
            assert record_of(stack, ns, "catalog") is None
            assert stack.git_repositories(ns) == []
        FlakyGit.mode = ""
        create_repository(stack.api, people.alice.token, ns, "catalog")
        assert stack.git_repositories(ns) == [f"{ns}/catalog"]
    finally:
        FlakyGit.mode = ""


def test_a_failed_git_delete_keeps_the_repository_whole(
    stack_factory: Callable[..., Stack],
) -> None:
    stack = stack_factory(git_wrapper=FlakyGit)
    people = make_people(stack.api)
    ns = create_namespace(stack.api, people.alice.token)["identifier"]
    create_repository(stack.api, people.alice.token, ns, "catalog")
    try:
        FlakyGit.mode = "delete-unavailable"
        body = stack.api.graphql(
            DELETE_REPOSITORY,
            {"input": {"namespace": ns, "name": "catalog"}},
            token=people.alice.token,
        ).json()
        assert body["errors"][0]["extensions"]["code"] == "UNAVAILABLE"
        assert record_of(stack, ns, "catalog") is not None
        assert stack.git_repositories(ns) == [f"{ns}/catalog"]
    finally:
        FlakyGit.mode = ""
    ok(
        mutate(
            stack.api, DELETE_REPOSITORY, {"namespace": ns, "name": "catalog"}, people.alice.token
        )
    )
    assert record_of(stack, ns, "catalog") is None
    assert stack.git_repositories(ns) == []


def test_delete_finishes_a_record_whose_git_repository_is_gone(
    stack_factory: Callable[..., Stack],
) -> None:
    import grpc

    from gitstore.git.v1 import git_service_pb2 as pb
    from gitstore.git.v1 import git_service_pb2_grpc as pb_grpc

    stack = stack_factory()
    people = make_people(stack.api)
    ns = create_namespace(stack.api, people.alice.token)["identifier"]
    create_repository(stack.api, people.alice.token, ns, "catalog")
    with grpc.insecure_channel(f"127.0.0.1:{stack.git.port}") as channel:
        pb_grpc.GitServiceStub(channel).DeleteRepository(
            pb.DeleteRepositoryRequest(repository_id=f"{ns}/catalog")
        )
    ok(
        mutate(
            stack.api, DELETE_REPOSITORY, {"namespace": ns, "name": "catalog"}, people.alice.token
        )
    )
    assert record_of(stack, ns, "catalog") is None


class SlowGit:
    """A unit double: create blocks until released; records deletes."""

    def __init__(self) -> None:
        self.entered = asyncio.Event()
        self.release = asyncio.Event()
        self.deleted: list[str] = []

    async def create_repository(self, repository_id: str, **_kwargs: Any) -> None:
        self.entered.set()
        await self.release.wait()

    async def delete_repository(self, repository_id: str) -> None:
        await asyncio.sleep(0.01)  # the clean-up must survive the caller's cancellation
        self.deleted.append(repository_id)


async def test_a_cancelled_create_still_cleans_up() -> None:
    store = MemoryMetadataStore()
    await store.migrate()
    user = await store.create_user("alice", "x", is_admin=False)
    alice = Principal(user.id, "alice", False, frozenset({"read", "write"}), "jwt", "j")
    namespace = await store.create_namespace(
        "acme", Tier.USER, display_name="acme", parent_enterprise_id=None, created_by="alice"
    )
    git = SlowGit()
    actions = RepositoryActions(store, lambda: git)
    task = asyncio.create_task(actions.create(alice, "acme", "catalog"))
    await git.entered.wait()
    assert await store.get_repository_by_name("acme", "catalog") is not None  # claimed
    task.cancel()
    try:
        await task
    except asyncio.CancelledError:
        pass
    else:  # pragma: no cover - the create must not complete
        raise AssertionError("the create finished despite the cancellation")
    assert git.deleted == ["acme/catalog"]
    assert await store.get_repository_by_name("acme", "catalog") is None
    assert (await store.list_repositories(namespace.id, first=10)).total_count == 0
    await store.close()
