"""Real ApiServices (memory metadata store) wired to a real git service, for the hook checks.

``git_service`` (module fixture in conftest) is ``gitstore.gitservice.server.start_server`` on
an ephemeral port; ``Hooks`` (one per test) is an ``ApiServices`` whose git client talks to it,
plus a user ``alice`` owning the namespace ``alice`` and the repository ``alice/shop``
(``alice/shop-<random>``, default branch ``main``, created in the store and in the git
service).

The git service's quarantine is written in parallel; these tests put the "pushed" objects
into the repository without moving the ref under test (``stage``: CommitFiles onto a scratch
branch started at the parent) and pass ``quarantine_id=""`` — the reads are the same RPCs.
``pushed_ref`` builds the ``PushedRef`` the git service would send.
"""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gitstore.api.services import ApiServices
from gitstore.backends.metadata.base import PublishMode, RepositoryRecord, Tier, Visibility
from gitstore.backends.metadata.memory import MemoryMetadataStore
from gitstore.config import Settings, load_settings
from gitstore.git.client import GitClient
from gitstore.hook.v1 import hook_service_pb2 as hook_pb2
from tests.api.server import TEST_JWT_SECRET
from tests.worker.harness import commit

ZERO = "0" * 40
_scratch = itertools.count(1)


def hook_settings(data_dir: Path, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "data_dir": str(data_dir),
        "db.url": "memory://",
        "api.jwt_secret": TEST_JWT_SECRET,
        "grpc.port": 0,
        "git.fsync": False,
    }
    values.update(overrides)
    return load_settings(**values)


@dataclass
class Hooks:
    services: ApiServices
    record: RepositoryRecord

    @property
    def git(self) -> GitClient:
        return self.services.git()

    async def stage(
        self,
        files: Mapping[str, bytes] | None = None,
        deletes: Iterable[str] = (),
        *,
        parent: str = "",
        message: str = "change",
    ) -> str:
        """A commit with these changes on top of ``parent`` ("" = a root commit), reachable
        only from a scratch branch (the ref under test does not move)."""
        branch = f"scratch-{next(_scratch)}"
        response = await commit(
            self.git,
            self.record.repository_id,
            files,
            deletes,
            branch=branch,
            message=message,
            start_revision=parent,
        )
        return response.commit_sha

    async def land(self, files: Mapping[str, bytes], *, branch: str = "main") -> str:
        """Commit straight onto ``branch`` (existing state before a push)."""
        return (await commit(self.git, self.record.repository_id, files, branch=branch)).commit_sha


async def open_hooks(settings: Settings, git_port: int) -> tuple[Hooks, ApiServices]:
    store = MemoryMetadataStore()
    services = ApiServices(
        settings,
        metadata_store=store,
        git_client=GitClient(f"127.0.0.1:{git_port}", timeout=60),
    )
    await services.start()
    user = await store.create_user("alice", "x", is_admin=False)
    await store.create_user("mallory", "x", is_admin=False)
    namespace = await store.create_namespace(
        "alice",
        Tier.USER,
        display_name="Alice",
        parent_enterprise_id=None,
        created_by=user.username,
    )
    record = await store.create_repository(
        namespace.id,
        f"shop-{uuid.uuid4().hex[:8]}",
        description="",
        publish_mode=PublishMode.ON_COMMIT,
        default_branch="main",
        visibility=Visibility.PRIVATE,
        created_by="alice",
    )
    await services.git().create_repository(record.repository_id, default_branch="main")
    return Hooks(services, record), services


def context(username: str = "alice", transport: str = "ssh") -> hook_pb2.PushContext:
    return hook_pb2.PushContext(
        username=username, transport=transport, push_id=uuid.uuid4().hex, remote_address="::1"
    )


def pushed_commit(
    sha: str, parents: Sequence[str], *, signature: str = "none", signer: str = ""
) -> hook_pb2.PushedCommit:
    return hook_pb2.PushedCommit(
        sha=sha, parent_shas=list(parents), signature=signature, signer_fingerprint=signer
    )


def pushed_ref(
    ref: str,
    old: str,
    new: str,
    commits: Sequence[hook_pb2.PushedCommit] = (),
    *,
    new_type: str = "commit",
    peeled: str | None = None,
    fast_forward: bool = True,
    truncated: bool = False,
    tag_signature: str = "",
    tag_signer: str = "",
) -> hook_pb2.PushedRef:
    deleted = new == ZERO
    return hook_pb2.PushedRef(
        update=hook_pb2.RefUpdate(ref=ref, old=old, new=new),
        new_type="" if deleted else new_type,
        peeled="" if deleted else (new if peeled is None else peeled),
        fast_forward=fast_forward,
        commits=list(commits),
        truncated=truncated,
        tag_signature=tag_signature,
        tag_signer_fingerprint=tag_signer,
    )


def request(
    hooks: Hooks, *refs: hook_pb2.PushedRef, username: str = "alice"
) -> hook_pb2.PreReceiveRequest:
    return hook_pb2.PreReceiveRequest(
        repository_id=hooks.record.repository_id,
        refs=list(refs),
        quarantine_id="",
        context=context(username),
    )
