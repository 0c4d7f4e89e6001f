"""Organisation membership: roles decide who reads, writes and administers repositories,
who manages members; the last owner stays."""

from __future__ import annotations

from typing import Any

import pytest

from .harness import Stack
from .ops import (
    ADD_MEMBER,
    CREATE_REPOSITORY,
    DELETE_REPOSITORY,
    REMOVE_MEMBER,
    UPDATE_REPOSITORY,
    People,
    add_member,
    call,
    create_namespace,
    create_repository,
    error_of,
    mutate,
    ok,
    unique_name,
)

MEMBERS = "query($i: String!) { namespace(by: {identifier: $i}) { members { username role } } }"
REPO = "query($f: String!) { repository(by: {fullName: $f}) { name } }"


def members(stack: Stack, identifier: str, token: str) -> list[dict[str, str]]:
    result = call(stack.api, MEMBERS, {"i": identifier}, token)["namespace"]["members"]
    assert isinstance(result, list)
    return result


def code_of(payload: dict[str, Any]) -> str:
    code = error_of(payload)["code"]
    assert isinstance(code, str)
    return code


@pytest.fixture
def org(stack: Stack, people: People) -> str:
    """alice's organisation: bob READER, carol WRITER."""
    identifier = create_namespace(stack.api, people.alice.token, "ORGANISATION")["identifier"]
    add_member(stack.api, people.alice.token, identifier, people.bob.username, "READER")
    add_member(stack.api, people.alice.token, identifier, people.carol.username, "WRITER")
    return identifier


def test_roles_decide_repository_rights(stack: Stack, people: People, org: str) -> None:
    api = stack.api
    bob, carol = people.bob, people.carol

    def create(token: str, name: str) -> dict[str, Any]:
        return mutate(api, CREATE_REPOSITORY, {"namespace": org, "name": name}, token)

    # a reader reads private repositories but may not create any
    create_repository(api, people.alice.token, org, "private-one")
    assert call(api, REPO, {"f": f"{org}/private-one"}, bob.token) == {
        "repository": {"name": "private-one"}
    }
    assert code_of(create(bob.token, "by-bob")) == "PERMISSION_DENIED"
    # a writer creates, but may not update settings or delete
    ok(create(carol.token, "by-carol"))
    target = {"namespace": org, "name": "by-carol"}
    assert code_of(mutate(api, DELETE_REPOSITORY, target, carol.token)) == "PERMISSION_DENIED"
    assert (
        code_of(mutate(api, UPDATE_REPOSITORY, {**target, "visibility": "PUBLIC"}, carol.token))
        == "PERMISSION_DENIED"
    )
    # a maintainer may
    add_member(api, people.alice.token, org, carol.username, "MAINTAINER")
    ok(mutate(api, UPDATE_REPOSITORY, {**target, "visibility": "PUBLIC"}, carol.token))
    ok(mutate(api, DELETE_REPOSITORY, target, carol.token))
    assert stack.git_repositories(org) == [f"{org}/private-one"]
    # removed members lose access at once (checked per request, not in the token)
    ok(mutate(api, REMOVE_MEMBER, {"namespace": org, "username": bob.username}, people.alice.token))
    assert call(api, REPO, {"f": f"{org}/private-one"}, bob.token) == {"repository": None}


def test_members_are_listed_with_roles_and_roles_change(
    stack: Stack, people: People, org: str
) -> None:
    assert members(stack, org, people.bob.token) == [
        {"username": people.alice.username, "role": "OWNER"},
        {"username": people.bob.username, "role": "READER"},
        {"username": people.carol.username, "role": "WRITER"},
    ]
    payload = ok(
        mutate(
            stack.api,
            ADD_MEMBER,
            {"namespace": org, "username": people.bob.username, "role": "WRITER"},
            people.alice.token,
        )
    )
    assert payload["member"] == {"username": people.bob.username, "role": "WRITER"}
    assert {"username": people.bob.username, "role": "WRITER"} in payload["namespace"]["members"]
    # anonymous callers do not see members
    response = stack.api.graphql(MEMBERS, {"i": org})
    assert response.status_code == 401


def test_who_manages_members(stack: Stack, people: People, org: str) -> None:
    api = stack.api
    dave = api.create_user().username

    def add(token: str, username: str, role: str) -> dict[str, Any]:
        return mutate(
            api, ADD_MEMBER, {"namespace": org, "username": username, "role": role}, token
        )

    # writers and readers do not manage members
    assert code_of(add(people.carol.token, dave, "READER")) == "PERMISSION_DENIED"
    assert code_of(add(people.bob.token, dave, "READER")) == "PERMISSION_DENIED"
    # a maintainer adds members, but cannot grant OWNER or touch an owner
    add_member(api, people.alice.token, org, people.carol.username, "MAINTAINER")
    ok(add(people.carol.token, dave, "WRITER"))
    denied = error_of(add(people.carol.token, dave, "OWNER"))
    assert (denied["code"], denied["field"]) == ("PERMISSION_DENIED", "role")
    assert code_of(add(people.carol.token, people.alice.username, "READER")) == (
        "PERMISSION_DENIED"
    )
    assert (
        code_of(
            mutate(
                api,
                REMOVE_MEMBER,
                {"namespace": org, "username": people.alice.username},
                people.carol.token,
            )
        )
        == "PERMISSION_DENIED"
    )
    # an admin manages anyone
    ok(add(people.admin.token, dave, "MAINTAINER"))


def test_the_last_owner_cannot_leave(stack: Stack, people: People, org: str) -> None:
    api, alice = stack.api, people.alice
    leave = {"namespace": org, "username": alice.username}
    refused = error_of(mutate(api, REMOVE_MEMBER, leave, alice.token))
    assert (refused["code"], refused["field"]) == ("FAILED_PRECONDITION", "username")
    assert "last owner" in refused["message"]
    demote = {**leave, "role": "READER"}
    assert code_of(mutate(api, ADD_MEMBER, demote, alice.token)) == "FAILED_PRECONDITION"
    assert code_of(mutate(api, ADD_MEMBER, demote, people.admin.token)) == "FAILED_PRECONDITION"
    # with a second owner, alice may leave
    add_member(api, alice.token, org, people.carol.username, "OWNER")
    removed = ok(mutate(api, REMOVE_MEMBER, leave, alice.token))["removedMember"]
    assert removed == {"username": alice.username, "role": "OWNER"}
    assert [m["username"] for m in members(stack, org, people.carol.token)] == [
        people.bob.username,
        people.carol.username,
    ]


def test_a_member_may_leave(stack: Stack, people: People, org: str) -> None:
    ok(
        mutate(
            stack.api,
            REMOVE_MEMBER,
            {"namespace": org, "username": people.bob.username},
            people.bob.token,
        )
    )
    assert people.bob.username not in [
        m["username"] for m in members(stack, org, people.alice.token)
    ]


def test_membership_input_errors(stack: Stack, people: People, org: str) -> None:
    api, token = stack.api, people.alice.token
    user_ns = create_namespace(api, token, "USER")["identifier"]
    cases = [
        (
            ADD_MEMBER,
            {"namespace": org, "username": "nobody-here", "role": "READER"},
            "NOT_FOUND",
            "username",
        ),
        (
            ADD_MEMBER,
            {"namespace": org, "username": "  ", "role": "READER"},
            "INVALID_ARGUMENT",
            "username",
        ),
        (
            ADD_MEMBER,
            {"namespace": "no-such-org", "username": people.bob.username, "role": "READER"},
            "NOT_FOUND",
            "namespace",
        ),
        (
            ADD_MEMBER,
            {"namespace": user_ns, "username": people.bob.username, "role": "READER"},
            "FAILED_PRECONDITION",
            "namespace",
        ),
        (
            REMOVE_MEMBER,
            {"namespace": org, "username": unique_name("stranger")},
            "NOT_FOUND",
            "username",
        ),
    ]
    for query, request, code, field in cases:
        error = error_of(mutate(api, query, request, token))
        assert (error["code"], error["field"]) == (code, field), (request, error)
