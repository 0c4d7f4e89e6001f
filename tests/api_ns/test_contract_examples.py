"""The GraphQL examples of ARCHITECTURE.md "Namespace Lifecycle Management", run as written.

Each query below is copied verbatim from the document (comment line included: ``#`` starts a
GraphQL comment). They run over HTTP against a real server with a real git service, in the
document's order, with a login token on the mutations.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from datetime import datetime

from .harness import Stack
from .ops import People, call, make_people

CREATE = """# Create a user namespace
mutation {
  createNamespace(input: { clientMutationId: "create-acme-corp", identifier: "acme-corp", tier: USER }) {
    clientMutationId
    namespace { id identifier tier createdAt createdBy }
  }
}"""  # noqa: E501 - verbatim from the document

LIST = """# List all namespaces
query {
  namespaces(first: 20) {
    edges {
      node { id identifier tier createdBy }
    }
    pageInfo { hasNextPage endCursor }
    totalCount
  }
}"""

BY_IDENTIFIER = """# Get namespace by identifier
query {
  namespace(by: {identifier: "acme-corp"}) {
    id identifier displayName tier parentEnterpriseId
    createdAt createdBy updatedAt updatedBy
  }
}"""

BY_ID = """# Get namespace by opaque global Node ID
query {
  namespace(by: {id: "Z2lkOi8vR2l0U3RvcmUvTmFtZXNwYWNlL25hbWVzcGFjZS11dWlk"}) {
    id identifier displayName tier parentEnterpriseId
    createdAt createdBy updatedAt updatedBy
  }
}"""

DELETE = """# Delete a namespace (owner or admin only)
mutation {
  deleteNamespace(input: { clientMutationId: "delete-acme-corp", identifier: "acme-corp" }) {
    clientMutationId
    deletedIdentifier
  }
}"""

PLACEHOLDER = "Z2lkOi8vR2l0U3RvcmUvTmFtZXNwYWNlL25hbWVzcGFjZS11dWlk"


def test_the_documented_examples_run_as_written(stack: Stack, people: People) -> None:
    api, alice = stack.api, people.alice

    created = call(api, CREATE, token=alice.token)["createNamespace"]
    assert created["clientMutationId"] == "create-acme-corp"
    namespace = created["namespace"]
    assert namespace["identifier"] == "acme-corp"
    assert namespace["tier"] == "USER"
    assert namespace["createdBy"] == alice.username
    datetime.fromisoformat(namespace["createdAt"].replace("Z", "+00:00"))
    gid = base64.b64decode(namespace["id"]).decode()
    assert gid.startswith("gid://GitStore/Namespace/")

    listed = call(api, LIST)["namespaces"]  # reads need no token
    nodes = [edge["node"] for edge in listed["edges"]]
    assert {
        "id": namespace["id"],
        "identifier": "acme-corp",
        "tier": "USER",
        "createdBy": alice.username,
    } in nodes
    assert listed["totalCount"] == len(nodes)
    assert listed["pageInfo"]["hasNextPage"] is False
    assert listed["pageInfo"]["endCursor"]

    found = call(api, BY_IDENTIFIER)["namespace"]
    assert found == {
        "id": namespace["id"],
        "identifier": "acme-corp",
        "displayName": "acme-corp",
        "tier": "USER",
        "parentEnterpriseId": None,
        "createdAt": namespace["createdAt"],
        "createdBy": alice.username,
        "updatedAt": namespace["createdAt"],
        "updatedBy": alice.username,
    }

    # the document's own ID is a placeholder (gid://GitStore/Namespace/namespace-uuid)
    assert call(api, BY_ID) == {"namespace": None}
    real = BY_ID.replace(PLACEHOLDER, namespace["id"])
    assert call(api, real)["namespace"] == found

    deleted = call(api, DELETE, token=alice.token)["deleteNamespace"]
    assert deleted == {"clientMutationId": "delete-acme-corp", "deletedIdentifier": "acme-corp"}
    assert call(api, BY_IDENTIFIER) == {"namespace": None}
    assert call(api, real) == {"namespace": None}


def test_the_placeholder_id_finds_nothing_without_an_error(stack: Stack) -> None:
    response = stack.api.graphql(BY_ID)
    assert response.status_code == 200
    assert response.json() == {"data": {"namespace": None}}
    assert base64.b64decode(PLACEHOLDER) == b"gid://GitStore/Namespace/namespace-uuid"


def test_the_create_example_needs_a_token(stack_factory: Callable[..., Stack]) -> None:
    stack = stack_factory()
    response = stack.api.graphql(CREATE)
    assert response.status_code == 401
    body = response.json()
    assert body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert call(stack.api, BY_IDENTIFIER) == {"namespace": None}


def test_the_delete_example_is_refused_for_another_user(
    stack_factory: Callable[..., Stack],
) -> None:
    stack = stack_factory()
    people = make_people(stack.api)
    call(stack.api, CREATE, token=people.bob.token)
    response = stack.api.graphql(
        DELETE.replace("deletedIdentifier", "deletedIdentifier userErrors { code message }"),
        token=people.carol.token,
    )
    payload = response.json()["data"]["deleteNamespace"]
    assert payload["deletedIdentifier"] is None
    assert payload["userErrors"][0]["code"] == "PERMISSION_DENIED"
    # the example as written, by an admin: allowed
    deleted = call(stack.api, DELETE, token=people.admin.token)["deleteNamespace"]
    assert deleted["deletedIdentifier"] == "acme-corp"
