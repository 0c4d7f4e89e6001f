"""Loading a commit's kinds (``KindsLoader``, a cache miss): the registry is built in a worker
thread with short GIL switches, not on the event loop (in ``serve`` the storefront's), and a
commit's ``kinds/`` is read without listing the commit's top level again. Real git service
over gRPC; the counting client only counts calls to the real one."""

from __future__ import annotations

import sys
import threading
from collections.abc import AsyncIterator, Iterable
from typing import Any

import pytest

import gitstore.git.kinds as kinds_module
from gitstore.domain.content.kinds import KindRegistry
from gitstore.domain.content.kindset import Kinds
from gitstore.git.client import GitClient
from gitstore.git.kinds import KindsLoader
from gitstore.git.v1 import git_service_pb2 as pb
from gitstore.switching import BUILD_SWITCH_INTERVAL
from tests.worker.harness import commit, head_of

BRANDS = b"""apiVersion: gitstore.dev/v1
kind: KindDefinition
metadata:
  name: brands
spec:
  group: acme.example
  names: {kind: Brand, plural: brands, singular: brand}
  versions:
    - name: v1
      served: true
      storage: true
      schema:
        type: object
        properties:
          title: {type: string}
"""


class CountingGit:
    """The real client, with ``list_tree`` calls recorded (their path prefixes)."""

    def __init__(self, git: GitClient) -> None:
        self.git = git
        self.listed: list[str] = []

    def list_tree(self, request: pb.ListTreeRequest) -> AsyncIterator[Any]:
        self.listed.append(request.path_prefix)
        return self.git.list_tree(request)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.git, name)


async def test_a_commits_kinds_are_read_without_listing_its_top_level_again(
    git: GitClient, repo: str
) -> None:
    await commit(git, repo, {"kinds/brands.yaml": BRANDS, "products/a.yaml": b"x: 1\n"})
    sha = await head_of(git, repo)
    counting = CountingGit(git)
    loader = KindsLoader(counting)  # type: ignore[arg-type]

    kinds = await loader.at(repo, sha)
    assert "Brand" in kinds.registry.kinds()
    # the top level once (the kinds/ tree id), then kinds/ itself
    assert counting.listed == ["", "kinds/"]

    # a ref may have moved between the two reads: the top level is asked again
    counting.listed.clear()
    fresh = KindsLoader(counting)  # type: ignore[arg-type]
    by_ref = await fresh.at(repo, "refs/heads/main")
    assert "Brand" in by_ref.registry.kinds()
    assert counting.listed == ["", "", "kinds/"]


async def test_the_registry_is_built_off_the_event_loop_with_short_switches(
    git: GitClient, repo: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    await commit(git, repo, {"kinds/brands.yaml": BRANDS})
    sha = await head_of(git, repo)
    seen: list[tuple[int, float]] = []
    real = kinds_module.registry_for

    def spy(manifests: Iterable[Any], base: KindRegistry) -> Kinds:
        seen.append((threading.get_ident(), sys.getswitchinterval()))
        return real(manifests, base)

    monkeypatch.setattr(kinds_module, "registry_for", spy)
    kinds = await KindsLoader(git).at(repo, sha)

    assert "Brand" in kinds.registry.kinds()
    ((thread, interval),) = seen
    assert thread != threading.get_ident()  # not the event loop's thread
    assert interval <= BUILD_SWITCH_INTERVAL
    assert sys.getswitchinterval() > BUILD_SWITCH_INTERVAL  # restored afterwards
