"""Sign in, repositories, browse, edit with a validation error, dry-run, save, revert,
publish and roll back: through the admin interface in headless chromium."""

from __future__ import annotations

import re
import time
from typing import Any

import pytest

from tests.servers import on_ci

try:
    from playwright.sync_api import Page, expect
except ImportError:  # an environment without the dev extra: fail on CI, else skip
    if on_ci():
        raise
    pytest.skip(
        "playwright is not installed (pip install -r requirements.txt: the dev extra)",
        allow_module_level=True,
    )

from gitstore.worker.service import WorkerService
from tests.api.server import PASSWORD, unique_name
from tests.api_releases.harness import receiver
from tests.catalog_writes.harness import Stack
from tests.catalog_writes.ops import APPLY, CREATE_NAMESPACE, CREATE_REPOSITORY
from tests.support.graphql_ops import Person, execute, mutate, ok
from tests.support.kinds import brand, brand_kind

from .conftest import shot

RESOURCE = """
query($repository: String!, $kind: String!, $name: String!) {
  resource(repository: $repository, kind: $kind, name: $name) { generation spec }
}"""
CREATE_RELEASE = """
mutation($input: CreateReleaseInput!) {
  createRelease(input: $input) { release { tag } userErrors { field message code } }
}"""
REGISTER_WEBHOOK = """
mutation($input: RegisterWebhookInput!) {
  registerWebhook(input: $input) { webhook { id } userErrors { field message code } }
}"""
LIVE = """
query($repository: String!) { liveRelease(repository: $repository) { tag } }"""


def new_person(stack: Stack) -> Person:
    user = stack.api.create_user()
    return Person(user.username, stack.api.login(user.username))


def new_repository(stack: Stack, owner: Person, mode: str = "ON_COMMIT") -> str:
    namespace = unique_name("ns")
    ok(mutate(stack.api, CREATE_NAMESPACE, {"identifier": namespace, "tier": "USER"}, owner.token))
    name = unique_name("cat")
    created = mutate(
        stack.api,
        CREATE_REPOSITORY,
        {"namespace": namespace, "name": name, "publishMode": mode},
        owner.token,
    )
    ok(created)
    return f"{namespace}/{name}"


def apply(stack: Stack, owner: Person, repo: str, *manifests: dict[str, Any]) -> str:
    payload = ok(
        mutate(
            stack.api,
            APPLY,
            {
                "repository": repo,
                "manifests": [{"manifest": m} for m in manifests],
                "waitForIndex": True,
                "indexTimeout": 30.0,
            },
            owner.token,
        )
    )
    commit = payload["commit"]
    assert isinstance(commit, str)
    return commit


def projected(
    stack: Stack, owner: Person, repo: str, kind: str, name: str, title: str | None = None
) -> dict[str, Any]:
    """Wait until the worker has put the resource (with ``title``, if given) in the resource
    store (what the UI lists)."""
    deadline = time.monotonic() + 30
    while True:
        got = execute(
            stack.api, RESOURCE, {"repository": repo, "kind": kind, "name": name}, owner.token
        )
        found = got["resource"]
        done = found is not None and (title is None or found["spec"].get("title") == title)
        if done or time.monotonic() > deadline:
            assert done, f"{kind} {name} was never projected ({found})"
            resource: dict[str, Any] = got["resource"]
            return resource
        time.sleep(0.1)


def file_of(stack: Stack, repo: str, filename: str) -> str:
    [path] = [p for p in stack.files(repo) if p.endswith(f"/{filename}")]
    return path


def product(name: str, title: str, amount: str = "19.90") -> dict[str, Any]:
    return {
        "apiVersion": "gitstore.dev/v1",
        "kind": "Product",
        "metadata": {"name": name, "labels": {"season": "summer"}},
        "spec": {
            "title": title,
            "status": "active",
            "price": {"amount": amount, "currency": "EUR"},
            "tags": ["cotton"],
        },
    }


def sign_in(page: Page, stack: Stack, username: str, password: str = PASSWORD) -> None:
    page.goto(f"{stack.api.base_url}/admin/")
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Namespaces and repositories")).to_be_visible()


def test_served_with_a_strict_content_security_policy(stack: Stack) -> None:
    response = stack.api.client.get("/admin/")
    assert response.status_code == 200
    assert "GitStore admin" in response.text
    policy = response.headers["content-security-policy"]
    assert "default-src 'none'" in policy and "script-src 'self'" in policy
    assert "unsafe-inline" not in policy and "frame-ancestors 'none'" in policy
    assert response.headers["x-content-type-options"] == "nosniff"
    script = stack.api.client.get("/admin/js/app.js")
    assert script.status_code == 200 and "javascript" in script.headers["content-type"]
    assert stack.api.client.get("/admin/nope.js").status_code == 404
    # nothing outside static/ (the package's Python files sit one directory up)
    assert stack.api.client.get("/admin/%2e%2e/routes.py").status_code == 404
    assert stack.api.client.get("/admin/js/%2e%2e/%2e%2e/routes.py").status_code == 404
    # a namespace called "admin" keeps its git routes (they come before the static files)
    git = stack.api.client.get("/admin/shop.git/info/refs", params={"service": "git-upload-pack"})
    assert git.status_code == 401 and "content-security-policy" not in git.headers
    kinds = stack.api.client.get("/admin/builtin-kinds.json").json()
    assert {k["names"]["kind"] for k in kinds} == {
        "KindDefinition",
        "Product",
        "Category",
        "Collection",
    }


def test_sign_in_wrong_password_then_create_repository_and_sign_out(
    stack: Stack, page: Page
) -> None:
    owner = new_person(stack)
    namespace = unique_name("ns")
    ok(mutate(stack.api, CREATE_NAMESPACE, {"identifier": namespace, "tier": "USER"}, owner.token))

    page.goto(f"{stack.api.base_url}/admin")
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    page.get_by_label("Username").fill(owner.username)
    page.get_by_label("Password").fill("not-the-password")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_contain_text("invalid username or password")
    shot(page, "01-sign-in-error")

    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_label("Password").press("Enter")  # keyboard submit
    expect(page.get_by_role("heading", name="Namespaces and repositories")).to_be_visible()
    expect(page.get_by_role("navigation", name="Account")).to_contain_text(
        f"Signed in as {owner.username}"
    )

    form = page.get_by_role("form", name="Create a repository")
    form.get_by_label("Namespace").select_option(namespace)
    form.get_by_label("Name", exact=True).fill("Bad Name")
    form.get_by_role("button", name="Create repository").click()
    expect(form.get_by_role("alert")).to_be_visible()  # the API's message, at the form
    form.get_by_label("Name", exact=True).fill("shop")
    form.get_by_label("Description").fill("Summer shop")
    form.get_by_label(re.compile("On release tag")).check()
    shot(page, "02-namespaces")
    form.get_by_role("button", name="Create repository").click()
    expect(page.get_by_role("heading", name=f"{namespace}/shop")).to_be_visible()
    expect(page.locator("#main").get_by_text("publishes on release tags")).to_be_visible()
    found = execute(
        stack.api,
        "query($n: String!) { repository(by: {fullName: $n}) { publishMode description } }",
        {"n": f"{namespace}/shop"},
        owner.token,
    )
    assert found["repository"] == {"publishMode": "ON_RELEASE_TAG", "description": "Summer shop"}

    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    assert page.evaluate("sessionStorage.length") == 0


def test_browse_edit_validation_error_dry_run_save_and_revert(
    stack: Stack, worker: WorkerService, page: Page
) -> None:
    owner = new_person(stack)
    repo = new_repository(stack, owner)
    apply(stack, owner, repo, brand_kind(), brand("acme"), product("blue-shirt", "Blue shirt"))
    projected(stack, owner, repo, "Product", "blue-shirt")
    projected(stack, owner, repo, "Brand", "acme")

    sign_in(page, stack, owner.username)
    page.get_by_role("link", name=repo).click()
    expect(page.get_by_role("heading", name=repo)).to_be_visible()
    # every kind listed, the custom one included; search narrows the list
    expect(page.get_by_role("link", name="acme")).to_be_visible()
    page.get_by_label("Search").fill("blue")
    expect(page.get_by_role("link", name="acme")).to_have_count(0)
    expect(page.get_by_text("1 of 3 resources")).to_be_visible()  # the KindDefinition too
    shot(page, "03-resources")
    page.get_by_role("link", name="blue-shirt").click()
    expect(page.get_by_role("heading", name="Product blue-shirt")).to_be_visible()

    # the form from the Product schema: nested object (price), enum (status), array (tags)
    title = page.locator('input[name="spec.title"]')  # (SEO has a Title too)
    expect(title).to_have_accessible_name(re.compile("^Title"))
    expect(title).to_have_value("Blue shirt")
    expect(page.get_by_label("Status", exact=True)).to_have_value("active")
    amount = page.get_by_role("group", name="Price", exact=True).get_by_label("Amount")
    expect(amount).to_have_value("19.90")
    expect(
        page.get_by_role("group", name="Tags").get_by_role("textbox", name="Tag 1")
    ).to_have_value("cotton")

    # a bad value: the API's userError is shown at the field
    amount.fill("a lot")
    page.get_by_role("button", name="Save").click()
    expect(amount).to_have_attribute("aria-invalid", "true")
    price_error = page.locator('[data-path="spec.price.amount"] .field-error')
    expect(price_error).to_be_visible()
    shot(page, "04-validation-error")
    before = stack.git_head(repo)

    # fix it, preview the field-level diff, save
    amount.fill("24.50")
    title.fill("Blue shirt, organic")
    page.get_by_role("button", name="Preview changes").click()
    preview = page.get_by_role("table", name="Fields this save would change")
    expect(preview).to_contain_text("spec.title")
    expect(preview).to_contain_text("spec.price.amount")
    expect(preview).to_contain_text("24.50")
    assert stack.git_head(repo) == before  # a dry run commits nothing
    expect(amount).not_to_have_attribute("aria-invalid", "true")
    page.get_by_label("Commit message (optional)").fill("Organic cotton now")
    page.get_by_role("button", name="Save").click()
    expect(page.locator("#main").get_by_text(re.compile("Saved as commit"))).to_be_visible()
    saved = stack.git_head(repo)
    assert saved != before
    assert stack.trailers(repo).get("Actor") == owner.username, stack.trailers(repo)
    assert b"Blue shirt, organic" in stack.git_show(repo, file_of(stack, repo, "blue-shirt.yaml"))

    # history with diffs; one-click revert (confirmed in a dialog)
    history = page.get_by_role("region", name="History")
    expect(history.get_by_role("listitem").filter(has_text="Organic cotton now")).to_have_count(1)
    shot(page, "05-resource-history")
    history.get_by_role("button", name=f"Revert commit {saved[:10]}").click()
    dialog = page.get_by_role("dialog")
    expect(dialog).to_contain_text(f"Revert commit {saved[:10]}?")
    shot(page, "06-revert-confirm")
    dialog.get_by_role("button", name="Revert").click()
    expect(page.locator("#main").get_by_text(re.compile(f"Reverted {saved[:10]}"))).to_be_visible()
    # the page shows the reverted resource
    expect(page.locator('input[name="spec.title"]')).to_have_value("Blue shirt")
    expect(page.locator('input[name="spec.price.amount"]')).to_have_value("19.90")
    assert b"Blue shirt\n" in stack.git_show(repo, file_of(stack, repo, "blue-shirt.yaml"))
    assert stack.trailers(repo).get("Actor") == owner.username

    # phone width: the same page stays usable
    page.set_viewport_size({"width": 390, "height": 844})
    shot(page, "07-resource-phone")


def test_custom_kind_form_and_new_resource(stack: Stack, worker: WorkerService, page: Page) -> None:
    owner = new_person(stack)
    repo = new_repository(stack, owner)
    apply(stack, owner, repo, brand_kind(), brand("acme"))
    projected(stack, owner, repo, "Brand", "acme")
    sign_in(page, stack, owner.username)
    page.goto(f"{stack.api.base_url}/admin/#/repo/{repo}?kind=Brand")
    page.get_by_role("link", name="New Brand").click()
    expect(page.get_by_role("heading", name="New Brand")).to_be_visible()
    page.get_by_label("Name", exact=True).fill("globex")
    page.get_by_role("button", name="Create Brand").click()  # title is required
    expect(page.get_by_label("Title")).to_have_attribute("aria-invalid", "true")
    page.get_by_label("Title").fill("Globex")
    page.get_by_label("Country").fill("NL")
    page.get_by_role("button", name="Create Brand").click()
    expect(page.get_by_role("heading", name="Brand globex")).to_be_visible()
    expect(page.locator('[name="spec.country"]')).to_have_value("NL")
    assert b"Globex" in stack.git_show(repo, file_of(stack, repo, "globex.yaml"))

    # the JSON editor for the whole specification (what a form cannot show)
    toggle = page.get_by_role("button", name="Edit the specification as JSON")
    toggle.click()
    expect(toggle).to_have_attribute("aria-pressed", "true")
    spec = page.get_by_label("Specification (JSON)")
    spec.fill('{"title": "Globex", "country": 7}')
    page.get_by_role("button", name="Save").click()
    expect(spec).to_have_attribute("aria-invalid", "true")  # country must be a string
    spec.fill('{"title": "Globex", "country": "BE"}')
    page.get_by_role("button", name="Save").click()
    # the page comes back (form mode) with the saved resource
    expect(page.locator('[name="spec.country"]')).to_have_value("BE")
    expect(page.locator("#main").get_by_text(re.compile("Saved as commit"))).to_be_visible()
    assert b"country: BE" in stack.git_show(repo, file_of(stack, repo, "globex.yaml"))

    # someone else changes it while the page is open: saving is a conflict, not an overwrite
    apply(stack, owner, repo, brand("globex", title="Globex Corp", country="BE"))
    page.locator('[name="spec.country"]').fill("FR")
    page.get_by_role("button", name="Save").click()
    conflict = page.get_by_role("alert")
    expect(conflict).to_contain_text("Someone changed this resource after you opened it")
    shot(page, "13-conflict")
    assert b"Globex Corp" in stack.git_show(repo, file_of(stack, repo, "globex.yaml"))
    assert b"FR" not in stack.git_show(repo, file_of(stack, repo, "globex.yaml"))
    projected(stack, owner, repo, "Brand", "globex", title="Globex Corp")
    conflict.get_by_role("button", name="Reload it").click()
    expect(page.get_by_label("Title")).to_have_value("Globex Corp")


def test_releases_publish_and_roll_back(stack: Stack, worker: WorkerService, page: Page) -> None:
    owner = new_person(stack)
    repo = new_repository(stack, owner, mode="ON_RELEASE_TAG")
    apply(stack, owner, repo, product("hat", "Hat"))
    with receiver() as hook:
        ok(
            mutate(
                stack.api,
                REGISTER_WEBHOOK,
                {"repository": repo, "url": hook.url, "description": "storefront cache"},
                owner.token,
            )
        )
        publish_roll_back_and_activity(stack, owner, repo, page)
        assert hook.count() >= 1


def publish_roll_back_and_activity(stack: Stack, owner: Person, repo: str, page: Page) -> None:
    sign_in(page, stack, owner.username)
    page.goto(f"{stack.api.base_url}/admin/#/repo/{repo}/releases")
    expect(page.get_by_role("heading", name=f"Releases of {repo}")).to_be_visible()
    expect(page.locator("#live-release")).to_contain_text("No release is live yet")
    form = page.get_by_role("form", name="Create a release")
    form.get_by_label("Tag").fill("v1")
    form.get_by_role("button", name="Create release").click()
    releases = page.get_by_role("table", name="Releases (newest first)")
    expect(releases.get_by_role("cell", name="v1", exact=True)).to_be_visible()

    apply(stack, owner, repo, product("hat", "Hat, wool"))
    ok(mutate(stack.api, CREATE_RELEASE, {"repository": repo, "tag": "v2"}, owner.token))
    wait_live(stack, owner, repo, "v2")
    page.reload()
    expect(page.locator("#live-release")).to_contain_text("v2")
    shot(page, "08-releases")
    page.set_viewport_size({"width": 390, "height": 844})
    shot(page, "08-releases-phone")
    page.set_viewport_size({"width": 1280, "height": 860})

    # Escape cancels the confirmation and gives focus back to the button
    roll_back = page.get_by_role("button", name="Roll back to v1")
    roll_back.focus()
    page.keyboard.press("Enter")
    expect(page.get_by_role("dialog")).to_be_visible()
    expect(page.get_by_role("dialog").get_by_role("button", name="Cancel")).to_be_focused()
    page.keyboard.press("Escape")
    expect(page.get_by_role("dialog")).to_have_count(0)
    expect(roll_back).to_be_focused()

    roll_back.click()
    dialog = page.get_by_role("dialog")
    expect(dialog).to_contain_text("Roll back to v1?")
    dialog.get_by_role("button", name="Roll back to v1").click()
    wait_live(stack, owner, repo, "v1")
    page.reload()
    expect(page.locator("#live-release")).to_contain_text("v1")

    page.get_by_role("button", name="Publish to v2").click()
    page.get_by_role("dialog").get_by_role("button", name="Publish to v2").click()
    wait_live(stack, owner, repo, "v2")

    page.get_by_role("link", name="Commits").click()
    expect(page.get_by_role("table", name="Recent commits and their status")).to_contain_text(
        "valid"
    )
    shot(page, "09-commits")
    page.get_by_role("link", name="Push log").click()
    expect(page.get_by_role("table", name="Ref updates (newest first)")).to_contain_text(
        "refs/tags/v1"
    )
    shot(page, "10-push-log")
    page.get_by_role("link", name="Webhooks").click()
    expect(page.get_by_role("heading", name=f"Webhooks of {repo}")).to_be_visible()
    deadline = time.monotonic() + 30
    deliveries = page.get_by_role("table", name=re.compile("^Deliveries to "))
    while "succeeded" not in (deliveries.text_content() or "") and time.monotonic() < deadline:
        time.sleep(0.2)
        page.reload()
    expect(deliveries).to_contain_text("succeeded")
    shot(page, "11-webhooks")


def wait_live(stack: Stack, owner: Person, repo: str, tag: str) -> None:
    deadline = time.monotonic() + 30
    while True:
        live = execute(stack.api, LIVE, {"repository": repo}, owner.token)["liveRelease"]
        if (live and live["tag"] == tag) or time.monotonic() > deadline:
            assert live and live["tag"] == tag, live
            return
        time.sleep(0.1)


def test_keyboard_only_sign_in_with_visible_focus(stack: Stack, page: Page) -> None:
    owner = new_person(stack)
    page.goto(f"{stack.api.base_url}/admin/")
    expect(page.get_by_role("heading", name="Sign in")).to_be_focused()

    def focused_outline() -> str:
        style: str = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
        return style

    # back up to the skip link: it is focusable, visibly, and leads back into the page
    page.keyboard.press("Shift+Tab")
    expect(page.get_by_role("link", name="GitStore admin")).to_be_focused()
    page.keyboard.press("Shift+Tab")
    expect(page.get_by_role("link", name="Skip to content")).to_be_focused()
    assert focused_outline() not in ("", "none")
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Sign in")).to_be_focused()
    # then the form, in reading order
    page.keyboard.press("Tab")
    expect(page.get_by_label("Username")).to_be_focused()
    assert focused_outline() not in ("", "none")
    page.keyboard.type(owner.username)
    page.keyboard.press("Tab")
    expect(page.get_by_label("Password")).to_be_focused()
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Tab")
    expect(page.get_by_role("button", name="Sign in")).to_be_focused()
    page.keyboard.press("Enter")
    heading = page.get_by_role("heading", name="Namespaces and repositories")
    expect(heading).to_be_focused()  # focus moves to the new page's heading
    shot(page, "00-keyboard-home")


def test_namespace_members_add_and_remove(stack: Stack, page: Page) -> None:
    owner = new_person(stack)
    colleague = stack.api.create_user()
    org = unique_name("org")
    ok(
        mutate(
            stack.api, CREATE_NAMESPACE, {"identifier": org, "tier": "ORGANISATION"}, owner.token
        )
    )
    sign_in(page, stack, owner.username)
    section = page.get_by_role("region", name=org)
    section.get_by_text("Members (1)").click()
    form = page.get_by_role("form", name=f"Add a member to {org}")
    form.get_by_label("User name").fill("nobody-by-that-name")
    form.get_by_role("button", name="Add member").click()
    expect(form.locator(".field-error")).to_be_visible()  # at the User name field
    form.get_by_label("User name").fill(colleague.username)
    form.get_by_label("Role").select_option("MAINTAINER")
    form.get_by_role("button", name="Add member").click()
    section = page.get_by_role("region", name=org)
    section.get_by_text("Members (2)").click()
    expect(section).to_contain_text(f"{colleague.username} — maintainer")
    shot(page, "12-members")
    section.get_by_role("button", name=f"Remove {colleague.username} from {org}").click()
    page.get_by_role("dialog").get_by_role("button", name="Remove member").click()
    expect(page.get_by_role("region", name=org).get_by_text("Members (1)")).to_be_visible()
