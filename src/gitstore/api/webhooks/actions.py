"""Webhook use cases: register, delete, list (with deliveries). No GraphQL here.

All of them need a maintainer or owner of the repository's namespace (see
``releases.access``). Registering checks the URL (``urls``), makes a fresh secret and returns
it with the webhook — the only time it is shown; listings never include it. Deleting removes
the webhook's deliveries too (pending ones are not sent any more). Every change is audited
(``webhook.create`` / ``webhook.delete``, target ``<ns>/<repo>``, the URL in the details).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from gitstore.backends.metadata.base import MetadataStore, RepositoryRecord
from gitstore.backends.metadata.base_git import Webhook, WebhookDelivery
from gitstore.config import WebhookSettings
from gitstore.domain.errors import InvalidArgument, NotFound

from ..graphql.relay import Connection
from ..identity.principal import Principal
from ..namespaces import paging
from ..namespaces.actions import is_uuid
from ..releases.access import maintainable
from .signing import new_secret
from .urls import check_destination, check_url_shape

MAX_DESCRIPTION = 1024
WHAT = "manage the webhooks"


@dataclass(frozen=True, slots=True)
class Registered:
    webhook: Webhook
    secret: str


async def register_webhook(
    store: MetadataStore,
    settings: WebhookSettings,
    principal: Principal,
    repository: str,
    url: str,
    description: str = "",
) -> Registered:
    record = await maintainable(store, principal, repository, what=WHAT)
    text = check_url_shape(url)
    await check_destination(text, allow_private=settings.allow_private)
    about = (description or "").strip()
    if len(about) > MAX_DESCRIPTION or "\x00" in about:
        raise InvalidArgument(
            f"description must be at most {MAX_DESCRIPTION} characters without NUL bytes",
            field="description",
        )
    secret = new_secret()
    webhook = await store.create_webhook(
        record.id, text, secret, created_by=principal.username, description=about
    )
    await store.append_audit(
        principal.username, "webhook.create", record.repository_id, {"url": text, "id": webhook.id}
    )
    return Registered(webhook, secret)


async def delete_webhook(store: MetadataStore, principal: Principal, webhook_id: str) -> Webhook:
    webhook = await store.get_webhook(webhook_id) if is_uuid(webhook_id) else None
    record = await store.get_repository(webhook.repository_uuid) if webhook else None
    if webhook is None or record is None:
        raise NotFound(f"webhook {webhook_id!r} does not exist", field="id")
    try:
        await maintainable(store, principal, record.repository_id, what=WHAT)
    except NotFound:
        raise NotFound(f"webhook {webhook_id!r} does not exist", field="id") from None
    if not await store.delete_webhook(webhook.id):
        raise NotFound(f"webhook {webhook_id!r} does not exist", field="id")
    await store.append_audit(
        principal.username,
        "webhook.delete",
        record.repository_id,
        {"url": webhook.url, "id": webhook.id},
    )
    return webhook


async def list_webhooks(
    store: MetadataStore, principal: Principal, repository: str
) -> tuple[RepositoryRecord, list[Webhook]]:
    record = await maintainable(store, principal, repository, what=WHAT)
    return record, await store.list_webhooks(record.id)


async def list_deliveries(
    store: MetadataStore, webhook: Webhook, *, first: int, after: str | None
) -> Connection[WebhookDelivery]:
    """Deliveries of a webhook the caller was allowed to list, newest first."""

    async def fetch(size: int, cursor: str | None) -> Any:
        return await store.list_deliveries(webhook.id, first=size, after=cursor)

    return await paging.connection(fetch, first=first, after=after)
