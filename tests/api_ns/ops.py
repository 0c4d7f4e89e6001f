"""GraphQL operations and small helpers shared by the namespace and repository tests."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tests.api.server import ApiServer, unique_name
from tests.support.graphql_ops import Person, error_of, mutate, ok, person
from tests.support.graphql_ops import execute as call

__all__ = [
    "People",
    "Person",
    "call",
    "error_of",
    "make_people",
    "mutate",
    "ok",
    "unique_name",
]

CREATE_NAMESPACE = """
mutation Create($input: CreateNamespaceInput!) {
  createNamespace(input: $input) {
    clientMutationId
    namespace { id identifier displayName tier parentEnterpriseId createdBy updatedBy }
    userErrors { field message code }
  }
}"""

UPDATE_NAMESPACE = """
mutation Update($input: UpdateNamespaceInput!) {
  updateNamespace(input: $input) {
    clientMutationId
    namespace { identifier displayName updatedBy updatedAt createdAt }
    userErrors { field message code }
  }
}"""

DELETE_NAMESPACE = """
mutation Delete($input: DeleteNamespaceInput!) {
  deleteNamespace(input: $input) {
    clientMutationId deletedIdentifier
    userErrors { field message code }
  }
}"""

ADD_MEMBER = """
mutation Add($input: AddNamespaceMemberInput!) {
  addNamespaceMember(input: $input) {
    clientMutationId
    member { username role }
    namespace { identifier members { username role } }
    userErrors { field message code }
  }
}"""

REMOVE_MEMBER = """
mutation Remove($input: RemoveNamespaceMemberInput!) {
  removeNamespaceMember(input: $input) {
    clientMutationId
    removedMember { username role }
    userErrors { field message code }
  }
}"""

CREATE_REPOSITORY = """
mutation CreateRepo($input: CreateRepositoryInput!) {
  createRepository(input: $input) {
    clientMutationId
    repository {
      id name fullName description publishMode defaultBranch visibility createdBy
      namespace { identifier }
    }
    userErrors { field message code }
  }
}"""

UPDATE_REPOSITORY = """
mutation UpdateRepo($input: UpdateRepositoryInput!) {
  updateRepository(input: $input) {
    clientMutationId
    repository { fullName description publishMode defaultBranch visibility updatedBy }
    userErrors { field message code }
  }
}"""

DELETE_REPOSITORY = """
mutation DeleteRepo($input: DeleteRepositoryInput!) {
  deleteRepository(input: $input) {
    clientMutationId deletedFullName deletedRepositoryId
    userErrors { field message code }
  }
}"""


@dataclass
class People:
    admin: Person
    alice: Person
    bob: Person
    carol: Person


def make_people(server: ApiServer) -> People:
    return People(person(server, admin=True), person(server), person(server), person(server))


def create_namespace(
    server: ApiServer,
    token: str,
    tier: str = "USER",
    identifier: str | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """Create a namespace that must succeed; return it."""
    name = identifier or unique_name(tier.lower()[:3])
    payload = ok(
        mutate(server, CREATE_NAMESPACE, {"identifier": name, "tier": tier, **extra}, token)
    )
    namespace = payload["namespace"]
    assert isinstance(namespace, dict)
    return namespace


def create_repository(
    server: ApiServer, token: str, namespace: str, name: str | None = None, **extra: Any
) -> dict[str, Any]:
    repo = name or unique_name("repo")
    payload = ok(
        mutate(server, CREATE_REPOSITORY, {"namespace": namespace, "name": repo, **extra}, token)
    )
    repository = payload["repository"]
    assert isinstance(repository, dict)
    return repository


def add_member(server: ApiServer, token: str, namespace: str, username: str, role: str) -> None:
    ok(
        mutate(
            server,
            ADD_MEMBER,
            {"namespace": namespace, "username": username, "role": role},
            token,
        )
    )
