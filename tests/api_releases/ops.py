"""GraphQL operations of the release tests."""

from __future__ import annotations

from typing import Any

from tests.api.server import ApiServer, unique_name
from tests.catalog_writes.ops import (
    ADD_MEMBER,
    CREATE_NAMESPACE,
    CREATE_REPOSITORY,
    upsert_product,
)
from tests.support.graphql_ops import Person, error_of, execute, mutate, ok, person

__all__ = ["Person", "error_of", "execute", "mutate", "ok", "person"]

ERRORS = "userErrors { field message code }"
PUBLICATION = "sequence tag commit kind state requestedBy completedAt changed error"
RELEASE = "repository tag commit createdBy source message status publishedAt publishedBy"

CREATE_RELEASE = f"""
mutation($input: CreateReleaseInput!) {{
  createRelease(input: $input) {{
    clientMutationId release {{ {RELEASE} }} publication {{ {PUBLICATION} }} {ERRORS}
  }}
}}"""

PUBLISH_RELEASE = f"""
mutation($input: PublishReleaseInput!) {{
  publishRelease(input: $input) {{ publication {{ {PUBLICATION} }} {ERRORS} }}
}}"""

REPLAY_RELEASE = f"""
mutation($input: ReplayReleaseInput!) {{
  replayRelease(input: $input) {{ publication {{ {PUBLICATION} }} {ERRORS} }}
}}"""

RELEASES = f"""
query($repository: String!, $first: Int, $after: String) {{
  releases(repository: $repository, first: $first, after: $after) {{
    totalCount pageInfo {{ hasNextPage endCursor }} nodes {{ {RELEASE} }}
  }}
  liveRelease(repository: $repository) {{ tag commit status }}
}}"""

PUBLICATIONS = f"""
query($repository: String!, $tag: String) {{
  publications(repository: $repository, tag: $tag, first: 50) {{
    totalCount nodes {{ {PUBLICATION} }}
  }}
}}"""

REGISTER_WEBHOOK = f"""
mutation($input: RegisterWebhookInput!) {{
  registerWebhook(input: $input) {{
    secret webhook {{ id url description active createdBy }} {ERRORS}
  }}
}}"""

DELETE_WEBHOOK = f"""
mutation($input: DeleteWebhookInput!) {{
  deleteWebhook(input: $input) {{ deletedWebhookId {ERRORS} }}
}}"""

UPDATE_WEBHOOK = f"""
mutation($input: UpdateWebhookInput!) {{
  updateWebhook(input: $input) {{ webhook {{ id url description active }} {ERRORS} }}
}}"""

ROTATE_WEBHOOK_SECRET = f"""
mutation($input: RotateWebhookSecretInput!) {{
  rotateWebhookSecret(input: $input) {{ secret webhook {{ id url active }} {ERRORS} }}
}}"""

WEBHOOKS = """
query($repository: String!) {
  webhooks(repository: $repository) {
    id url active
    deliveries(first: 10) {
      totalCount
      nodes { id publicationSequence state attempts lastStatusCode lastError completedAt payload }
    }
  }
}"""


def make_repository(
    server: ApiServer,
    owner: Person,
    *,
    publish_mode: str = "ON_RELEASE_TAG",
    organisation: bool = False,
    visibility: str = "PRIVATE",
) -> str:
    """A fresh repository with one commit on main: ``<ns>/<repo>``."""
    namespace = unique_name("org" if organisation else "ns")
    tier = "ORGANISATION" if organisation else "USER"
    ok(mutate(server, CREATE_NAMESPACE, {"identifier": namespace, "tier": tier}, owner.token))
    name = unique_name("rel")
    created = mutate(
        server,
        CREATE_REPOSITORY,
        {
            "namespace": namespace,
            "name": name,
            "publishMode": publish_mode,
            "visibility": visibility,
        },
        owner.token,
    )
    ok(created)
    repository = f"{namespace}/{name}"
    ok(upsert_product(server, owner.token, repository, "p"))
    return repository


def add_member(server: ApiServer, owner: Person, repository: str, who: Person, role: str) -> None:
    namespace = repository.split("/", 1)[0]
    ok(
        mutate(
            server,
            ADD_MEMBER,
            {"namespace": namespace, "username": who.username, "role": role},
            owner.token,
        )
    )


def create_release(
    server: ApiServer, token: str, repository: str, tag: str, **extra: Any
) -> dict[str, Any]:
    return mutate(server, CREATE_RELEASE, {"repository": repository, "tag": tag, **extra}, token)


def publish(server: ApiServer, token: str, repository: str, tag: str) -> dict[str, Any]:
    return mutate(server, PUBLISH_RELEASE, {"repository": repository, "tag": tag}, token)


def replay(server: ApiServer, token: str, repository: str, tag: str) -> dict[str, Any]:
    return mutate(server, REPLAY_RELEASE, {"repository": repository, "tag": tag}, token)


def releases(server: ApiServer, token: str | None, repository: str) -> dict[str, Any]:
    return execute(server, RELEASES, {"repository": repository, "first": 50}, token)


def publications(
    server: ApiServer, token: str | None, repository: str, tag: str | None = None
) -> list[dict[str, Any]]:
    data = execute(server, PUBLICATIONS, {"repository": repository, "tag": tag}, token)
    nodes = data["publications"]["nodes"]
    assert isinstance(nodes, list)
    return nodes


def webhooks(server: ApiServer, token: str, repository: str) -> list[dict[str, Any]]:
    data = execute(server, WEBHOOKS, {"repository": repository}, token)
    hooks = data["webhooks"]
    assert isinstance(hooks, list)
    return hooks


def register(
    server: ApiServer, token: str, repository: str, url: str, description: str = ""
) -> dict[str, Any]:
    return mutate(
        server,
        REGISTER_WEBHOOK,
        {"repository": repository, "url": url, "description": description},
        token,
    )
