"""``gitstore demo`` against a served instance, then storefront queries over the demo data.

The expected answers come from the generator itself (``build_catalog``), so every filter is
checked against what was loaded: categories (leaf and department), collections (rule-based
through ``spec.collections``, manual through ``spec.products``), statuses, and pagination.
"""

from __future__ import annotations

import socket
import subprocess
import sys
from typing import Any

import pytest

from gitstore.cli.demo_catalog import DemoCatalog, build_catalog

from .conftest import PASSWORD, Person
from .flows import all_products, products, settled_status
from .served import ROOT, Served

REPO = "demo/catalog"
CATEGORIES = """query($r: String!) { catalog(repository: $r) { version
  categories(first: 50, filter: {parent: "apparel"}) { nodes { name parent } }
  collections(first: 50) { totalCount nodes { name products rules { field } } } } }"""
BY_HANDLE = """query($r: String!, $h: String!) { catalog(repository: $r) { product(handle: $h) {
  name title status vendor description price { amount currency } compareAtPrice { amount }
  variants { sku options price { amount } } media { url } seo { title } attributes } } }"""


def run_demo(served: Served, owner: Person, *args: str) -> subprocess.CompletedProcess[str]:
    return served.cli(
        "demo",
        "--url",
        served.url,
        "--username",
        owner.username,
        "--password-stdin",
        *args,
        stdin=PASSWORD + "\n",
    )


def names(catalog: DemoCatalog, keep: Any) -> list[str]:
    return sorted(p["metadata"]["name"] for p in catalog.products if keep(p["spec"]))


def test_demo_loads_a_catalogue_storefronts_can_browse(served: Served, owner: Person) -> None:
    done = run_demo(served, owner, "--products", "60", "--batch-size", "40")
    assert done.returncode == 0, done.stderr
    assert (
        "Loaded 60 products, 21 categories and 8 collections into demo/catalog in 3 batches"
        " (3 new commits)" in done.stdout
    )
    assert "curl -s " in done.stdout and "batch 3/3" in done.stderr
    head = served.head(REPO)
    assert head is not None and served.commit_count(REPO) == 3
    assert head in done.stdout
    assert settled_status(served, owner.token, REPO, head)["state"] == "VALID"
    expected = build_catalog(60)

    # everything, page by page (cursor chain), ordered by name; anonymous: the repo is public
    assert all_products(served, REPO, page_size=25) == names(expected, lambda s: True)
    for status in ("active", "draft", "archived"):
        got = all_products(served, REPO, page_size=50, status=status.upper())
        assert got == names(expected, lambda s, st=status: s["status"] == st)
    for category in ("shirts", "apparel", "home"):
        got = all_products(served, REPO, category=category)
        assert got == names(expected, lambda s, c=category: c in s["categories"])
    got = all_products(served, REPO, category="apparel", status="ACTIVE")
    assert got == names(
        expected, lambda s: "apparel" in s["categories"] and s["status"] == "active"
    )
    for rule_based in ("sale", "under-50", "outdoor-gear"):
        got = all_products(served, REPO, collection=rule_based)
        assert got == names(expected, lambda s, c=rule_based: c in s.get("collections", []))
        assert got  # the sample has members in each
    manual = next(c for c in expected.collections if c["metadata"]["name"] == "staff-picks")
    assert all_products(served, REPO, collection="staff-picks") == sorted(
        manual["spec"]["products"]
    )
    assert products(served, REPO, first=1)["totalCount"] == 60

    catalog = served.data(CATEGORIES, {"r": REPO})["catalog"]
    assert catalog["version"] == head
    assert sorted(c["name"] for c in catalog["categories"]["nodes"]) == [
        "jackets",
        "shirts",
        "sweaters",
        "t-shirts",
        "trousers",
    ]
    assert catalog["collections"]["totalCount"] == 8
    kinds = {c["name"]: bool(c["rules"]) for c in catalog["collections"]["nodes"]}
    assert sum(kinds.values()) == 5 and kinds["sale"] and not kinds["staff-picks"]

    sample = next(p for p in expected.products if "variants" in p["spec"])
    product = served.data(BY_HANDLE, {"r": REPO, "h": sample["spec"]["handle"]})["catalog"][
        "product"
    ]
    assert product["name"] == sample["metadata"]["name"]
    assert product["price"] == sample["spec"]["price"]
    assert product["description"] == sample["spec"]["description"]
    assert [v["sku"] for v in product["variants"]] == [v["sku"] for v in sample["spec"]["variants"]]
    assert product["attributes"] == sample["spec"]["attributes"]

    again = run_demo(served, owner, "--products", "60", "--batch-size", "40")
    assert again.returncode == 0, again.stderr
    assert "(0 new commits)" in again.stdout and "replayed" in again.stderr
    assert served.commit_count(REPO) == 3 and served.head(REPO) == head


@pytest.mark.slow
def test_demo_at_full_size_then_grown(served: Served, owner: Person) -> None:
    """The default 400 products into their own repository, then 450: only additions."""
    repo = "demo/full"
    done = run_demo(served, owner, "--repository", repo)
    assert done.returncode == 0, done.stderr
    assert "Loaded 400 products" in done.stdout
    assert products(served, repo, first=1)["totalCount"] == 400
    commits = served.commit_count(repo)
    grown = run_demo(served, owner, "--repository", repo, "--products", "450")
    assert grown.returncode == 0, grown.stderr
    assert products(served, repo, first=1)["totalCount"] == 450
    changed = served.git(
        repo, "diff", "--name-status", f"main~{served.commit_count(repo) - commits}", "main"
    )
    statuses = {line.split()[0] for line in changed.splitlines()}
    assert "A" in statuses and statuses <= {"A", "M"}  # added; nothing deleted
    modified = [line.split()[1] for line in changed.splitlines() if line.startswith("M")]
    assert all(path.startswith("collections/") for path in modified)


def test_demo_without_a_server_is_one_clear_line() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "gitstore",
            "demo",
            "--url",
            f"http://127.0.0.1:{port}",
            "--token",
            "x",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1
    assert done.stderr == (
        f"gitstore: error: cannot reach the API at http://127.0.0.1:{port}; is `gitstore serve`"
        " running?\n"
    )
