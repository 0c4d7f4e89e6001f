"""The admin interface against ``gitstore serve`` itself (a real OS process with its own git
service and worker, as a user runs it): sign in, open a repository and a product, a
validation error shown at the field, save, and the saved change read back by a storefront
query once the serve process's worker has projected it. The other tests of this package use
the in-process stack for speed; this one checks the shipped command serves the same page."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

from tests.e2e.flows import (
    create_namespace,
    create_repository,
    login,
    ok,
    product_spec,
    read_product,
    upsert,
)
from tests.e2e.served import Served

if TYPE_CHECKING:
    from playwright.sync_api import Page

PASSWORD = "correct-horse-battery"


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    server = Served.start(tmp_path_factory.mktemp("admin-serve") / "data")
    try:
        yield server
    finally:
        code = server.stop()
        assert code == 0, f"gitstore exited with {code}:\n{server.log}"


def test_sign_in_edit_and_save_on_gitstore_serve(served: Served, page: Page) -> None:
    from playwright.sync_api import expect

    args = ["user", "create", "owner", "--password-stdin", "--data-dir", str(served.data_dir)]
    created = served.cli(*args, stdin=PASSWORD + "\n")
    assert created.returncode == 0, created.stderr
    token = login(served, "owner", PASSWORD)
    create_namespace(served, token, "shop")
    repo = create_repository(served, token, "shop/linen")
    spec = product_spec(title="Linen shirt", amount="40.00")
    written = ok(upsert(served, token, repo, "linen", spec, waitForIndex=True, indexTimeout=60.0))
    assert written["indexing"]["state"] == "INDEXED", written

    page.goto(f"{served.url}/admin/")
    page.get_by_label("Username").fill("owner")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Namespaces and repositories")).to_be_visible()
    page.get_by_role("link", name=repo, exact=True).click()
    expect(page.get_by_role("heading", name=repo)).to_be_visible()
    # "linen" exactly: the repository's own link ("shop/linen") contains the same word
    page.get_by_role("link", name="linen", exact=True).click()
    expect(page.get_by_role("heading", name="Product linen")).to_be_visible()

    amount = page.get_by_role("group", name="Price", exact=True).get_by_label("Amount")
    amount.fill("forty")
    page.get_by_role("button", name="Save").click()
    expect(amount).to_have_attribute("aria-invalid", "true")
    before = served.git(repo, "rev-parse", "refs/heads/main").strip()

    amount.fill("42.00")
    page.get_by_role("button", name="Save").click()
    expect(page.locator("#main").get_by_text(re.compile("Saved as commit"))).to_be_visible()
    after = served.git(repo, "rev-parse", "refs/heads/main").strip()
    assert after != before
    assert "Actor: owner" in served.git(repo, "log", "-1", "--format=%B", after)

    deadline = time.monotonic() + 60
    while True:  # the serve process's worker projects the commit for storefronts
        product = read_product(served, repo, "linen")["product"]
        if product["price"]["amount"] == "42.00" or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert product["price"] == {"amount": "42.00", "currency": "EUR"}
