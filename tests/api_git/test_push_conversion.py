"""The seed's ``price`` → ``pricingMatrix`` migration over a stock ``git push`` (Smart HTTP,
real API, hook service, git service and worker), with the real WASI hooks built by
``make hooks`` and stored in the repository.

* A kind ``Offer`` (v1 ``price``, v2 ``pricingMatrix`` = the hub, hook ``hooks/price.wasm``)
  pushed together with offers written in v1 and in v2: Git keeps each file as written, the
  worker stores hub documents in the KV, the commit status is valid.
* A v1 offer the hook refuses: ``remote:`` lines naming the file, kind, version, hook and
  the hook's stderr.
* Runaway hooks (endless loop, memory bomb, opening a file): refused with their reason; the
  server stays healthy — the next good push is accepted and projected.
* Changing the hook so that stored v1 offers no longer convert (another definition, or other
  bytes at the module path) is refused naming them; a compatible change is accepted and the
  worker re-projects the unchanged offers.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from gitstore.domain.content import bucket_for
from gitstore.git.client import GitClient
from gitstore.worker.service import WorkerService
from gitstore.worker.statuses import get_commit_status
from tests.conversion.build import build_hooks
from tests.worker.harness import visible_draft

from .harness import GitStack

PRICE = {"amount": "5.00", "currency": "EUR"}
MATRIX = [{"minQuantity": 1, "price": {"amount": "4.00", "currency": "EUR"}}]


def kind_of(kind: str, plural: str, module: str, wasm: bytes, **extra: Any) -> dict[str, Any]:
    """v1 (``price``: any value, the hook judges it) and v2, the hub (``pricingMatrix``)."""
    title = {"title": {"type": "string"}}
    row = {"type": "object", "required": ["minQuantity", "price"]}
    v1 = {"type": "object", "required": ["title"], "properties": {**title, "price": {}}}
    v2 = {
        "type": "object",
        "required": ["title", "pricingMatrix"],
        "properties": {**title, "pricingMatrix": {"type": "array", "minItems": 1, "items": row}},
    }
    sha256 = hashlib.sha256(wasm).hexdigest()
    return {
        "apiVersion": "gitstore.dev/v1",
        "kind": "KindDefinition",
        "metadata": {"name": plural},
        "spec": {
            "group": "shop.example",
            "names": {"kind": kind, "plural": plural, "singular": kind.lower()},
            "versions": [
                {"name": "v1", "served": True, "storage": False, "schema": v1},
                {"name": "v2", "served": True, "storage": True, "schema": v2},
            ],
            "conversion": {
                "strategy": "Wasm",
                "wasm": {"module": module, "sha256": sha256},
                **extra,
            },
        },
    }


def resource(kind: str, plural: str, name: str, version: str, **spec: Any) -> tuple[str, str]:
    body = {
        "apiVersion": f"shop.example/{version}",
        "kind": kind,
        "metadata": {"name": name},
        "spec": {"title": name.title(), **spec},
    }
    return f"{plural}/{bucket_for(name)}/{name}.json", json.dumps(body)


def offer(name: str, version: str, **spec: Any) -> tuple[str, str]:
    return resource("Offer", "offers", name, version, **spec)


@pytest.fixture(scope="module")
def hooks() -> Path:
    return build_hooks()


@pytest.fixture(scope="module")
def worker(stack: GitStack) -> Iterator[WorkerService]:
    async def client() -> GitClient:
        return GitClient(f"127.0.0.1:{stack.git_service.port}", timeout=30)

    git = stack.api.run(client())
    service = WorkerService(
        stack.settings, kv=stack.api.services.kv(), git=git, grace=1.0, pending_interval=0.5
    )
    stack.api.run(service.start())
    try:
        yield service
    finally:
        stack.api.run(service.stop())
        stack.api.run(git.close())


class Clone:
    def __init__(self, stack: GitStack, url: str, work: Path, hooks: Path) -> None:
        self.stack, self.url, self.work, self.hooks = stack, url, work, hooks
        self.token = ""  # the owner's API token (storefront reads)
        stack.git("init", "-q", "-b", "main", str(work))

    def write(self, path: str, content: str | bytes) -> None:
        target = self.work / path
        target.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            target.write_bytes(content)
        else:
            target.write_text(content)

    def hook(self, name: str, at: str | None = None) -> bytes:
        """Copies ``build/hooks/<name>.wasm`` to ``at`` (default ``hooks/<name>.wasm``)."""
        wasm = (self.hooks / f"{name}.wasm").read_bytes()
        self.write(at or f"hooks/{name}.wasm", wasm)
        return wasm

    def push(self, message: str) -> Any:
        self.stack.git("add", "-A", cwd=self.work)
        self.stack.git("commit", "-q", "-m", message, cwd=self.work)
        return self.stack.git("push", "-q", self.url, "main", cwd=self.work, check=False)

    def undo(self) -> None:
        self.stack.git("reset", "-q", "--hard", "HEAD~1", cwd=self.work)

    def head(self) -> str:
        return self.stack.git("rev-parse", "HEAD", cwd=self.work).stdout.strip()


def hub_document(stack: GitStack, repo: str, kind: str, name: str, commit: str) -> Any:
    """The KV document of ``name`` once the worker projected ``commit`` into the draft."""
    kv = stack.api.services.kv()

    async def read() -> Any:
        for _ in range(600):
            doc = await kv.get(await visible_draft(kv, repo), kind, name)
            if doc is not None and doc.version == commit:
                return doc.value()
            await asyncio.sleep(0.05)
        raise AssertionError(f"{kind}/{name} was not projected at {commit[:12]}")

    return stack.api.run(read(), timeout=60)


def only_line(stderr: str, needle: str) -> str:
    """The one ``remote:`` line of ``stderr`` that names ``needle``."""
    found = [line for line in stderr.splitlines() if needle in line]
    assert len(found) == 1, stderr
    assert found[0].startswith("remote:"), stderr
    return found[0]


def status_of(stack: GitStack, repo: str, commit: str) -> Any:
    kv = stack.api.services.kv()

    async def read() -> Any:
        for _ in range(600):
            status = await get_commit_status(kv, repo, commit)
            if status.state != "PENDING":
                return status
            await asyncio.sleep(0.05)
        raise AssertionError(f"no status for {commit[:12]}")

    return stack.api.run(read(), timeout=60)


@pytest.fixture(scope="module")
def migrated(
    stack: GitStack, worker: WorkerService, hooks: Path, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Clone, str]:
    """A repository holding the Offer kind, price.wasm, and offers written in v1 and v2."""
    alice = stack.person()
    repo = stack.new_repo(alice)
    clone = Clone(
        stack,
        stack.url(repo, alice.username, stack.pat(alice)),
        tmp_path_factory.mktemp("c"),
        hooks,
    )
    wasm = clone.hook("price")
    example = {"version": "v1", "spec": {"title": "Box", "price": PRICE}}
    kind = kind_of("Offer", "offers", "hooks/price.wasm", wasm, examples=[example])
    clone.write("kinds/offers.json", json.dumps(kind))
    clone.write(*offer("spoke", "v1", price=PRICE))
    clone.write(*offer("hub", "v2", pricingMatrix=MATRIX))
    pushed = clone.push("Offer v1 -> v2 with its hook, offers in both versions")
    assert pushed.returncode == 0, pushed.stderr
    clone.token = alice.token
    return clone, repo


def test_v1_and_v2_files_pushed_with_their_kind_are_projected_as_hub_documents(
    stack: GitStack, migrated: tuple[Clone, str], tmp_path: Path
) -> None:
    clone, repo = migrated
    head = clone.head()
    # Git keeps what was written: a fresh clone has the v1 file as pushed
    fresh = tmp_path / "fresh"
    stack.git("clone", "-q", clone.url, str(fresh))
    path, written = offer("spoke", "v1", price=PRICE)
    assert (fresh / path).read_text() == written
    spoke = hub_document(stack, repo, "offer", "spoke", head)
    hub = hub_document(stack, repo, "offer", "hub", head)
    assert spoke["apiVersion"] == hub["apiVersion"] == "shop.example/v2"
    assert spoke["spec"] == {
        "title": "Spoke",
        "pricingMatrix": [{"minQuantity": 1, "price": PRICE}],
    }
    assert hub["spec"] == {"title": "Hub", "pricingMatrix": MATRIX}
    status = status_of(stack, repo, head)
    assert status.state == "VALID", status.errors

    # the storefront (the store's own GraphQL endpoint, served from the KV) reads hub data
    query = '{ shopExample { offer(name: "spoke") { title pricingMatrix } } }'
    headers = {"Authorization": f"Bearer {clone.token}"}
    url = f"{stack.api.base_url}/{repo}/graphql"
    for _ in range(600):  # the store schema follows the push (ref-update driven, bounded wait)
        body = stack.api.client.post(url, json={"query": query}, headers=headers).json()
        if "errors" not in body:
            break
        time.sleep(0.05)
    assert body == {
        "data": {
            "shopExample": {
                "offer": {"title": "Spoke", "pricingMatrix": [{"minQuantity": 1, "price": PRICE}]}
            }
        }
    }, body


def test_a_v1_file_the_hook_refuses_is_refused_naming_file_kind_version_hook_and_stderr(
    migrated: tuple[Clone, str],
) -> None:
    clone, _ = migrated
    path, content = offer("bad", "v1", price="five euros")
    clone.write(path, content)
    refused = clone.push("a price the hook cannot read")
    clone.undo()
    assert refused.returncode != 0
    line = only_line(refused.stderr, path)
    assert "Offer shop.example/v1 could not be converted to the hub shop.example/v2" in line
    assert "conversion hook hooks/price.wasm of kind Offer (to-hub v1 -> v2)" in line
    assert "exited with code 3" in line
    assert 'price: document 1: price must be an object {"amount": ..., "currency": ...}' in line


@pytest.mark.parametrize(
    ("hook", "reason"),
    [
        ("loop", "ran out of fuel"),
        ("bomb", "out of memory"),
        ("openfile", "openfile: cannot open /etc/passwd"),
    ],
)
def test_a_runaway_hook_is_refused_and_the_next_good_push_works(
    stack: GitStack, migrated: tuple[Clone, str], hook: str, reason: str
) -> None:
    clone, repo = migrated
    wasm = clone.hook(hook)
    clone.write(
        "kinds/gadgets.json", json.dumps(kind_of("Gadget", "gadgets", f"hooks/{hook}.wasm", wasm))
    )
    path, content = resource("Gadget", "gadgets", "g1", "v1", price=PRICE)
    clone.write(path, content)
    refused = clone.push(f"a kind with the {hook} hook and a v1 gadget")
    clone.undo()
    assert refused.returncode != 0
    line = only_line(refused.stderr, path)
    assert line.startswith("remote:")
    assert f"conversion hook hooks/{hook}.wasm of kind Gadget (to-hub v1 -> v2)" in line
    assert reason in line

    # healthy: /healthz answers, and the next push converts a v1 offer with the good hook
    # and is projected
    assert stack.api.client.get(f"{stack.api.base_url}/healthz").status_code == 200
    name = f"after-{hook}"
    clone.write(*offer(name, "v1", price=PRICE))
    pushed = clone.push(f"an offer after the {hook} push")
    assert pushed.returncode == 0, pushed.stderr
    doc = hub_document(stack, repo, "offer", name, clone.head())
    assert doc["spec"]["pricingMatrix"] == [{"minQuantity": 1, "price": PRICE}]


def test_a_hook_change_that_strands_stored_spokes_is_refused_naming_them(
    stack: GitStack, migrated: tuple[Clone, str], hooks: Path
) -> None:
    clone, repo = migrated
    spoke_path = offer("spoke", "v1")[0]

    # another hook in the definition: the stored v1 offers no longer convert
    wasm = clone.hook("identity")
    clone.write(
        "kinds/offers.json", json.dumps(kind_of("Offer", "offers", "hooks/identity.wasm", wasm))
    )
    refused = clone.push("identity hook")
    clone.undo()
    assert refused.returncode != 0
    line = only_line(refused.stderr, "kinds/offers.json")
    assert "with the new definition of kind Offer (hook hooks/identity.wasm" in line
    assert spoke_path in line and "can no longer be stored as the hub" in line

    # other bytes at the module path, the definition untouched: refused the same way
    clone.hook("identity", at="hooks/price.wasm")
    refused = clone.push("rebuilt price.wasm")
    clone.undo()
    assert refused.returncode != 0
    line = only_line(refused.stderr, "can no longer be stored as the hub")
    assert line.startswith("remote: kinds/offers.json")
    assert spoke_path in line and "its bytes have sha256" in line

    # a compatible change (the same hook, a hub that also allows a note) is accepted, and the
    # worker re-projects the unchanged v1 offers with it
    kind = kind_of("Offer", "offers", "hooks/price.wasm", (hooks / "price.wasm").read_bytes())
    kind["spec"]["versions"][1]["schema"]["properties"]["note"] = {"type": "string"}
    clone.write("kinds/offers.json", json.dumps(kind))
    pushed = clone.push("hub v2 gains an optional note")
    assert pushed.returncode == 0, pushed.stderr
    doc = hub_document(stack, repo, "offer", "spoke", clone.head())
    assert doc["spec"] == {"title": "Spoke", "pricingMatrix": [{"minQuantity": 1, "price": PRICE}]}
