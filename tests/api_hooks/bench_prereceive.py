"""Time the pre-receive check of large pushes (not a test; prints figures).

    .venv/bin/python -m tests.api_hooks.bench_prereceive [products]

Scenarios, against a real git service and real ApiServices (memory metadata store):

1. first push: two commits adding ``products`` products (each in one of 20 categories and
   one of 5 collections) to an empty repository's ``main``;
2. one more commit on top changing one product (what a typical push costs in a big repo);
3. a 100-commit push, each commit adding ``products / 100`` products.

The figures go to docs/git-transport.md ("Push policy").
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
import time
from pathlib import Path

from gitstore.api.hooks.prereceive import pre_receive
from gitstore.git.v1 import git_service_pb2 as pb
from gitstore.gitservice.server import start_server
from tests.api_hooks.harness import (
    ZERO,
    hook_settings,
    open_hooks,
    pushed_commit,
    pushed_ref,
    request,
)
from tests.worker.harness import category, collection, files_of, product


async def main(count: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        git = start_server(hook_settings(Path(tmp) / "git"))
        try:
            hooks, services = await open_hooks(hook_settings(Path(tmp) / "api"), git.port)
            try:
                cats = [category(f"cat-{i}") for i in range(20)]
                cols = [collection(f"col-{i}") for i in range(5)]
                items = [
                    product(
                        f"p-{i}",
                        categories=[f"cat-{i % 20}"],
                        collections=[f"col-{i % 5}"],
                        sku=f"SKU-{i}",
                        description="A product. " * 20,
                    )
                    for i in range(count)
                ]
                half = count // 2
                root = await hooks.stage(files_of(*cats, *cols, *items[:half]))
                tip = await hooks.stage(files_of(*items[half:]), parent=root)
                commits = [pushed_commit(root, []), pushed_commit(tip, [root])]
                ref = pushed_ref("refs/heads/main", ZERO, tip, commits)
                started = time.perf_counter()
                response = await pre_receive(services, request(hooks, ref))
                took = time.perf_counter() - started
                assert response.allowed, response.messages[:5]
                print(
                    f"first push, {count} products in 2 commits: {took:.2f} s",
                    response.messages[0],
                )

                await hooks.git.create_branch(
                    pb.CreateBranchRequest(
                        repository_id=hooks.record.repository_id, branch="main", start_revision=tip
                    )
                )
                head = tip
                change = files_of(product("p-1", title="Changed", categories=["cat-1"]))
                one = await hooks.stage(change, parent=head)
                ref = pushed_ref("refs/heads/main", head, one, [pushed_commit(one, [head])])
                started = time.perf_counter()
                response = await pre_receive(services, request(hooks, ref))
                took = time.perf_counter() - started
                assert response.allowed, response.messages[:5]
                print(
                    f"one-product push onto {count} products: {took:.3f} s  {response.messages[0]}"
                )

                step = max(1, count // 100)
                parent = head
                commits = []
                for c in range(100):
                    batch = [product(f"q-{c}-{i}", categories=["cat-0"]) for i in range(step)]
                    sha = await hooks.stage(files_of(*batch), parent=parent)
                    commits.append(pushed_commit(sha, [parent]))
                    parent = sha
                ref = pushed_ref("refs/heads/main", head, parent, commits)
                started = time.perf_counter()
                response = await pre_receive(services, request(hooks, ref))
                took = time.perf_counter() - started
                assert response.allowed, response.messages[:5]
                print(f"100 commits x {step} products: {took:.2f} s  {response.messages[0]}")
            finally:
                await services.stop()
        finally:
            git.stop(grace=1.0)


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 10_000))
