"""Namespaces over HTTP: identifiers, lookups, pagination, parent enterprises, updates, audit."""

from __future__ import annotations

import base64
from collections.abc import Callable

import pytest

from gitstore.api.graphql.relay import encode_global_id

from .harness import Stack
from .ops import (
    CREATE_NAMESPACE,
    DELETE_NAMESPACE,
    UPDATE_NAMESPACE,
    People,
    add_member,
    call,
    create_namespace,
    error_of,
    make_people,
    mutate,
    ok,
    unique_name,
)

GET = """query Get($by: NamespaceBy!) {
  namespace(by: $by) { id identifier displayName tier parentEnterpriseId
                       parentEnterprise { identifier tier } }
}"""

PAGE = """query Page($first: Int, $after: String) {
  namespaces(first: $first, after: $after) {
    edges { cursor node { identifier } }
    nodes { identifier }
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
    totalCount
  }
}"""


# ---------------------------------------------------------------------- identifiers
@pytest.mark.parametrize(
    ("identifier", "problem"),
    [
        ("Acme", "lowercase"),
        ("a" * 64, "at most 63 characters (got 64)"),
        ("-acme", "must not start or end with a hyphen"),
        ("acme-", "must not start or end with a hyphen"),
        ("acmé", "lowercase letters a-z"),
        ("", "must not be empty"),
        ("acme_corp", "lowercase letters a-z, digits 0-9 and hyphens"),
    ],
)
def test_bad_identifiers_are_user_errors_naming_the_problem(
    stack: Stack, people: People, identifier: str, problem: str
) -> None:
    payload = mutate(
        stack.api,
        CREATE_NAMESPACE,
        {"identifier": identifier, "tier": "USER", "clientMutationId": "c1"},
        people.alice.token,
    )
    assert payload["namespace"] is None
    assert payload["clientMutationId"] == "c1"
    error = error_of(payload)
    assert error["code"] == "INVALID_ARGUMENT"
    assert error["field"] == "identifier"
    assert problem in error["message"]
    assert repr(identifier) in error["message"]


def test_a_63_character_identifier_is_fine(stack: Stack, people: People) -> None:
    identifier = "a" * 62 + "z"
    assert create_namespace(stack.api, people.alice.token, "USER", identifier)["identifier"] == (
        identifier
    )


def test_identifiers_are_unique_across_tiers(stack: Stack, people: People) -> None:
    name = unique_name("taken")
    create_namespace(stack.api, people.alice.token, "USER", name)
    for tier, person in (("ORGANISATION", people.bob), ("ENTERPRISE", people.admin)):
        error = error_of(
            mutate(stack.api, CREATE_NAMESPACE, {"identifier": name, "tier": tier}, person.token)
        )
        assert error["code"] == "ALREADY_EXISTS"
        assert error["field"] == "identifier"
        assert name in error["message"]


def test_an_organisation_creator_becomes_its_owner(stack: Stack, people: People) -> None:
    org = create_namespace(stack.api, people.bob.token, "ORGANISATION", displayName="Bob & Co")
    assert org["displayName"] == "Bob & Co"
    data = call(
        stack.api,
        "query($i: String!) { namespace(by: {identifier: $i}) { members { username role } } }",
        {"i": org["identifier"]},
        people.carol.token,
    )
    assert data["namespace"]["members"] == [{"username": people.bob.username, "role": "OWNER"}]


# ---------------------------------------------------------------------- lookups
def test_lookup_by_identifier_and_by_global_id_agree(stack: Stack, people: People) -> None:
    created = create_namespace(stack.api, people.alice.token)
    by_identifier = call(stack.api, GET, {"by": {"identifier": created["identifier"]}})
    by_id = call(stack.api, GET, {"by": {"id": created["id"]}})
    assert by_identifier == by_id
    assert by_id["namespace"]["identifier"] == created["identifier"]
    node = call(
        stack.api,
        "query($id: ID!) { node(id: $id) { id ... on Namespace { identifier } } }",
        {"id": created["id"]},
    )
    assert node["node"] == {"id": created["id"], "identifier": created["identifier"]}


def test_lookups_of_missing_namespaces_are_null(stack: Stack) -> None:
    missing_uuid = encode_global_id("Namespace", "00000000-0000-4000-8000-000000000000")
    assert call(stack.api, GET, {"by": {"identifier": "no-such-namespace"}}) == {"namespace": None}
    assert call(stack.api, GET, {"by": {"id": missing_uuid}}) == {"namespace": None}


@pytest.mark.parametrize(
    ("by", "field", "text"),
    [
        ({"identifier": "Bad_Name"}, "identifier", "not a valid DNS label"),
        ({}, "by", "exactly one of identifier or id"),
        ({"identifier": "a", "id": "b"}, "by", "exactly one of identifier or id"),
        ({"id": "not base64!"}, "id", "is not a global ID"),
        ({"id": encode_global_id("User", "x")}, "id", "is a User ID, not a Namespace ID"),
    ],
)
def test_bad_lookups_are_errors_naming_the_input(
    stack: Stack, by: dict[str, str], field: str, text: str
) -> None:
    response = stack.api.graphql(GET, {"by": by})
    assert response.status_code == 200
    body = response.json()
    assert body["data"] == {"namespace": None}
    (error,) = body["errors"]
    assert error["extensions"] == {"code": "INVALID_ARGUMENT", "field": field}
    assert text in error["message"]
    assert "Traceback" not in response.text


# ---------------------------------------------------------------------- pagination
def test_pagination_chains_end_cursors_across_pages(stack_factory: Callable[..., Stack]) -> None:
    stack = stack_factory()
    people = make_people(stack.api)
    names = [f"page-{i:02d}" for i in range(7)]
    for name in names:
        create_namespace(stack.api, people.alice.token, "USER", name)

    seen: list[str] = []
    after = None
    pages = []
    while True:
        page = call(stack.api, PAGE, {"first": 3, "after": after})["namespaces"]
        pages.append(page)
        assert page["totalCount"] == 7
        identifiers = [edge["node"]["identifier"] for edge in page["edges"]]
        assert identifiers == [node["identifier"] for node in page["nodes"]]
        assert page["pageInfo"]["hasPreviousPage"] is (after is not None)
        assert page["pageInfo"]["startCursor"] == page["edges"][0]["cursor"]
        assert page["pageInfo"]["endCursor"] == page["edges"][-1]["cursor"]
        seen += identifiers
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert [len(p["edges"]) for p in pages] == [3, 3, 1]
    assert seen == names  # oldest first, each exactly once

    # any edge's cursor resumes right after that edge
    middle = pages[0]["edges"][1]["cursor"]
    resumed = call(stack.api, PAGE, {"first": 2, "after": middle})["namespaces"]
    assert [n["identifier"] for n in resumed["nodes"]] == names[2:4]
    assert resumed["pageInfo"]["hasNextPage"] is True

    # a page past the end is empty, and says so
    tail = call(stack.api, PAGE, {"first": 3, "after": pages[-1]["pageInfo"]["endCursor"]})
    assert tail["namespaces"]["edges"] == []
    assert tail["namespaces"]["pageInfo"] == {
        "hasNextPage": False,
        "hasPreviousPage": True,
        "startCursor": None,
        "endCursor": None,
    }


@pytest.mark.parametrize(
    ("variables", "field", "text"),
    [
        ({"first": 0}, "first", "between 1 and 100"),
        ({"first": 101}, "first", "between 1 and 100"),
        ({"first": 2, "after": "bogus"}, "after", "not a cursor"),
        ({"first": 2, "after": base64.urlsafe_b64encode(b"p1|1|junk").decode()}, "after", ""),
    ],
)
def test_bad_page_arguments_are_errors_naming_them(
    stack: Stack, variables: dict[str, object], field: str, text: str
) -> None:
    body = stack.api.graphql(PAGE, variables).json()
    (error,) = body["errors"]
    assert error["extensions"]["code"] == "INVALID_ARGUMENT"
    assert error["extensions"]["field"] == field
    assert text in error["message"]


# ---------------------------------------------------------------------- parent enterprises
def test_parent_enterprise_rules(stack: Stack, people: People) -> None:
    api = stack.api
    enterprise = create_namespace(api, people.admin.token, "ENTERPRISE")
    ent = enterprise["identifier"]

    def org_with_parent(parent: str, token: str, tier: str = "ORGANISATION") -> dict[str, object]:
        return mutate(
            api,
            CREATE_NAMESPACE,
            {"identifier": unique_name("org"), "tier": tier, "parentEnterpriseId": parent},
            token,
        )

    # a stranger to the enterprise may not attach to it
    denied = error_of(org_with_parent(ent, people.alice.token))
    assert denied["code"] == "PERMISSION_DENIED"
    assert denied["field"] == "parentEnterpriseId"

    # a writer of the enterprise may, by identifier or by global ID
    add_member(api, people.admin.token, ent, people.alice.username, "WRITER")
    by_identifier = ok(org_with_parent(ent, people.alice.token))["namespace"]
    by_id = ok(org_with_parent(enterprise["id"], people.alice.token))["namespace"]
    for org in (by_identifier, by_id):
        assert org["parentEnterpriseId"] == enterprise["id"]
        found = call(api, GET, {"by": {"identifier": org["identifier"]}})["namespace"]
        assert found["parentEnterprise"] == {"identifier": ent, "tier": "ENTERPRISE"}

    # an admin may attach anywhere
    ok(org_with_parent(ent, people.admin.token))

    # the parent must exist and be an ENTERPRISE; only organisations have parents
    user_ns = create_namespace(api, people.alice.token, "USER")
    org_ns = create_namespace(api, people.alice.token, "ORGANISATION")
    cases = [
        (org_with_parent("no-such-enterprise", people.alice.token), "NOT_FOUND", "does not exist"),
        (
            org_with_parent(user_ns["identifier"], people.alice.token),
            "INVALID_ARGUMENT",
            "is a USER namespace, not an ENTERPRISE",
        ),
        (
            org_with_parent(org_ns["id"], people.alice.token),
            "INVALID_ARGUMENT",
            "is a ORGANISATION namespace, not an ENTERPRISE",
        ),
        (
            org_with_parent(ent, people.alice.token, "USER"),
            "INVALID_ARGUMENT",
            "only an ORGANISATION namespace may have a parent enterprise",
        ),
        (
            org_with_parent(ent, people.admin.token, "ENTERPRISE"),
            "INVALID_ARGUMENT",
            "only an ORGANISATION namespace may have a parent enterprise",
        ),
        (
            org_with_parent("Not A Label", people.alice.token),
            "INVALID_ARGUMENT",
            "is not a global ID",
        ),
        (
            org_with_parent(
                encode_global_id("Namespace", "00000000-0000-4000-8000-00000000000a"),
                people.alice.token,
            ),
            "NOT_FOUND",
            "does not exist",
        ),
    ]
    for payload, code, text in cases:
        error = error_of(payload)
        assert (error["code"], error["field"]) == (code, "parentEnterpriseId"), error
        assert text in error["message"]

    # an enterprise with organisations cannot be deleted
    refused = error_of(mutate(api, DELETE_NAMESPACE, {"identifier": ent}, people.admin.token))
    assert refused["code"] == "FAILED_PRECONDITION"
    assert "parent of 3 organisations" in refused["message"]


# ---------------------------------------------------------------------- update
def test_update_changes_the_display_name_and_records_who(stack: Stack, people: People) -> None:
    org = create_namespace(stack.api, people.bob.token, "ORGANISATION")
    payload = ok(
        mutate(
            stack.api,
            UPDATE_NAMESPACE,
            {
                "identifier": org["identifier"],
                "displayName": "  Bob's Shop  ",
                "clientMutationId": "u1",
            },
            people.bob.token,
        )
    )
    assert payload["clientMutationId"] == "u1"
    updated = payload["namespace"]
    assert updated["displayName"] == "Bob's Shop"
    assert updated["updatedBy"] == people.bob.username
    assert updated["updatedAt"] > updated["createdAt"]

    add_member(stack.api, people.bob.token, org["identifier"], people.carol.username, "MAINTAINER")
    by_maintainer = ok(
        mutate(
            stack.api,
            UPDATE_NAMESPACE,
            {"identifier": org["identifier"], "displayName": "Carol was here"},
            people.carol.token,
        )
    )
    assert by_maintainer["namespace"]["updatedBy"] == people.carol.username


@pytest.mark.parametrize(
    ("display_name", "text"),
    [
        ("", "must not be empty"),
        ("   ", "must not be empty"),
        ("x" * 201, "at most 200 characters"),
        ("a\nb", "control characters"),
    ],
)
def test_bad_display_names_are_user_errors(
    stack: Stack, people: People, display_name: str, text: str
) -> None:
    ns = create_namespace(stack.api, people.alice.token)
    error = error_of(
        mutate(
            stack.api,
            UPDATE_NAMESPACE,
            {"identifier": ns["identifier"], "displayName": display_name},
            people.alice.token,
        )
    )
    assert (error["code"], error["field"]) == ("INVALID_ARGUMENT", "displayName")
    assert text in error["message"]


def test_missing_namespaces_are_not_found_for_mutations(stack: Stack, people: People) -> None:
    for query, extra in ((UPDATE_NAMESPACE, {"displayName": "x"}), (DELETE_NAMESPACE, {})):
        error = error_of(
            mutate(stack.api, query, {"identifier": "nothing-here", **extra}, people.admin.token)
        )
        assert (error["code"], error["field"]) == ("NOT_FOUND", "identifier")
        assert "'nothing-here' does not exist" in error["message"]


# ---------------------------------------------------------------------- audit
def test_every_change_is_in_the_audit_log(stack: Stack, people: People) -> None:
    api = stack.api
    name = unique_name("audited")
    create_namespace(api, people.alice.token, "ORGANISATION", name)
    add_member(api, people.alice.token, name, people.bob.username, "READER")
    ok(mutate(api, UPDATE_NAMESPACE, {"identifier": name, "displayName": "A"}, people.alice.token))
    ok(mutate(api, DELETE_NAMESPACE, {"identifier": name}, people.alice.token))
    page = api.run(api.services.store.list_audit(first=50, target_prefix=name))
    entries = [(e.actor, e.action, e.target) for e in reversed(page.items)]
    alice = people.alice.username
    assert entries == [
        (alice, "namespace.create", name),
        (alice, "namespace.member.set", f"{name}/{people.bob.username}"),
        (alice, "namespace.update", name),
        (alice, "namespace.delete", name),
    ]
