"""Races: concurrent writers, concurrent expectedVersion checks, a lost commit answer."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import httpx

from gitstore.api.catalog.writes.result import git_blob_id
from gitstore.domain.errors import Unavailable
from gitstore.git.client import GitClient

from .harness import Stack
from .ops import (
    UPSERT_PRODUCT,
    Person,
    fan,
    make_repository,
    ok,
    person,
    product_spec,
    upsert_product,
)


def race(stack: Stack, token: str, inputs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Post one upsertProduct per input at the same moment; return the payloads."""
    answers: list[dict[str, Any]] = []
    failures: list[BaseException] = []
    start = threading.Barrier(len(inputs))
    lock = threading.Lock()

    def post(variables: dict[str, Any]) -> None:
        try:
            with httpx.Client(base_url=stack.api.base_url, timeout=60) as client:
                start.wait()
                response = client.post(
                    "/graphql",
                    json={"query": UPSERT_PRODUCT, "variables": {"input": variables}},
                    headers={"Authorization": f"Bearer {token}"},
                )
            with lock:
                answers.append(response.json()["data"]["upsertProduct"])
        except BaseException as exc:  # reported below
            with lock:
                failures.append(exc)

    threads = [threading.Thread(target=post, args=(i,)) for i in inputs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert not failures, failures
    return answers


def test_concurrent_writers_all_land(stack: Stack, owner: Person, repo: str) -> None:
    inputs = [
        {"repository": repo, "name": f"p-{i}", "spec": product_spec(title=f"P {i}")}
        for i in range(10)
    ]
    answers = race(stack, owner.token, inputs)
    assert all(a["userErrors"] == [] for a in answers), answers
    assert stack.commit_count(repo) == 10
    assert sorted(stack.files(repo)) == sorted(fan(f"products/p-{i}.yaml") for i in range(10))
    # every answer names its own commit, and each commit holds exactly its product
    for answer in answers:
        (change,) = answer["changes"]
        touched = stack.run_git(repo, "show", "--name-only", "--format=", answer["commit"])
        assert [p for p in touched.split() if p != ".gitstore/layout"] == [change["path"]]


def test_concurrent_edits_with_one_expected_version_one_wins(
    stack: Stack, owner: Person, repo: str
) -> None:
    base = ok(upsert_product(stack.api, owner.token, repo, "p"))["commit"]
    inputs = [
        {
            "repository": repo,
            "name": "p",
            "spec": product_spec(title=f"Edit {i}"),
            "expectedVersion": base,
        }
        for i in range(6)
    ]
    answers = race(stack, owner.token, inputs)
    winners = [a for a in answers if a["userErrors"] == []]
    losers = [a for a in answers if a["userErrors"]]
    assert len(winners) == 1, answers
    assert all(a["userErrors"][0]["code"] == "CONFLICT" for a in losers)
    assert stack.commit_count(repo) == 2
    assert stack.git_head(repo) == winners[0]["commit"]


class LostAnswerGit:
    """The real client, except that CommitFiles' answer is lost after the commit landed."""

    lose_next = False

    def __init__(self, inner: GitClient) -> None:
        self.inner = inner

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    async def commit_files(self, request: Any, **kwargs: Any) -> Any:
        response = await self.inner.commit_files(request, **kwargs)
        if LostAnswerGit.lose_next:
            LostAnswerGit.lose_next = False
            raise Unavailable("deadline exceeded (injected, after the commit landed)")
        return response


def test_a_lost_commit_answer_is_recovered(stack_factory: Callable[..., Stack]) -> None:
    flaky = stack_factory(git_wrapper=LostAnswerGit)
    owner = person(flaky.api)
    repo = make_repository(flaky.api, owner)
    LostAnswerGit.lose_next = True
    payload = ok(upsert_product(flaky.api, owner.token, repo, "p", idempotencyKey="lost-1"))
    assert payload["commit"] == flaky.git_head(repo) and payload["committed"] is True
    again = ok(upsert_product(flaky.api, owner.token, repo, "p", idempotencyKey="lost-1"))
    assert again["replayed"] is True and again["commit"] == payload["commit"]
    assert flaky.commit_count(repo) == 1
    # the recovered answer's documents carry the blob id git gave the file
    blob = flaky.run_git(repo, "rev-parse", "refs/heads/main:" + fan("products/p.yaml")).strip()
    assert git_blob_id(flaky.git_show(repo, fan("products/p.yaml"))) == blob


def retries_so_far(stack: Stack) -> float:
    for line in stack.api.client.get("/metrics").text.splitlines():
        if line.startswith("gitstore_api_commit_retries_total "):
            return float(line.split()[1])
    return 0.0


def test_twenty_writers_on_distinct_products_all_succeed_without_retries(
    stack: Stack, owner: Person, repo: str
) -> None:
    """20 writers, each upserting its own product 4 times as fast as it can, all planned
    against heads that keep moving: every request succeeds at the first try (the git service
    applies each commit onto the newer head since no path it depends on changed), every
    product ends at its writer's last version, and history is one line of 80 commits."""
    writers, rounds = 20, 4
    before = retries_so_far(stack)
    answers: dict[int, list[dict[str, Any]]] = {i: [] for i in range(writers)}
    failures: list[BaseException] = []
    start = threading.Barrier(writers)

    def writer(i: int) -> None:
        try:
            with httpx.Client(base_url=stack.api.base_url, timeout=60) as client:
                start.wait()
                for k in range(rounds):
                    variables = {
                        "repository": repo,
                        "name": f"w-{i}",
                        "spec": product_spec(title=f"W {i} v{k}"),
                    }
                    response = client.post(
                        "/graphql",
                        json={"query": UPSERT_PRODUCT, "variables": {"input": variables}},
                        headers={"Authorization": f"Bearer {owner.token}"},
                    )
                    answers[i].append(response.json()["data"]["upsertProduct"])
        except BaseException as exc:  # reported below
            failures.append(exc)

    threads = [threading.Thread(target=writer, args=(i,)) for i in range(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(300)
    assert not failures, failures
    every = [a for i in range(writers) for a in answers[i]]
    assert len(every) == writers * rounds
    assert all(a["userErrors"] == [] and a["committed"] for a in every), every
    assert retries_so_far(stack) == before  # nobody had to plan again
    assert stack.commit_count(repo) == writers * rounds
    parents = stack.run_git(repo, "rev-list", "--parents", "refs/heads/main").splitlines()
    assert all(len(line.split()) <= 2 for line in parents)  # linear
    assert {a["commit"] for a in every} == set(stack.run_git(repo, "rev-list", "main").split())
    for i in range(writers):
        content = stack.git_show(repo, fan(f"products/w-{i}.yaml")).decode()
        assert f"title: W {i} v{rounds - 1}\n" in content
        assert answers[i][-1]["product"]["title"] == f"W {i} v{rounds - 1}"


def test_concurrent_writers_of_one_product_all_land_in_turn(
    stack: Stack, owner: Person, repo: str
) -> None:
    """Same resource, no expectedVersion: the path precondition refuses all but one per head,
    the losers plan again at the new head; every write lands as its own commit."""
    ok(upsert_product(stack.api, owner.token, repo, "hot"))
    inputs = [
        {"repository": repo, "name": "hot", "spec": product_spec(title=f"Hot {i}")}
        for i in range(6)
    ]
    answers = race(stack, owner.token, inputs)
    assert all(a["userErrors"] == [] and a["committed"] for a in answers), answers
    assert stack.commit_count(repo) == 7
    last = stack.run_git(repo, "log", "-1", "--format=%H").strip()
    (final,) = [a for a in answers if a["commit"] == last]
    title = final["changes"][0]["diff"]
    assert stack.git_show(repo, fan("products/hot.yaml")).decode().count("title: Hot ") == 1
    assert title  # the winner of the last round reported its own diff
