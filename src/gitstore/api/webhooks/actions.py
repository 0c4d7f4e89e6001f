"""Webhook use cases: register, update (pause/resume, description), rotate the secret,
delete, list (with deliveries). No GraphQL here.

All of them need a maintainer or owner of the repository's namespace (see
``releases.access``). Registering checks the URL (``urls``), makes a fresh secret and returns
it with the webhook — the only time it is shown; listings never include it. Deleting removes
the webhook's deliveries too (pending ones are not sent any more). Pausing
(``active=False``) keeps the webhook and its deliveries: publications completed while it is
paused queue no delivery for it (``results``), and its PENDING deliveries stay PENDING but are
not claimed (``claim_due_deliveries`` skips inactive webhooks), so nothing is sent until it is
resumed — then the pending ones go out with their remaining attempts.
Rotating makes a new secret, returned once like at registration; deliveries sent after it
are signed with the new one. Every change is audited (``webhook.create`` /
``webhook.update`` / ``webhook.rotate_secret`` / ``webhook.delete``, target ``<ns>/<repo>``,
the URL in the details, never a secret).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from gitstore.backends.metadata.base import MetadataStore, RepositoryRecord
from gitstore.backends.metadata.base_git import Webhook, WebhookDelivery
from gitstore.config import WebhookSettings
from gitstore.domain.errors import InvalidArgument, NotFound

from ..catalog.writes.access import maintainable
from ..graphql.relay import Connection
from ..identity.principal import Principal
from ..namespaces import paging
from ..namespaces.actions import is_uuid
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
    about = _check_description(description)
    secret = new_secret()
    webhook = await store.create_webhook(
        record.id, text, secret, created_by=principal.username, description=about
    )
    await store.append_audit(
        principal.username, "webhook.create", record.repository_id, {"url": text, "id": webhook.id}
    )
    return Registered(webhook, secret)


async def _managed(
    store: MetadataStore, principal: Principal, webhook_id: str
) -> tuple[Webhook, RepositoryRecord]:
    """The webhook and its repository if the caller may manage it; ``NotFound`` otherwise
    (also when the caller cannot see the repository, so IDs do not leak)."""
    webhook = await store.get_webhook(webhook_id) if is_uuid(webhook_id) else None
    record = await store.get_repository(webhook.repository_uuid) if webhook else None
    if webhook is None or record is None:
        raise NotFound(f"webhook {webhook_id!r} does not exist", field="id")
    try:
        await maintainable(store, principal, record.repository_id, what=WHAT)
    except NotFound:
        raise NotFound(f"webhook {webhook_id!r} does not exist", field="id") from None
    return webhook, record


def _check_description(description: str) -> str:
    about = (description or "").strip()
    if len(about) > MAX_DESCRIPTION or "\x00" in about:
        raise InvalidArgument(
            f"description must be at most {MAX_DESCRIPTION} characters without NUL bytes",
            field="description",
        )
    return about


async def delete_webhook(store: MetadataStore, principal: Principal, webhook_id: str) -> Webhook:
    webhook, record = await _managed(store, principal, webhook_id)
    if not await store.delete_webhook(webhook.id):
        raise NotFound(f"webhook {webhook_id!r} does not exist", field="id")
    await store.append_audit(
        principal.username,
        "webhook.delete",
        record.repository_id,
        {"url": webhook.url, "id": webhook.id},
    )
    return webhook


async def update_webhook(
    store: MetadataStore,
    principal: Principal,
    webhook_id: str,
    *,
    active: bool | None = None,
    description: str | None = None,
) -> Webhook:
    """Pause/resume (``active``) and/or re-describe a webhook; None keeps a field."""
    webhook, record = await _managed(store, principal, webhook_id)
    about = None if description is None else _check_description(description)
    try:
        updated = await store.update_webhook(webhook.id, active=active, description=about)
    except NotFound:
        raise NotFound(f"webhook {webhook_id!r} does not exist", field="id") from None
    changes: dict[str, Any] = {"url": webhook.url, "id": webhook.id}
    if active is not None:
        changes["active"] = active
    if about is not None:
        changes["description"] = about
    await store.append_audit(principal.username, "webhook.update", record.repository_id, changes)
    return updated


async def rotate_secret(store: MetadataStore, principal: Principal, webhook_id: str) -> Registered:
    """A fresh signing secret, returned this once; the old one stops signing at once."""
    webhook, record = await _managed(store, principal, webhook_id)
    secret = new_secret()
    try:
        updated = await store.update_webhook(webhook.id, secret=secret)
    except NotFound:
        raise NotFound(f"webhook {webhook_id!r} does not exist", field="id") from None
    await store.append_audit(
        principal.username,
        "webhook.rotate_secret",
        record.repository_id,
        {"url": webhook.url, "id": webhook.id},
    )
    return Registered(updated, secret)


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
