"""The paginated resources list over the global /graphql (real API and git service, SQLite
resource store): pages in order, every page answering the first page's resourceVersion, a
change between pages listed as it is now and replayed by the store's feed from that version
(so a watch from it misses nothing), and clear errors for bad ``first``/``after``."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from gitstore.domain.resources.model import SpecUpsert
from tests.api_releases.ops import make_repository
from tests.catalog_writes.harness import Stack, start_stack
from tests.support.graphql_ops import Person, execute, mutate, ok, person

PAGE = """
query($repository: String!, $kind: String, $selector: String, $first: Int, $after: String) {
  resources(repository: $repository, kind: $kind, labelSelector: $selector,
            first: $first, after: $after) {
    resourceVersion
    items { name resourceVersion }
    pageInfo { hasNextPage endCursor }
  }
}"""
UPDATE = """
mutation($input: UpdateProductStatusInput!) {
  updateProductStatus(input: $input) { resource { resourceVersion } userErrors { code } }
}"""


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    with start_stack(tmp_path_factory.mktemp("paging")) as running:
        yield running


@pytest.fixture(scope="module")
def owner(stack: Stack) -> Person:
    return person(stack.api)


@pytest.fixture
def repo(stack: Stack, owner: Person) -> str:
    repository = make_repository(stack.api, owner, publish_mode="ON_COMMIT", organisation=True)
    upserts = [
        SpecUpsert("Product", f"p{n}", "gitstore.dev/v1", {"title": "t"}, {"odd": str(n % 2)})
        for n in range(7)
    ]
    store = stack.api.services.resources()
    stack.api.run(store.apply_commit(repository, "seed", upserts, []))
    return repository


def page(stack: Stack, token: str, **variables: Any) -> dict[str, Any]:
    listing = execute(stack.api, PAGE, variables, token)["resources"]
    assert isinstance(listing, dict)
    return listing


def errors(stack: Stack, token: str, **variables: Any) -> list[dict[str, Any]]:
    response = stack.api.graphql(PAGE, variables, token=token)
    found = response.json().get("errors")
    assert found, response.text
    return list(found)


def test_pages_keep_the_first_pages_version_and_miss_nothing(
    stack: Stack, owner: Person, repo: str
) -> None:
    one = page(stack, owner.token, repository=repo, kind="Product", first=3)
    listed_at = one["resourceVersion"]
    assert [i["name"] for i in one["items"]] == ["p0", "p1", "p2"]
    assert one["pageInfo"]["hasNextPage"] is True
    # p4 changes after the first page was read
    changed = mutate(
        stack.api,
        UPDATE,
        {"repository": repo, "name": "p4", "resourceVersion": "5", "status": {"seen": True}},
        owner.token,
    )
    new_version = ok(changed)["resource"]["resourceVersion"]
    assert int(new_version) > int(listed_at)
    after = one["pageInfo"]["endCursor"]
    two = page(stack, owner.token, repository=repo, kind="Product", first=3, after=after)
    assert two["resourceVersion"] == listed_at  # the list's version, not the current one
    assert [i["name"] for i in two["items"]] == ["p3", "p4", "p5"]
    assert two["items"][1]["resourceVersion"] == new_version  # listed as it is now
    three = page(
        stack,
        owner.token,
        repository=repo,
        kind="Product",
        first=3,
        after=two["pageInfo"]["endCursor"],
    )
    assert [i["name"] for i in three["items"]] == ["p6"]
    assert three["pageInfo"] == {"hasNextPage": False, "endCursor": None}
    # what a watch from the list's version is fed: the change between the pages is there
    store = stack.api.services.resources()
    replayed = stack.api.run(store.changes_since(repo, int(listed_at)))
    assert [(c.name, c.resource_version) for c in replayed] == [("p4", int(new_version))]


def test_selector_pages_and_the_whole_list_without_first(
    stack: Stack, owner: Person, repo: str
) -> None:
    names: list[str] = []
    after = None
    while True:
        got = page(stack, owner.token, repository=repo, selector="odd=1", first=2, after=after)
        names += [i["name"] for i in got["items"]]
        after = got["pageInfo"]["endCursor"]
        if after is None:
            break
    assert names == ["p1", "p3", "p5"]
    whole = page(stack, owner.token, repository=repo)
    assert len(whole["items"]) == 7 and whole["pageInfo"]["hasNextPage"] is False


def test_bad_first_and_after_are_invalid_argument(stack: Stack, owner: Person, repo: str) -> None:
    for first in (0, 1001):
        (error,) = errors(stack, owner.token, repository=repo, first=first)
        assert error["extensions"]["code"] == "INVALID_ARGUMENT" and "first" in error["message"]
    (error,) = errors(stack, owner.token, repository=repo, first=2, after="not-a-cursor")
    assert error["extensions"]["code"] == "INVALID_ARGUMENT"
    assert "not a cursor" in error["message"]
    cursor = page(stack, owner.token, repository=repo, first=2)["pageInfo"]["endCursor"]
    (error,) = errors(stack, owner.token, repository=repo, first=2, after=cursor, selector="odd=1")
    assert "another list" in error["message"]
