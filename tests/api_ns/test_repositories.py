"""Repositories over HTTP with a real git service: create/delete on both sides, lookups,
visibility, lists, updates and the namespace deletion guard."""

from __future__ import annotations

import pytest

from .harness import Stack
from .ops import (
    CREATE_REPOSITORY,
    DELETE_NAMESPACE,
    DELETE_REPOSITORY,
    UPDATE_REPOSITORY,
    People,
    call,
    create_namespace,
    create_repository,
    error_of,
    mutate,
    ok,
    unique_name,
)

REPO = """query Repo($by: RepositoryBy!) {
  repository(by: $by) { id name fullName visibility namespace { identifier } }
}"""

NS_REPOS = """query NsRepos($i: String!, $first: Int, $after: String) {
  namespace(by: {identifier: $i}) {
    repositories(first: $first, after: $after) {
      nodes { name visibility }
      edges { cursor }
      pageInfo { hasNextPage endCursor }
      totalCount
    }
  }
}"""

ROOT_REPOS = """query Repos($ns: String!, $first: Int, $after: String) {
  repositories(namespace: $ns, first: $first, after: $after) {
    nodes { name } pageInfo { hasNextPage endCursor } totalCount
  }
}"""


def test_create_makes_the_bare_repository_and_records_it(stack: Stack, people: People) -> None:
    ns = create_namespace(stack.api, people.alice.token)["identifier"]
    payload = ok(
        mutate(
            stack.api,
            CREATE_REPOSITORY,
            {"namespace": ns, "name": "catalog", "clientMutationId": "r1"},
            people.alice.token,
        )
    )
    assert payload["clientMutationId"] == "r1"
    repo = payload["repository"]
    assert repo == {
        "id": repo["id"],
        "name": "catalog",
        "fullName": f"{ns}/catalog",
        "description": "",
        "publishMode": "ON_COMMIT",
        "defaultBranch": "main",
        "visibility": "PRIVATE",
        "createdBy": people.alice.username,
        "namespace": {"identifier": ns},
    }
    assert stack.git_repositories(ns) == [f"{ns}/catalog"]

    settings = ok(
        mutate(
            stack.api,
            CREATE_REPOSITORY,
            {
                "namespace": ns,
                "name": "drafts",
                "description": "Spring range",
                "publishMode": "ON_RELEASE_TAG",
                "defaultBranch": "develop",
                "visibility": "PUBLIC",
            },
            people.alice.token,
        )
    )["repository"]
    assert (settings["publishMode"], settings["defaultBranch"], settings["visibility"]) == (
        "ON_RELEASE_TAG",
        "develop",
        "PUBLIC",
    )
    assert stack.git_repositories(ns) == [f"{ns}/catalog", f"{ns}/drafts"]


@pytest.mark.parametrize(
    ("extra", "field", "code", "text"),
    [
        ({"name": "Bad_Name"}, "name", "INVALID_ARGUMENT", "not a valid DNS label"),
        ({"name": "x" * 64}, "name", "INVALID_ARGUMENT", "at most 63"),
        ({"defaultBranch": "bad..branch"}, "defaultBranch", "INVALID_ARGUMENT", "branch"),
        # passes the store's plausibility check, refused by git itself (after the claim)
        ({"defaultBranch": "a/.hidden"}, "defaultBranch", "INVALID_ARGUMENT", "git ref name"),
        ({"description": "x" * 1025}, "description", "INVALID_ARGUMENT", "at most 1024"),
        ({"namespace": "no-such-ns"}, "namespace", "NOT_FOUND", "does not exist"),
    ],
)
def test_bad_repository_input_creates_nothing_anywhere(
    stack: Stack, people: People, extra: dict[str, str], field: str, code: str, text: str
) -> None:
    ns = create_namespace(stack.api, people.alice.token)["identifier"]
    name = unique_name("bad")
    request = {"namespace": ns, "name": name, **extra}
    error = error_of(mutate(stack.api, CREATE_REPOSITORY, request, people.alice.token))
    assert (error["code"], error["field"]) == (code, field), error
    assert text in error["message"]
    assert stack.git_repositories(ns) == []
    repos = call(stack.api, NS_REPOS, {"i": ns}, people.alice.token)["namespace"]["repositories"]
    assert repos["totalCount"] == 0


def test_enterprises_own_no_repositories(stack: Stack, people: People) -> None:
    ent = create_namespace(stack.api, people.admin.token, "ENTERPRISE")["identifier"]
    error = error_of(
        mutate(stack.api, CREATE_REPOSITORY, {"namespace": ent, "name": "x"}, people.admin.token)
    )
    assert (error["code"], error["field"]) == ("FAILED_PRECONDITION", "namespace")
    assert "owns no repositories" in error["message"]


def test_a_taken_name_is_already_exists_and_git_is_untouched(stack: Stack, people: People) -> None:
    ns = create_namespace(stack.api, people.alice.token)["identifier"]
    create_repository(stack.api, people.alice.token, ns, "catalog")
    error = error_of(
        mutate(
            stack.api, CREATE_REPOSITORY, {"namespace": ns, "name": "catalog"}, people.alice.token
        )
    )
    assert (error["code"], error["field"]) == ("ALREADY_EXISTS", "name")
    assert stack.git_repositories(ns) == [f"{ns}/catalog"]


def test_delete_removes_both_sides(stack: Stack, people: People) -> None:
    ns = create_namespace(stack.api, people.alice.token)["identifier"]
    repo = create_repository(stack.api, people.alice.token, ns, "catalog")
    payload = ok(
        mutate(
            stack.api,
            DELETE_REPOSITORY,
            {"namespace": ns, "name": "catalog", "clientMutationId": "d1"},
            people.alice.token,
        )
    )
    assert payload == {
        "clientMutationId": "d1",
        "deletedFullName": f"{ns}/catalog",
        "deletedRepositoryId": repo["id"],
        "userErrors": [],
    }
    assert stack.git_repositories(ns) == []
    assert call(stack.api, REPO, {"by": {"id": repo["id"]}}, people.admin.token) == {
        "repository": None
    }
    again = error_of(
        mutate(
            stack.api, DELETE_REPOSITORY, {"namespace": ns, "name": "catalog"}, people.alice.token
        )
    )
    assert (again["code"], again["field"]) == ("NOT_FOUND", "name")
    # the name is free again, on both sides
    create_repository(stack.api, people.alice.token, ns, "catalog")
    assert stack.git_repositories(ns) == [f"{ns}/catalog"]


def test_the_deletion_guard_counts_repositories(stack: Stack, people: People) -> None:
    api, token = stack.api, people.alice.token
    ns = create_namespace(api, token, "ORGANISATION")["identifier"]
    for name in ("one", "two"):
        create_repository(api, token, ns, name)

    def delete_namespace() -> dict[str, object]:
        return mutate(api, DELETE_NAMESPACE, {"identifier": ns}, token)

    refused = error_of(delete_namespace())
    assert refused["code"] == "FAILED_PRECONDITION"
    assert f"namespace '{ns}' still holds 2 repositories" in refused["message"]
    ok(mutate(api, DELETE_REPOSITORY, {"namespace": ns, "name": "one"}, token))
    assert "still holds 1 repository;" in error_of(delete_namespace())["message"]
    # an admin is held by the guard too
    admin_refused = error_of(mutate(api, DELETE_NAMESPACE, {"identifier": ns}, people.admin.token))
    assert admin_refused["code"] == "FAILED_PRECONDITION"
    ok(mutate(api, DELETE_REPOSITORY, {"namespace": ns, "name": "two"}, token))
    assert ok(delete_namespace())["deletedIdentifier"] == ns
    assert stack.git_repositories(ns) == []


def test_lookups_by_id_by_name_and_by_full_name(stack: Stack, people: People) -> None:
    ns = create_namespace(stack.api, people.alice.token)["identifier"]
    repo = create_repository(stack.api, people.alice.token, ns, "catalog")
    expected = {
        "repository": {
            "id": repo["id"],
            "name": "catalog",
            "fullName": f"{ns}/catalog",
            "visibility": "PRIVATE",
            "namespace": {"identifier": ns},
        }
    }
    for by in (
        {"id": repo["id"]},
        {"namespace": ns, "name": "catalog"},
        {"fullName": f"{ns}/catalog"},
    ):
        assert call(stack.api, REPO, {"by": by}, people.alice.token) == expected
    node = call(
        stack.api,
        "query($id: ID!) { node(id: $id) { ... on Repository { fullName } } }",
        {"id": repo["id"]},
        people.alice.token,
    )
    assert node == {"node": {"fullName": f"{ns}/catalog"}}


@pytest.mark.parametrize(
    ("by", "field", "text"),
    [
        ({"namespace": "x"}, "by", "exactly one of"),
        ({"id": "x", "fullName": "a/b"}, "by", "exactly one of"),
        ({"fullName": "no-slash"}, "fullName", "<namespace>/<name>"),
        ({"fullName": "a/b/c"}, "fullName", "<namespace>/<name>"),
        ({"namespace": "ns", "name": "Bad"}, "name", "not a valid DNS label"),
    ],
)
def test_bad_repository_lookups_name_the_input(
    stack: Stack, by: dict[str, str], field: str, text: str
) -> None:
    body = stack.api.graphql(REPO, {"by": by}).json()
    assert body["data"] == {"repository": None}
    (error,) = body["errors"]
    assert error["extensions"] == {"code": "INVALID_ARGUMENT", "field": field}
    assert text in error["message"]


def test_private_repositories_are_invisible_to_others(stack: Stack, people: People) -> None:
    api = stack.api
    ns = create_namespace(api, people.alice.token)["identifier"]
    for index in range(5):
        create_repository(
            api,
            people.alice.token,
            ns,
            f"r{index}",
            visibility="PUBLIC" if index % 2 else "PRIVATE",
        )
    private = create_repository(api, people.alice.token, ns, "secret")

    for token in (None, people.bob.token):
        assert call(api, REPO, {"by": {"id": private["id"]}}, token) == {"repository": None}
        assert call(api, REPO, {"by": {"fullName": f"{ns}/secret"}}, token) == {"repository": None}
    assert (
        call(api, REPO, {"by": {"fullName": f"{ns}/secret"}}, people.admin.token)["repository"][
            "name"
        ]
        == "secret"
    )

    # the owner pages through all six; bob only through the public two, one per page
    mine = call(api, NS_REPOS, {"i": ns, "first": 4}, people.alice.token)
    assert mine["namespace"]["repositories"]["totalCount"] == 6
    assert [n["name"] for n in mine["namespace"]["repositories"]["nodes"]] == [
        "r0",
        "r1",
        "r2",
        "r3",
    ]
    seen, after = [], None
    while True:
        page = call(api, NS_REPOS, {"i": ns, "first": 1, "after": after}, people.bob.token)
        repos = page["namespace"]["repositories"]
        assert repos["totalCount"] == 2
        seen += [(n["name"], n["visibility"]) for n in repos["nodes"]]
        if not repos["pageInfo"]["hasNextPage"]:
            break
        after = repos["pageInfo"]["endCursor"]
    assert seen == [("r1", "PUBLIC"), ("r3", "PUBLIC")]

    # the root field answers the same
    root = call(api, ROOT_REPOS, {"ns": ns, "first": 10})["repositories"]
    assert (root["totalCount"], [n["name"] for n in root["nodes"]]) == (2, ["r1", "r3"])
    missing = api.graphql(ROOT_REPOS, {"ns": "no-such-ns"}).json()
    assert missing["errors"][0]["extensions"] == {"code": "NOT_FOUND", "field": "namespace"}


def test_update_changes_settings_and_keeps_the_rest(stack: Stack, people: People) -> None:
    ns = create_namespace(stack.api, people.alice.token)["identifier"]
    create_repository(stack.api, people.alice.token, ns, "catalog", description="old")
    updated = ok(
        mutate(
            stack.api,
            UPDATE_REPOSITORY,
            {
                "namespace": ns,
                "name": "catalog",
                "publishMode": "ON_RELEASE_TAG",
                "visibility": "PUBLIC",
            },
            people.alice.token,
        )
    )["repository"]
    assert updated == {
        "fullName": f"{ns}/catalog",
        "description": "old",
        "publishMode": "ON_RELEASE_TAG",
        "defaultBranch": "main",
        "visibility": "PUBLIC",
        "updatedBy": people.alice.username,
    }
    again = ok(
        mutate(
            stack.api,
            UPDATE_REPOSITORY,
            {"namespace": ns, "name": "catalog", "description": "new", "defaultBranch": "live"},
            people.admin.token,
        )
    )["repository"]
    assert (again["description"], again["defaultBranch"], again["updatedBy"]) == (
        "new",
        "live",
        people.admin.username,
    )
    bad = error_of(
        mutate(
            stack.api,
            UPDATE_REPOSITORY,
            {"namespace": ns, "name": "catalog", "defaultBranch": "x..y"},
            people.alice.token,
        )
    )
    assert (bad["code"], bad["field"]) == ("INVALID_ARGUMENT", "defaultBranch")


def test_repository_changes_are_audited(stack: Stack, people: People) -> None:
    api = stack.api
    ns = create_namespace(api, people.alice.token)["identifier"]
    create_repository(api, people.alice.token, ns, "catalog")
    ok(
        mutate(
            api,
            UPDATE_REPOSITORY,
            {"namespace": ns, "name": "catalog", "description": "d"},
            people.alice.token,
        )
    )
    ok(mutate(api, DELETE_REPOSITORY, {"namespace": ns, "name": "catalog"}, people.alice.token))
    page = api.run(api.services.store.list_audit(first=10, target_prefix=f"{ns}/"))
    assert [(e.action, e.target, e.actor) for e in reversed(page.items)] == [
        ("repository.create", f"{ns}/catalog", people.alice.username),
        ("repository.update", f"{ns}/catalog", people.alice.username),
        ("repository.delete", f"{ns}/catalog", people.alice.username),
    ]
