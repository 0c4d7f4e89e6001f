"""The GraphQL operations the end-to-end tests send, and small helpers around them."""

from __future__ import annotations

import time
from typing import Any

from .served import Served

ERRORS = "userErrors { field message code }"
WRITE = f"commit committed replayed indexing {{ state commit }} {ERRORS}"

LOGIN = f"""mutation($i: LoginInput!) {{ login(input: $i) {{ token {ERRORS} }} }}"""
CREATE_NAMESPACE = f"""mutation($i: CreateNamespaceInput!) {{
  createNamespace(input: $i) {{ namespace {{ identifier }} {ERRORS} }} }}"""
CREATE_REPOSITORY = f"""mutation($i: CreateRepositoryInput!) {{
  createRepository(input: $i) {{ repository {{ fullName visibility }} {ERRORS} }} }}"""
UPSERT_PRODUCT = f"""mutation($i: UpsertProductInput!) {{ upsertProduct(input: $i) {{
  {WRITE} product {{ name version title price {{ amount currency }} }} }} }}"""
DELETE_PRODUCT = f"""mutation($i: DeleteProductInput!) {{ deleteProduct(input: $i) {{
  {WRITE} deletedId }} }}"""
APPLY = f"""mutation($i: ApplyManifestsInput!) {{ applyManifests(input: $i) {{
  {WRITE} changes {{ path changeType }} }} }}"""
PRODUCT = """query($r: String!, $n: String!) { catalog(repository: $r) { version
  product(name: $n) { name title version status price { amount currency } } } }"""
PRODUCTS = """query($r: String!, $first: Int!, $after: String, $filter: ProductFilter) {
  catalog(repository: $r) { products(first: $first, after: $after, filter: $filter) {
    totalCount nodes { name status categories collections }
    pageInfo { hasNextPage endCursor } } } }"""
COMMIT_STATUS = """query($r: String!, $sha: String!) {
  commitStatus(repository: $r, sha: $sha) { state commit errors { path field message } } }"""
HISTORY = """query($r: String!, $n: String!) {
  resourceHistory(repository: $r, kind: "Product", name: $n) {
    commit actor idempotencyKey changeType } }"""


def login(served: Served, username: str, password: str) -> str:
    data = served.data(LOGIN, {"i": {"username": username, "password": password}})
    assert data["login"]["userErrors"] == [], data
    token: str = data["login"]["token"]
    return token


def owner_repository(served: Served, password: str, namespace: str, repo: str) -> tuple[str, str]:
    """A user ``owner`` made with the CLI on the served data dir, logged in, owning the
    namespace ``namespace`` and its repository ``repo``: (token, repository id)."""
    created = served.cli(
        "user", "create", "owner", "--password-stdin", "--data-dir", str(served.data_dir),
        stdin=password + "\n",
    )  # fmt: skip
    assert created.returncode == 0, created.stderr
    token = login(served, "owner", password)
    create_namespace(served, token, namespace)
    return token, create_repository(served, token, f"{namespace}/{repo}")


def create_namespace(served: Served, token: str, identifier: str) -> None:
    data = served.data(
        CREATE_NAMESPACE, {"i": {"identifier": identifier, "tier": "ORGANISATION"}}, token
    )
    assert data["createNamespace"]["userErrors"] == [], data


def create_repository(
    served: Served, token: str, full_name: str, visibility: str = "PUBLIC"
) -> str:
    namespace, name = full_name.split("/")
    variables = {"i": {"namespace": namespace, "name": name, "visibility": visibility}}
    data = served.data(CREATE_REPOSITORY, variables, token)
    assert data["createRepository"]["userErrors"] == [], data
    return full_name


def product_spec(title: str = "Blue Shirt", amount: str = "19.99", **extra: Any) -> dict[str, Any]:
    return {
        "title": title,
        "status": "active",
        "price": {"amount": amount, "currency": "EUR"},
        **extra,
    }


def upsert(
    served: Served, token: str, repo: str, name: str, spec: dict[str, Any], **options: Any
) -> dict[str, Any]:
    variables = {"i": {"repository": repo, "name": name, "spec": spec, **options}}
    payload: dict[str, Any] = served.data(UPSERT_PRODUCT, variables, token)["upsertProduct"]
    return payload


def ok(payload: dict[str, Any]) -> dict[str, Any]:
    assert payload["userErrors"] == [], payload
    return payload


def read_product(served: Served, repo: str, name: str) -> dict[str, Any]:
    catalog: dict[str, Any] = served.data(PRODUCT, {"r": repo, "n": name})["catalog"]
    return catalog


def products(
    served: Served, repo: str, first: int = 100, after: str | None = None, **filters: Any
) -> dict[str, Any]:
    variables = {"r": repo, "first": first, "after": after, "filter": filters or None}
    page: dict[str, Any] = served.data(PRODUCTS, variables)["catalog"]["products"]
    return page


def all_products(served: Served, repo: str, page_size: int = 25, **filters: Any) -> list[str]:
    """Every product name through the pages of ``products`` (checks the cursors chain)."""
    names: list[str] = []
    after = None
    while True:
        page = products(served, repo, first=page_size, after=after, **filters)
        names += [node["name"] for node in page["nodes"]]
        assert len(page["nodes"]) <= page_size
        if not page["pageInfo"]["hasNextPage"]:
            return names
        after = page["pageInfo"]["endCursor"]


def commit_status(served: Served, token: str, repo: str, sha: str) -> dict[str, Any]:
    status: dict[str, Any] = served.data(COMMIT_STATUS, {"r": repo, "sha": sha}, token)[
        "commitStatus"
    ]
    return status


def settled_status(
    served: Served, token: str, repo: str, sha: str, timeout: float = 30.0
) -> dict[str, Any]:
    """The commit's status once the worker recorded it (it is written after the projection,
    so a read right after ``waitForIndex`` may still see PENDING)."""
    deadline = time.monotonic() + timeout
    while True:
        status = commit_status(served, token, repo, sha)
        if status["state"] != "PENDING" or time.monotonic() > deadline:
            return status
        time.sleep(0.02)
