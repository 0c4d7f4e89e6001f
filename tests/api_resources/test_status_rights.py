"""The remembered status-write right (``api.resources.access.StatusRights``) over a real API:
a grant is reused, and a role change made through this process takes it away at once even
with a long cache time (the metadata store's rights epoch)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from gitstore.domain.resources.model import SpecUpsert
from tests.api_releases.ops import add_member, make_repository
from tests.catalog_writes.harness import Stack, start_stack
from tests.support.graphql_ops import error_of, mutate, ok, person

UPDATE = """
mutation($input: UpdateProductStatusInput!) {
  updateProductStatus(input: $input) {
    resource { resourceVersion } userErrors { code message }
  }
}"""


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    data = tmp_path_factory.mktemp("rights")
    with start_stack(data, **{"resources.rights_cache_seconds": 300}) as running:
        yield running


def test_a_role_change_takes_the_remembered_right_away_at_once(stack: Stack) -> None:
    owner, maintainer = person(stack.api), person(stack.api)
    repo = make_repository(stack.api, owner, publish_mode="ON_COMMIT", organisation=True)
    store = stack.api.services.resources()
    upsert = SpecUpsert("Product", "a", "gitstore.dev/v1", {"title": "A"})
    version = stack.api.run(store.apply_commit(repo, "seed", [upsert], [])).version
    add_member(stack.api, owner, repo, maintainer, "MAINTAINER")
    rights = stack.api.services.status_rights

    def write(n: int) -> dict[str, object]:
        variables = {"repository": repo, "name": "a", "resourceVersion": str(version)}
        return mutate(stack.api, UPDATE, {**variables, "status": {"n": n}}, maintainer.token)

    for n in range(3):
        version = int(ok(write(n))["resource"]["resourceVersion"])  # type: ignore[index]
    assert len(rights) == 1  # granted once, remembered
    add_member(stack.api, owner, repo, maintainer, "WRITER")  # demoted: no status right
    denied = error_of(write(9))
    assert denied["code"] == "PERMISSION_DENIED"
    assert len(rights) == 0
