"""PostReceive: what the API does once git has applied a push's ref updates.

The refs have moved by the time this runs, so nothing here can refuse anything; a failure
is logged and reported as a ``remote:`` line, never raised for a single update.

* **Audit**: one entry per applied update — actor = the pusher, action ``ref.update``, target
  ``<namespace>/<repo>@<ref>``, details ``transport``, ``old``, ``new``, ``pushId``,
  ``remoteAddress``.
* **Releases**: each *created* tag (old = zeros) whose short name matches the repository's
  release patterns goes to ``gitstore.api.releases.actions.on_release_tag`` (record the
  release; in ``ON_RELEASE_TAG`` repositories also request its publication), with the
  pusher, the transport as ``source`` and the push id as correlation id. The commit passed is
  the one the tag peels to (``ResolveRevision`` of the new object id peels lightweight and
  annotated tags alike). Its lines are returned as ``messages``.
* **Change requests**: every branch update moves the open change requests from that branch
  (``updated``); ``git push -o change-request[.title=...]`` opens one (``changes.pushes``).
* **Store schemas**: an update of the default branch makes ``StoreSchemas.settle`` check the
  repository's kinds now and waits (bounded) for the outcome, so once ``git push`` returns the
  store endpoint serves the pushed kinds (``api.storeschema``).
"""

from __future__ import annotations

import importlib
import logging
from typing import TYPE_CHECKING, Any

from gitstore.domain.publishing import (
    RefKind,
    RepositoryPolicy,
    classify_ref,
    is_zero,
)
from gitstore.hook.v1 import hook_service_pb2 as hook_pb2

from ..changes.pushes import after_push
from ..refaudit import REF_UPDATE, audit_ref_update
from .prereceive import repository_record

if TYPE_CHECKING:
    from ..services import ApiServices

log = logging.getLogger("gitstore.api.hooks")
AUDIT_ACTION = REF_UPDATE


async def post_receive(
    services: ApiServices, request: hook_pb2.PostReceiveRequest
) -> hook_pb2.PostReceiveResponse:
    ctx = request.context
    store = services.store
    record = await repository_record(store, request.repository_id)
    if record is None:
        log.warning("post-receive for unknown repository %r", request.repository_id)
        return hook_pb2.PostReceiveResponse()
    messages: list[str] = []
    policy = RepositoryPolicy(record.default_branch, tuple(record.release_patterns))
    for update in request.updates:
        await audit_ref_update(
            store,
            ctx.username,
            record.repository_id,
            update.ref,
            update.old,
            update.new,
            transport=ctx.transport,
            operation="push",
            correlation_id=ctx.push_id,
            extra={"remoteAddress": ctx.remote_address},
        )
        if update.ref == f"refs/heads/{record.default_branch}":
            await services.store_schemas.settle(record)  # its kinds may have changed
        cls = classify_ref(update.ref, policy)
        if cls.kind is not RefKind.RELEASE_TAG or not is_zero(update.old) or is_zero(update.new):
            continue
        try:
            messages.extend(await _release(services, record, cls.short, update.new, ctx))
        except Exception as exc:  # the push has landed; say what failed, do not raise
            log.exception("recording release %s of %s failed", cls.short, record.repository_id)
            messages.append(f"release {cls.short}: could not be recorded ({exc})")
    try:
        messages.extend(
            await after_push(
                services,
                record,
                ctx.username,
                [(u.ref, u.old, u.new) for u in request.updates],
                list(request.push_options),
            )
        )
    except Exception as exc:  # the push has landed; say what failed, do not raise
        log.exception("change requests after a push to %s failed", record.repository_id)
        messages.append(f"change requests: not updated ({exc})")
    return hook_pb2.PostReceiveResponse(messages=messages)


async def _release(
    services: ApiServices,
    record: Any,
    tag: str,
    new: str,
    ctx: hook_pb2.PushContext,
) -> list[str]:
    on_release_tag = _on_release_tag()
    if on_release_tag is None:
        log.warning("gitstore.api.releases.actions.on_release_tag is missing; %s not recorded", tag)
        return []
    resolved = await services.git().resolve_revision(record.repository_id, new)
    lines: list[str] = await on_release_tag(
        services,
        record,
        tag,
        resolved.commit_sha,
        by=ctx.username,
        source=ctx.transport,
        correlation_id=ctx.push_id,
    )
    return lines


def _on_release_tag() -> Any:
    """The releases module's entry point, imported lazily (None when it is not there)."""
    try:
        module = importlib.import_module("gitstore.api.releases.actions")
    except ImportError:
        return None
    return getattr(module, "on_release_tag", None)
