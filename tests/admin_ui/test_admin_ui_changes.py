"""Change requests, custom-kind history, deleting and paging through the admin interface in
headless chromium, against the real stack (API, git service over gRPC, projection worker)."""

from __future__ import annotations

import re

import pytest

from tests.servers import on_ci

try:
    from playwright.sync_api import Browser, Page, expect
except ImportError:  # an environment without the dev extra: fail on CI, else skip
    if on_ci():
        raise
    pytest.skip(
        "playwright is not installed (pip install -r requirements.txt: the dev extra)",
        allow_module_level=True,
    )

from gitstore.worker.service import WorkerService
from tests.api.server import unique_name
from tests.api_git.change_ops import CREATE, RULE
from tests.catalog_writes.harness import Stack
from tests.catalog_writes.ops import ADD_MEMBER, APPLY, CREATE_NAMESPACE, CREATE_REPOSITORY
from tests.support.graphql_ops import execute, mutate, ok
from tests.support.kinds import brand, brand_kind

from .conftest import shot
from .test_admin_ui import (
    RESOURCE,
    apply,
    file_of,
    new_person,
    new_repository,
    product,
    projected,
    sign_in,
)

DASH = "\u2013"  # the en dash of "1-20 of 23"


def test_propose_review_approve_as_another_maintainer_and_merge(
    stack: Stack, worker: WorkerService, page: Page, browser: Browser
) -> None:
    author = new_person(stack)
    namespace = unique_name("org")
    ok(
        mutate(
            stack.api,
            CREATE_NAMESPACE,
            {"identifier": namespace, "tier": "ORGANISATION"},
            author.token,
        )
    )
    ok(
        mutate(
            stack.api, CREATE_REPOSITORY, {"namespace": namespace, "name": "catalog"}, author.token
        )
    )
    repo = f"{namespace}/catalog"
    reviewer = new_person(stack)
    ok(
        mutate(
            stack.api,
            ADD_MEMBER,
            {"namespace": namespace, "username": reviewer.username, "role": "MAINTAINER"},
            author.token,
        )
    )
    ok(mutate(stack.api, RULE, {"repository": repo, "requiredApprovals": 1}, author.token))
    apply(stack, author, repo, product("blue-shirt", "Blue shirt"))
    projected(stack, author, repo, "Product", "blue-shirt")
    head = stack.git_head(repo)

    # the author edits and proposes instead of saving
    sign_in(page, stack, author.username)
    page.goto(f"{stack.api.base_url}/admin/#/repo/{repo}/resource/Product/blue-shirt")
    page.locator('input[name="spec.title"]').fill("Blue shirt, organic")
    page.locator('input[name="spec.price.amount"]').fill("24.50")
    page.get_by_label("Propose as a change request instead of saving").check()
    expect(page.get_by_label("Branch", exact=True)).to_have_value(
        re.compile(r"^admin/product-blue-shirt-")
    )
    page.get_by_label("Subject of the change request").fill("Organic blue shirt")
    shot(page, "20-propose-change")
    page.get_by_role("button", name="Propose change").click()
    expect(page.get_by_role("heading", name="!1 Organic blue shirt")).to_be_visible()
    assert stack.git_head(repo) == head  # the default branch did not move
    changes = page.get_by_role("region", name=re.compile("^Changes"))
    diff = changes.get_by_role("table", name="Field changes of Product blue-shirt")
    expect(diff).to_contain_text("spec.title")
    expect(diff).to_contain_text("Blue shirt, organic")
    expect(diff).to_contain_text("24.50")
    checks = page.get_by_role("region", name="Checks")
    expect(checks).to_contain_text("valid")
    expect(checks).to_contain_text("1 approval(s) missing")
    # the author cannot approve their own request
    page.get_by_role("button", name="Approve").click()
    expect(page.get_by_role("alert")).to_contain_text("PERMISSION_DENIED")
    page.get_by_label("Comment", exact=True).fill("Ready for review")
    page.get_by_role("button", name="Comment", exact=True).click()
    expect(page.locator("#main").get_by_text("Comment added.")).to_be_visible()
    request_url = page.url
    shot(page, "21-change-request")

    # the list, filtered by state
    page.get_by_role("link", name="Change requests").first.click()
    expect(page.get_by_role("link", name="Organic blue shirt")).to_be_visible()
    page.get_by_label("State").select_option("MERGED")
    expect(page.get_by_text("No merged change requests.")).to_be_visible()

    # another maintainer approves and merges (squash, after a confirmation)
    other = browser.new_context(viewport={"width": 1280, "height": 860})
    try:
        second = other.new_page()
        second.set_default_timeout(20_000)
        sign_in(second, stack, reviewer.username)
        second.goto(request_url)
        expect(second.get_by_role("heading", name="!1 Organic blue shirt")).to_be_visible()
        notes = second.get_by_role("region", name="Reviews and comments")
        expect(notes).to_contain_text("Ready for review")
        second.get_by_label("Comment", exact=True).fill("Looks right")
        second.get_by_role("button", name="Approve").click()
        expect(second.locator("#main").get_by_text("You approved.")).to_be_visible()
        expect(second.get_by_role("region", name="Checks")).to_contain_text("approvals ok")
        expect(notes).to_contain_text("Looks right")
        second.get_by_label("Strategy").select_option("SQUASH")
        second.get_by_role("button", name="Merge…").click()
        dialog = second.get_by_role("dialog")
        expect(dialog).to_contain_text("Merge !1 into main?")
        second.keyboard.press("Escape")  # cancelled: nothing merged
        expect(dialog).to_have_count(0)
        assert stack.git_head(repo) == head
        second.get_by_role("button", name="Merge…").click()
        second.get_by_role("dialog").get_by_role("button", name="Merge").click()
        expect(
            second.locator("#main").get_by_text(re.compile("Merged into main as commit"))
        ).to_be_visible()
        expect(second.locator("dl.facts")).to_contain_text("merged")
        shot(second, "22-change-request-merged")
    finally:
        other.close()

    merged = stack.git_head(repo)
    assert merged != head
    assert b"Blue shirt, organic" in stack.git_show(repo, file_of(stack, repo, "blue-shirt.yaml"))
    # the change is on the default branch: the resource page shows it once projected
    projected(stack, author, repo, "Product", "blue-shirt", title="Blue shirt, organic")
    page.goto(f"{stack.api.base_url}/admin/#/repo/{repo}/resource/Product/blue-shirt")
    expect(page.locator('input[name="spec.title"]')).to_have_value("Blue shirt, organic")
    page.goto(f"{stack.api.base_url}/admin/#/repo/{repo}/changes?state=MERGED")
    expect(page.get_by_role("link", name="Organic blue shirt")).to_be_visible()
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(request_url)
    expect(page.get_by_role("heading", name="!1 Organic blue shirt")).to_be_visible()
    shot(page, "23-change-request-phone")


def test_custom_kind_history_and_revert(stack: Stack, worker: WorkerService, page: Page) -> None:
    owner = new_person(stack)
    repo = new_repository(stack, owner)
    apply(stack, owner, repo, brand_kind(), brand("acme"))
    edit = apply(stack, owner, repo, brand("acme", title="Acme Corp", country="NL"))
    projected(stack, owner, repo, "Brand", "acme", title="Acme Corp")
    sign_in(page, stack, owner.username)
    page.goto(f"{stack.api.base_url}/admin/#/repo/{repo}/resource/Brand/acme")
    history = page.get_by_role("region", name="History")
    expect(history.locator("li.entry")).to_have_count(2)
    expect(history).not_to_contain_text("not available")
    history.get_by_text("Field changes (2)").click()
    expect(history.get_by_role("table", name=f"Changes in {edit[:10]}")).to_contain_text(
        "spec.country"
    )
    shot(page, "24-custom-kind-history")
    history.get_by_role("button", name=f"Revert commit {edit[:10]}").click()
    page.get_by_role("dialog").get_by_role("button", name="Revert").click()
    expect(page.locator("#main").get_by_text(re.compile(f"Reverted {edit[:10]}"))).to_be_visible()
    expect(page.get_by_label("Title")).to_have_value("Acme")
    expect(page.get_by_role("region", name="History").locator("li.entry")).to_have_count(3)
    assert b"Acme Corp" not in stack.git_show(repo, file_of(stack, repo, "acme.yaml"))
    # a custom kind's list is paged from the store endpoint's connection (acmeExample.brands)
    page.goto(f"{stack.api.base_url}/admin/#/repo/{repo}?kind=Brand")
    expect(page.get_by_role("navigation", name="Pages of Brand resources")).to_contain_text(
        f"1{DASH}1 of 1"
    )
    row = page.get_by_role("table", name="Resources").locator("tbody tr")
    expect(row).to_have_count(1)
    expect(row).to_contain_text("Acme")


def test_delete_with_confirmation(stack: Stack, worker: WorkerService, page: Page) -> None:
    owner = new_person(stack)
    repo = new_repository(stack, owner)
    apply(stack, owner, repo, brand_kind(), brand("acme"), product("old-shirt", "Old shirt"))
    projected(stack, owner, repo, "Brand", "acme")
    projected(stack, owner, repo, "Product", "old-shirt")
    sign_in(page, stack, owner.username)
    for kind, name, filename in (("Product", "old-shirt", "old-shirt"), ("Brand", "acme", "acme")):
        page.goto(f"{stack.api.base_url}/admin/#/repo/{repo}/resource/{kind}/{name}")
        delete = page.get_by_role("button", name=f"Delete {kind} {name}…")
        delete.click()
        dialog = page.get_by_role("dialog")
        expect(dialog).to_contain_text(f"Delete {kind} {name}?")
        expect(dialog.get_by_role("button", name="Cancel")).to_be_focused()
        if kind == "Product":
            shot(page, "25-delete-confirm")
        dialog.get_by_role("button", name="Cancel").click()
        expect(delete).to_be_focused()  # focus back on the opener; nothing deleted
        assert any(p.endswith(f"/{filename}.yaml") for p in stack.files(repo))
        delete.click()
        page.get_by_role("dialog").get_by_role("button", name="Delete").click()
        expect(
            page.locator("#main").get_by_text(f"Deleted {kind} {name} with commit")
        ).to_be_visible()
        assert not any(p.endswith(f"/{filename}.yaml") for p in stack.files(repo))
        assert stack.trailers(repo).get("Actor") == owner.username
        gone = execute(
            stack.api, RESOURCE, {"repository": repo, "kind": kind, "name": name}, owner.token
        )
        assert gone["resource"] is None


def test_paging_a_kind_and_change_requests(stack: Stack, worker: WorkerService, page: Page) -> None:
    owner = new_person(stack)
    repo = new_repository(stack, owner)
    names = [f"shirt-{i:02d}" for i in range(23)]
    apply(stack, owner, repo, *(product(n, n.title()) for n in names))
    projected(stack, owner, repo, "Product", names[-1])
    sign_in(page, stack, owner.username)
    page.goto(f"{stack.api.base_url}/admin/#/repo/{repo}?kind=Product")
    pages = page.get_by_role("navigation", name="Pages of Product resources")
    expect(pages).to_contain_text(f"1{DASH}20 of 23")
    rows = page.get_by_role("table", name="Resources").locator("tbody tr")
    expect(rows).to_have_count(20)
    expect(page.get_by_role("link", name="shirt-00")).to_be_visible()
    expect(rows.first).to_contain_text("Shirt-00")  # the title, from the connection
    shot(page, "26-resources-paged")
    pages.get_by_role("link", name="Next page").click()
    expect(pages).to_contain_text(f"21{DASH}23 of 23")
    expect(rows).to_have_count(3)
    expect(page.get_by_role("link", name="shirt-22")).to_be_visible()
    expect(pages.get_by_role("link", name="Next page")).to_have_count(0)
    page.reload()  # the page is in the address: a reload (or a shared link) shows it again
    expect(pages).to_contain_text(f"21{DASH}23 of 23")
    pages.get_by_role("link", name="Previous page").click()
    expect(pages).to_contain_text(f"1{DASH}20 of 23")
    expect(page.get_by_role("link", name="shirt-00")).to_be_visible()


def test_merge_refused_when_the_branch_moved_since_the_page_then_close(
    stack: Stack, worker: WorkerService, page: Page
) -> None:
    owner = new_person(stack)
    repo = new_repository(stack, owner)
    apply(stack, owner, repo, product("tee", "Tee"))
    projected(stack, owner, repo, "Product", "tee")

    def to_branch(title: str) -> None:
        items = [{"manifest": product("tee", title)}]
        ok(
            mutate(
                stack.api,
                APPLY,
                {"repository": repo, "manifests": items, "branch": "tees"},
                owner.token,
            )
        )

    to_branch("Tee, cheaper")
    created = ok(
        mutate(
            stack.api,
            CREATE,
            {"repository": repo, "sourceBranch": "tees", "title": "Cheaper tees"},
            owner.token,
        )
    )["changeRequest"]
    head = stack.git_head(repo)
    sign_in(page, stack, owner.username)
    page.goto(f"{stack.api.base_url}/admin/#/repo/{repo}/changes")
    page.get_by_role("link", name="Cheaper tees").click()
    expect(page.get_by_role("heading", name="!1 Cheaper tees")).to_be_visible()
    expect(page.locator(".head-sha")).to_have_text(created["headSha"][:10])
    to_branch("Tee, much cheaper")  # the branch moves after the page was read
    page.get_by_role("button", name="Merge…").click()
    page.get_by_role("dialog").get_by_role("button", name="Merge").click()
    expect(page.get_by_role("alert")).to_contain_text("STALE_HEAD")
    assert stack.git_head(repo) == head  # nothing merged that nobody saw
    # the default branch changes the same field: the page shows the conflict, field by field
    head = apply(stack, owner, repo, product("tee", "Tee, main"))
    page.reload()
    checks = page.get_by_role("region", name="Checks")
    expect(checks).to_contain_text("not mergeable")
    conflicts = checks.get_by_role("table", name="Conflicts")
    expect(conflicts).to_contain_text("Product tee")
    expect(conflicts).to_contain_text("spec.title")
    shot(page, "27-change-request-conflict")
    page.get_by_role("button", name="Close…").click()
    dialog = page.get_by_role("dialog")
    expect(dialog).to_contain_text("Close !1 without merging?")
    dialog.get_by_role("button", name="Close request").click()
    expect(page.locator("#main").get_by_text("Change request !1 closed.")).to_be_visible()
    expect(page.locator("dl.facts")).to_contain_text("closed")
    expect(page.get_by_role("button", name="Merge…")).to_have_count(0)
    assert stack.git_head(repo) == head
