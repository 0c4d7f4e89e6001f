"""A real ``gitstore serve`` for the controller tests, and helpers to drive it over HTTP.

``served_catalog`` starts ``python -m gitstore serve`` (tests/e2e/served.py: OS-chosen ports,
embedded backends in a temp data dir), creates an admin, a namespace and a controller token
(scopes READ + STATUS, the token ``gitstore controllers`` uses). Each test makes its own
repository (``new_repository``) and writes products with ``applyManifests`` through the API,
so the worker projects them and feeds the resource store exactly as in production.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from gitstore.controllers.client import ApiClient, payload_of
from tests.e2e.flows import CREATE_REPOSITORY, create_namespace, create_repository, login
from tests.e2e.served import Served

PASSWORD = "controllers-password-1"
NAMESPACE = "ctl"
_repos = itertools.count(1)

APPLY = """mutation($i: ApplyManifestsInput!) { applyManifests(input: $i) {
  commit userErrors { field message code } } }"""
DELETE = """mutation($i: DeleteProductInput!) { deleteProduct(input: $i) {
  deletedId userErrors { field message code } } }"""
RESOURCE = """query($r: String!, $k: String!, $n: String!) {
  resource(repository: $r, kind: $k, name: $n) { object } }"""
TOKEN = """mutation { createAccessToken(input: {name: "controllers", scopes: [READ, STATUS]}) {
  secret userErrors { code message } } }"""


@dataclass
class Catalog:
    served: Served
    owner_token: str
    controller_token: str

    @property
    def url(self) -> str:
        return self.served.url

    def owner(self) -> ApiClient:
        return ApiClient(self.url, self.owner_token)

    def controller(self) -> ApiClient:
        return ApiClient(self.url, self.controller_token)

    def new_repository(self, mode: str = "ON_COMMIT") -> str:
        name = f"{NAMESPACE}/shop-{next(_repos)}"
        if mode == "ON_COMMIT":
            return create_repository(self.served, self.owner_token, name)
        variables = {"i": {"namespace": NAMESPACE, "name": name.split("/")[1], "publishMode": mode}}
        data = self.served.data(CREATE_REPOSITORY, variables, self.owner_token)
        assert data["createRepository"]["userErrors"] == [], data
        return name


def start_catalog(served: Served) -> Catalog:
    args = ["user", "create", "owner", "--password-stdin", "--admin"]
    done = served.cli(*args, "--data-dir", str(served.data_dir), stdin=PASSWORD + "\n")
    assert done.returncode == 0, done.stderr
    token = login(served, "owner", PASSWORD)
    create_namespace(served, token, NAMESPACE)
    created = served.data(TOKEN, token=token)["createAccessToken"]
    assert created["userErrors"] == [], created
    return Catalog(served, token, created["secret"])


def category(name: str) -> dict[str, Any]:
    return {
        "apiVersion": "gitstore.dev/v1",
        "kind": "Category",
        "metadata": {"name": name},
        "spec": {"title": name.title()},
    }


def product(name: str, **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "gitstore.dev/v1",
        "kind": "Product",
        "metadata": {"name": name},
        "spec": {"title": name.title(), **spec},
    }


def good_spec(sku: str, **extra: Any) -> dict[str, Any]:
    return {
        "status": "active",
        "categories": ["shirts"],
        "price": {"amount": "20.00", "currency": "EUR"},
        "sku": sku,
        "attributes": {"cost": "8"},
        **extra,
    }


async def apply(client: ApiClient, repository: str, manifests: list[dict[str, Any]]) -> str:
    data = await client.execute(
        APPLY,
        {
            "i": {
                "repository": repository,
                "manifests": [{"manifest": m} for m in manifests],
                "waitForIndex": True,
                "indexTimeout": 30.0,
            }
        },
    )
    return str(payload_of(data, "applyManifests")["commit"])


async def delete_product(client: ApiClient, repository: str, name: str) -> None:
    data = await client.execute(DELETE, {"i": {"repository": repository, "name": name}})
    payload_of(data, "deleteProduct")


async def resource(
    client: ApiClient, repository: str, name: str, kind: str = "Product"
) -> dict[str, Any] | None:
    data = await client.execute(RESOURCE, {"r": repository, "k": kind, "n": name})
    found = data["resource"]
    return None if found is None else dict(found["object"])


async def eventually(
    check: Callable[[], Awaitable[Any]], *, timeout: float = 60.0, what: str = "condition"
) -> Any:
    """Poll ``check`` until it returns something truthy; its value. Fails naming ``what``."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = await check()
        if last:
            return last
        await asyncio.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what} (last: {last!r})")


def ready_of(obj: dict[str, Any] | None) -> dict[str, Any] | None:
    if obj is None:
        return None
    for condition in (obj.get("status") or {}).get("conditions") or []:
        if condition.get("type") == "Ready":
            return dict(condition)
    return None
