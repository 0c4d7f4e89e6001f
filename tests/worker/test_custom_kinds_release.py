"""A kind follows its channel: projection and publication use the kinds of the commit they
materialise, so a kind added after a release reaches ``live`` only with the next release
while ``draft`` sees it at once."""

from __future__ import annotations

import json

from gitstore.backends.kv import KvStore
from gitstore.domain.keys import LIVE
from gitstore.git.client import GitClient
from gitstore.worker.projector import Projector
from tests.support.kinds import brand_kind
from tests.worker.harness import commit, files_of, product, visible_draft
from tests.worker.test_publisher import publisher_on, request

KIND = brand_kind(required=())
ACME = {
    "apiVersion": "acme.example/v1",
    "kind": "Brand",
    "metadata": {"name": "acme"},
    "spec": {"title": "Acme"},
}


async def test_a_new_kind_reaches_live_only_with_a_release(
    git: GitClient, kv: KvStore, repo: str, projector: Projector
) -> None:
    release_1 = (await commit(git, repo, files_of(product("p1")))).commit_sha
    await projector.project(repo)
    publisher, _ = publisher_on(git, kv)
    await publisher.publish(request(repo, 1, release_1))

    files = {
        "kinds/brands.json": json.dumps(KIND).encode(),
        "brands/acme.json": json.dumps(ACME).encode(),
    }
    later = (await commit(git, repo, files)).commit_sha
    await projector.project(repo)
    draft = await kv.get(await visible_draft(kv, repo), "brand", "acme")
    assert draft is not None and draft.version == later
    assert draft.value()["spec"] == {"title": "Acme"}
    assert await kv.get(await kv.resolve(repo, LIVE), "brand", "acme") is None

    outcome = await publisher.publish(request(repo, 2, later))
    assert outcome.state == "PUBLISHED"
    assert "brand/acme" in outcome.changed
    live = await kv.get(await kv.resolve(repo, LIVE), "brand", "acme")
    assert live is not None and live.version == later
