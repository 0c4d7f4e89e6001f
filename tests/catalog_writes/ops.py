"""GraphQL operations and small helpers of the catalogue mutation tests."""

from __future__ import annotations

import copy
from typing import Any

from gitstore.domain.content import bucket_for
from tests.api.server import ApiServer, unique_name
from tests.support.graphql_ops import Person, execute, mutate, ok, person

__all__ = ["Person", "execute", "mutate", "ok", "person", "unique_name"]

PAYLOAD = """
  clientMutationId repository branch commit committed dryRun replayed
  changes { path changeType kind name diff { path op old new } }
  indexing { repository commit state }
  userErrors { field message code }
"""

UPSERT_PRODUCT = f"""
mutation Upsert($input: UpsertProductInput!) {{
  upsertProduct(input: $input) {{
    {PAYLOAD}
    product {{ id name version path title status labels price {{ amount currency }} }}
  }}
}}"""

UPSERT_CATEGORY = f"""
mutation UpsertCategory($input: UpsertCategoryInput!) {{
  upsertCategory(input: $input) {{ {PAYLOAD} category {{ id name title version }} }}
}}"""

UPSERT_COLLECTION = f"""
mutation UpsertCollection($input: UpsertCollectionInput!) {{
  upsertCollection(input: $input) {{ {PAYLOAD} collection {{ id name title version }} }}
}}"""

DELETE_PRODUCT = f"""
mutation Delete($input: DeleteProductInput!) {{
  deleteProduct(input: $input) {{ {PAYLOAD} deletedId }}
}}"""

APPLY = f"""
mutation Apply($input: ApplyManifestsInput!) {{
  applyManifests(input: $input) {{ {PAYLOAD} }}
}}"""

REVERT = f"""
mutation Revert($input: RevertCommitInput!) {{
  revertCommit(input: $input) {{ {PAYLOAD} revertedCommit }}
}}"""

HISTORY = """
query History($repository: String!, $kind: String!, $name: String!, $first: Int) {
  resourceHistory(repository: $repository, kind: $kind, name: $name, first: $first) {
    commit author { name email } committedAt message actor requestId idempotencyKey
    path changeType diff { path op old new }
  }
}"""

CREATE_NAMESPACE = """
mutation($input: CreateNamespaceInput!) {
  createNamespace(input: $input) { namespace { identifier } userErrors { field message code } }
}"""

CREATE_REPOSITORY = """
mutation($input: CreateRepositoryInput!) {
  createRepository(input: $input) { repository { fullName } userErrors { field message code } }
}"""

ADD_MEMBER = """
mutation($input: AddNamespaceMemberInput!) {
  addNamespaceMember(input: $input) { userErrors { field message code } }
}"""

CREATE_TOKEN = """
mutation($input: CreateAccessTokenInput!) {
  createAccessToken(input: $input) { secret userErrors { field message code } }
}"""

_PRODUCT_SPEC: dict[str, Any] = {
    "title": "Blue Shirt",
    "status": "active",
    "description": "A shirt, **blue**.",
    "price": {"amount": "19.99", "currency": "EUR"},
    "tags": ["shirts", "blue"],
}


def product_spec(**changes: Any) -> dict[str, Any]:
    spec = copy.deepcopy(_PRODUCT_SPEC)
    spec.update(changes)
    return spec


def make_repository(server: ApiServer, owner: Person, *, visibility: str = "PRIVATE") -> str:
    """A fresh repository in a fresh USER namespace of ``owner``: ``<ns>/<repo>``."""
    namespace = unique_name("ns")
    ok(mutate(server, CREATE_NAMESPACE, {"identifier": namespace, "tier": "USER"}, owner.token))
    name = unique_name("cat")
    created = mutate(
        server,
        CREATE_REPOSITORY,
        {"namespace": namespace, "name": name, "visibility": visibility},
        owner.token,
    )
    ok(created)
    return f"{namespace}/{name}"


def make_org_repository(server: ApiServer, owner: Person) -> tuple[str, str]:
    """A repository in a fresh ORGANISATION namespace: (namespace, ``<ns>/<repo>``)."""
    namespace = unique_name("org")
    ok(
        mutate(
            server,
            CREATE_NAMESPACE,
            {"identifier": namespace, "tier": "ORGANISATION"},
            owner.token,
        )
    )
    name = unique_name("cat")
    ok(mutate(server, CREATE_REPOSITORY, {"namespace": namespace, "name": name}, owner.token))
    return namespace, f"{namespace}/{name}"


def upsert_product(
    server: ApiServer, token: str, repository: str, name: str, **input: Any
) -> dict[str, Any]:
    spec = input.pop("spec", None) or product_spec()
    return mutate(
        server,
        UPSERT_PRODUCT,
        {"repository": repository, "name": name, "spec": spec, **input},
        token,
    )


def fan(path: str) -> str:
    """``products/p.yaml`` in the fan-out layout new repositories use."""
    kind_dir, name_ext = path.split("/")
    return f"{kind_dir}/{bucket_for(name_ext.rsplit('.', 1)[0])}/{name_ext}"
