"""PostReceive: an audit entry per update, releases recorded for new release tags."""

from __future__ import annotations

import pytest

from gitstore.api.hooks import postreceive
from gitstore.api.hooks.postreceive import post_receive
from gitstore.git.v1 import git_service_pb2 as pb
from gitstore.hook.v1 import hook_service_pb2 as hook_pb2
from tests.api_hooks.harness import ZERO, Hooks, context
from tests.worker.harness import AUTHOR, category, files_of

pytestmark = pytest.mark.asyncio


def update(ref: str, old: str, new: str) -> hook_pb2.RefUpdate:
    return hook_pb2.RefUpdate(ref=ref, old=old, new=new)


async def test_audit_and_releases(hooks: Hooks) -> None:
    first = await hooks.land(files_of(category("tops")))
    second = await hooks.land(files_of(category("hats")))
    tag = await hooks.git.create_tag(
        pb.CreateTagRequest(
            repository_id=hooks.record.repository_id,
            tag="v2",
            revision=second,
            message="second release",
            tagger=AUTHOR,
        )
    )
    annotated = tag.tag_object_sha
    assert annotated and annotated != second
    ctx = context(transport="http")
    request = hook_pb2.PostReceiveRequest(
        repository_id=hooks.record.repository_id,
        updates=[
            update("refs/heads/main", first, second),
            update("refs/tags/v1", ZERO, first),  # lightweight release tag
            update("refs/tags/v2", ZERO, annotated),  # annotated release tag
            update("refs/tags/nightly", ZERO, second),  # not a release pattern
            update("refs/tags/v0", first, ZERO),  # a deletion records nothing
        ],
        context=ctx,
    )
    response = await post_receive(hooks.services, request)

    store = hooks.services.store
    page = await store.list_audit(
        first=20, target_prefix=f"{hooks.record.repository_id}@", action="ref.update"
    )
    entries = list(reversed(page.items))  # newest first -> push order
    assert [e.target.split("@")[1] for e in entries] == [u.ref for u in request.updates]
    main = entries[0]
    assert main.actor == "alice"
    assert main.details == {
        "transport": "http",
        "old": first,
        "new": second,
        "pushId": ctx.push_id,
        "operation": "push",
        "remoteAddress": "::1",
    }
    v1 = await store.get_release(hooks.record.id, "v1")
    v2 = await store.get_release(hooks.record.id, "v2")
    assert v1 is not None and v1.commit_sha == first and v1.source == "http"
    assert v2 is not None and v2.commit_sha == second and v2.created_by == "alice"
    assert await store.get_release(hooks.record.id, "nightly") is None
    assert await store.get_release(hooks.record.id, "v0") is None
    text = "\n".join(response.messages)
    assert "release v1 recorded" in text and "release v2 recorded" in text


async def test_a_failing_release_does_not_fail_the_hook(hooks: Hooks) -> None:
    first = await hooks.land(files_of(category("tops")))
    second = await hooks.land(files_of(category("hats")))
    store = hooks.services.store
    await store.create_release(hooks.record.id, "v1", first, created_by="alice", source="api")
    request = hook_pb2.PostReceiveRequest(
        repository_id=hooks.record.repository_id,
        updates=[update("refs/tags/v1", ZERO, second)],
        context=context(),
    )
    response = await post_receive(hooks.services, request)
    assert len(response.messages) == 1
    assert response.messages[0].startswith("release v1: could not be recorded (")
    page = await store.list_audit(first=5, action="ref.update")
    assert page.items[0].target.endswith("@refs/tags/v1")


async def test_without_the_releases_module(hooks: Hooks, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(postreceive, "_on_release_tag", lambda: None)
    first = await hooks.land(files_of(category("tops")))
    request = hook_pb2.PostReceiveRequest(
        repository_id=hooks.record.repository_id,
        updates=[update("refs/tags/v1", ZERO, first)],
        context=context(),
    )
    response = await post_receive(hooks.services, request)
    assert list(response.messages) == []
    assert await hooks.services.store.get_release(hooks.record.id, "v1") is None


async def test_unknown_repository(hooks: Hooks) -> None:
    request = hook_pb2.PostReceiveRequest(
        repository_id="alice/missing",
        updates=[update("refs/heads/main", ZERO, "a" * 40)],
        context=context(),
    )
    response = await post_receive(hooks.services, request)
    assert list(response.messages) == []
    assert (await hooks.services.store.list_audit(first=5, action="ref.update")).items == []
