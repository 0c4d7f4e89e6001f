"""The first release of a large catalogue is a KV copy of the draft, not a second projection
from Git (``worker/release_copy.py``): real git service, SQLite KV."""

from __future__ import annotations

import uuid

from gitstore.backends.kv import KvStore
from gitstore.domain.content import KindRegistry
from gitstore.domain.keys import LIVE
from gitstore.git.client import GitClient
from gitstore.worker.projector import Projector
from gitstore.worker.publisher import Publisher
from gitstore.worker.staging import Fetched
from gitstore.worker.targets import Ready
from tests.worker.harness import FaultyKv, commit, files_of, product
from tests.worker.test_publisher import assert_live_is, catalogue, request

N, BATCH = 600, 100


class CountingProjector(Projector):
    """Counts the files it fetched and prepared (relocated documents excluded)."""

    prepared = 0

    async def digest(
        self, repository: str, fetched: Fetched, registry: KindRegistry, at: str
    ) -> Ready:
        ready = await super().digest(repository, fetched, registry, at)
        self.prepared += len(ready.files) - ready.moved
        return ready


def publisher(git: GitClient, kv: KvStore) -> tuple[Publisher, CountingProjector]:
    projector = CountingProjector(git, kv, owner=uuid.uuid4().hex, batch_size=BATCH)
    return Publisher(projector), projector


async def test_the_first_release_of_the_draft_commit_is_copied_not_projected(
    git: GitClient, kv: KvStore, repo: str
) -> None:
    sha = await catalogue(git, repo, N)
    await Projector(git, kv, owner="draft", batch_size=BATCH).project(repo)
    counting = FaultyKv(kv)  # counts what copy_step copied
    pub, projector = publisher(git, counting)
    outcome = await pub.publish(request(repo, 1, sha))
    assert outcome.state == "PUBLISHED" and outcome.channel == "live-a"
    assert counting.copied == N and projector.prepared == 0
    await assert_live_is(kv, git, repo, sha)


async def test_a_release_behind_the_draft_copies_then_catches_up_only_the_difference(
    git: GitClient, kv: KvStore, repo: str
) -> None:
    release = await catalogue(git, repo, N)
    draft = Projector(git, kv, owner="draft", batch_size=BATCH)
    await draft.project(repo)
    await commit(
        git,
        repo,
        files_of(*(product(f"p{i:04d}", title=f"later {i}") for i in range(3))),
        deletes=["products/p0010.yaml"],
    )
    await draft.project(repo)  # the draft is one commit ahead of the release
    counting = FaultyKv(kv)  # counts what copy_step copied
    pub, projector = publisher(git, counting)
    outcome = await pub.publish(request(repo, 1, release))
    assert outcome.state == "PUBLISHED"
    assert counting.copied == N - 1
    assert projector.prepared == 4  # the 3 changed products and the deleted one, re-read
    await assert_live_is(kv, git, repo, release)


async def test_a_replay_projects_from_git_and_copies_nothing(
    git: GitClient, kv: KvStore, repo: str
) -> None:
    sha = await catalogue(git, repo, N)
    await Projector(git, kv, owner="draft", batch_size=BATCH).project(repo)
    counting = FaultyKv(kv)  # counts what copy_step copied
    pub, projector = publisher(git, counting)
    assert (await pub.publish(request(repo, 1, sha))).state == "PUBLISHED"
    projector.prepared, counting.copied = 0, 0
    replay = await pub.publish(request(repo, 2, sha, kind="REPLAY"))
    assert replay.state == "PUBLISHED" and replay.channel == "live-b"
    assert counting.copied == 0 and projector.prepared == N
    await assert_live_is(kv, git, repo, sha)
    assert (await kv.resolve(repo, LIVE)).channel == "live-b"
