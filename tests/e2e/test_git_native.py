"""Git-native ingress end to end: a stock ``git`` and ``ssh`` against ``gitstore serve``.

Smart HTTP (PAT as the Basic password) and SSH (a key registered with ``addSshKey``) clone,
push and get refused with ``remote:`` lines naming the file and rule; refused pushes leave the
repository exactly as it was. ON_RELEASE_TAG: a release tag publishes to the storefront's
live channel while later draft commits stay invisible; rollback; a webhook receiver on
localhost gets a correctly signed payload.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from .conftest import Person, make_user
from .flows import ERRORS, create_repository, settled_status
from .gitwork import Workspace, manifest
from .served import Served

CREATE_PAT = f"""mutation($i: CreateAccessTokenInput!) {{ createAccessToken(input: $i) {{
  secret {ERRORS} }} }}"""
ADD_KEY = f"""mutation($i: AddSshKeyInput!) {{ addSshKey(input: $i) {{
  sshKey {{ id fingerprint }} {ERRORS} }} }}"""
UPDATE_REPO = f"""mutation($i: UpdateRepositoryInput!) {{ updateRepository(input: $i) {{
  repository {{ publishMode requireSignedCommits }} {ERRORS} }} }}"""
LIVE_PRODUCT = """query($r: String!, $n: String!) { catalog(repository: $r) { version
  product(name: $n) { name title version } } }"""
MEMBER = f"""mutation($i: AddNamespaceMemberInput!) {{
  addNamespaceMember(input: $i) {{ {ERRORS} }} }}"""


def pat(served: Served, person: Person, *scopes: str) -> str:
    data = served.data(
        CREATE_PAT, {"i": {"name": f"git-{time.time_ns()}", "scopes": list(scopes)}}, person.token
    )
    assert data["createAccessToken"]["userErrors"] == [], data
    secret: str = data["createAccessToken"]["secret"]
    return secret


def http_url(served: Served, repo: str, user: str = "", secret: str = "") -> str:
    host = served.url.removeprefix("http://")
    auth = f"{user}:{secret}@" if user else ""
    return f"http://{auth}{host}/{repo}.git"


@pytest.fixture
def work(tmp_path: Path) -> Workspace:
    return Workspace(tmp_path)


@pytest.fixture
def pusher(served: Served, owner: Person) -> tuple[Person, str]:
    return owner, pat(served, owner, "READ", "WRITE")


# ---------------------------------------------------------------------- Smart HTTP


def test_clone_commit_push_over_http(
    served: Served, repo: str, work: Workspace, pusher: tuple[Person, str]
) -> None:
    person, secret = pusher
    url = http_url(served, repo, person.username, secret)
    clone = work.root / "clone"
    work.run("clone", "-q", url, str(clone))
    work.write(clone, "products/red-shirt.yaml", manifest("red-shirt"))
    earlier = work.commit_all(clone, "Add red shirt")
    work.write(clone, "products/blue-shirt.yaml", manifest("blue-shirt"))
    sha = work.commit_all(clone, "Add blue shirt")
    pushed = work.attempt("push", "origin", "HEAD:main", cwd=clone)
    assert pushed.returncode == 0, pushed.stderr
    assert served.head(repo) == sha
    # the push is projected like an API commit: the storefront sees it
    deadline = time.monotonic() + 30
    while True:
        data = served.data(LIVE_PRODUCT, {"r": repo, "n": "blue-shirt"})
        if data["catalog"]["product"] is not None:
            break
        assert time.monotonic() < deadline, data
        time.sleep(0.2)
    assert data["catalog"]["product"]["version"] == sha
    # both pushed commits get a verdict of their own, not only the new head
    for commit in (earlier, sha):
        assert settled_status(served, person.token, repo, commit)["state"] == "VALID"
    # protocol v2 clone of what was pushed
    again = work.root / "again"
    work.run("-c", "protocol.version=2", "clone", "-q", url, str(again))
    assert (again / "products/blue-shirt.yaml").read_text() == manifest("blue-shirt")


def test_invalid_push_is_refused_and_changes_nothing(
    served: Served, repo: str, work: Workspace, pusher: tuple[Person, str]
) -> None:
    person, secret = pusher
    clone = work.root / "clone"
    work.run("clone", "-q", http_url(served, repo, person.username, secret), str(clone))
    work.write(clone, "products/good.yaml", manifest("good"))
    work.commit_all(clone, "good")
    assert work.attempt("push", "origin", "HEAD:main", cwd=clone).returncode == 0
    before = served.head(repo)
    work.write(clone, "products/bad.yaml", manifest("bad", amount="-5"))
    bad = work.commit_all(clone, "bad price")
    refused = work.attempt("push", "origin", "HEAD:main", cwd=clone)
    assert refused.returncode != 0
    assert "remote:" in refused.stderr
    assert "products/bad.yaml" in refused.stderr
    assert "pre-receive hook declined" in refused.stderr
    assert served.head(repo) == before
    # the refused commit's objects never became part of the repository
    missing = subprocess_ok(served, repo, "cat-file", "-e", bad)
    assert not missing


def subprocess_ok(served: Served, repo: str, *args: str) -> bool:
    try:
        served.git(repo, *args)
    except Exception:
        return False
    return True


def test_force_push_to_default_branch_is_refused(
    served: Served, repo: str, work: Workspace, pusher: tuple[Person, str]
) -> None:
    person, secret = pusher
    clone = work.root / "clone"
    work.run("clone", "-q", http_url(served, repo, person.username, secret), str(clone))
    work.write(clone, "products/a.yaml", manifest("a"))
    work.commit_all(clone, "a")
    work.write(clone, "products/b.yaml", manifest("b"))
    work.commit_all(clone, "b")
    assert work.attempt("push", "origin", "HEAD:main", cwd=clone).returncode == 0
    head = served.head(repo)
    work.run("reset", "-q", "--hard", "HEAD~1", cwd=clone)
    forced = work.attempt("push", "--force", "origin", "HEAD:main", cwd=clone)
    assert forced.returncode != 0
    assert "force-push" in forced.stderr
    deleted = work.attempt("push", "origin", ":main", cwd=clone)
    assert deleted.returncode != 0
    assert served.head(repo) == head
    # a tag name git accepts but GitStore does not
    work.run("tag", "v1#beta", cwd=clone)
    bad_tag = work.attempt("push", "origin", "refs/tags/v1#beta", cwd=clone)
    assert bad_tag.returncode != 0
    assert "[ref-name]" in bad_tag.stderr
    assert "v1#beta" not in served.git(repo, "tag", "--list")


def test_wrong_credentials_and_anonymous_push_are_refused(
    served: Served, repo: str, work: Workspace, pusher: tuple[Person, str]
) -> None:
    person, _secret = pusher
    # git sends credentials only when asked (401): a private repository asks
    private = create_repository(served, person.token, f"{repo}-private", "PRIVATE")
    wrong = work.attempt("clone", "-q", http_url(served, private, person.username, "gst_no"), "x")
    assert wrong.returncode != 0
    assert "Authentication failed" in wrong.stderr
    # a public repository may be cloned anonymously, but not pushed to
    clone = work.root / "anon"
    work.run("clone", "-q", http_url(served, repo), str(clone))
    work.write(clone, "products/a.yaml", manifest("a"))
    work.commit_all(clone, "anon")
    assert work.attempt("push", "origin", "HEAD:main", cwd=clone).returncode != 0
    assert served.head(repo) is None
    # read-only token cannot push
    read_only = pat(served, person, "READ")
    work.run(
        "remote", "set-url", "origin", http_url(served, repo, person.username, read_only), cwd=clone
    )
    assert work.attempt("push", "origin", "HEAD:main", cwd=clone).returncode != 0
    assert served.head(repo) is None


def test_path_injection_through_repository_names_is_refused(
    served: Served, work: Workspace, pusher: tuple[Person, str]
) -> None:
    person, secret = pusher
    host = served.url.removeprefix("http://")
    for path in ("../../etc/passwd", "e2e/..%2F..%2Fetc", "e2e/x;rm -rf", "e2e/.git"):
        url = f"http://{person.username}:{secret}@{host}/{path}.git"
        done = work.attempt("ls-remote", url)
        assert done.returncode != 0, path


# ---------------------------------------------------------------------- SSH


def register_key(served: Served, person: Person, key: Path) -> None:
    public = key.with_suffix(".pub").read_text().strip()
    data = served.data(ADD_KEY, {"i": {"title": key.name, "publicKey": public}}, person.token)
    assert data["addSshKey"]["userErrors"] == [], data


def test_clone_and_push_over_ssh(served: Served, repo: str, owner: Person, work: Workspace) -> None:
    key = work.ssh_key(f"owner-{time.time_ns()}")
    register_key(served, owner, key)
    env = work.ssh_env(key, served.ssh_port)
    url = f"ssh://git@127.0.0.1:{served.ssh_port}/{repo}.git"
    clone = work.root / "clone"
    work.run("clone", "-q", url, str(clone), env=env)
    work.write(clone, "products/ssh-shirt.yaml", manifest("ssh-shirt"))
    sha = work.commit_all(clone, "over ssh")
    pushed = work.attempt("push", "origin", "HEAD:main", cwd=clone, env=env)
    assert pushed.returncode == 0, pushed.stderr
    assert served.head(repo) == sha
    # an invalid product is refused over SSH too
    work.write(clone, "products/broken.yaml", "apiVersion: gitstore.dev/v1\nkind: Product\n")
    work.commit_all(clone, "broken")
    refused = work.attempt("push", "origin", "HEAD:main", cwd=clone, env=env)
    assert refused.returncode != 0
    assert "products/broken.yaml" in refused.stderr
    assert served.head(repo) == sha
    # an unknown key, a shell and other commands are refused
    stranger = work.ssh_key("stranger")
    assert work.attempt("ls-remote", url, env=work.ssh_env(stranger, served.ssh_port)).returncode
    assert work.ssh(key, served.ssh_port).returncode != 0
    for command in (
        "ls",
        f"git-upload-pack '/{repo}.git'; touch /tmp/pwned",
        "git-upload-pack '../../etc'",
    ):
        assert work.ssh(key, served.ssh_port, command).returncode != 0, command
    assert not Path("/tmp/pwned").exists()


def test_unsigned_commit_refused_where_signatures_are_required(
    served: Served, repo: str, owner: Person, work: Workspace
) -> None:
    key = work.ssh_key(f"signer-{time.time_ns()}")
    register_key(served, owner, key)
    namespace, name = repo.split("/")
    data = served.data(
        UPDATE_REPO,
        {"i": {"namespace": namespace, "name": name, "requireSignedCommits": True}},
        owner.token,
    )
    assert data["updateRepository"]["repository"]["requireSignedCommits"] is True
    env = work.ssh_env(key, served.ssh_port)
    url = f"ssh://git@127.0.0.1:{served.ssh_port}/{repo}.git"
    clone = work.root / "clone"
    work.run("clone", "-q", url, str(clone), env=env)
    work.write(clone, "products/a.yaml", manifest("a"))
    work.commit_all(clone, "unsigned")
    refused = work.attempt("push", "origin", "HEAD:main", cwd=clone, env=env)
    assert refused.returncode != 0
    assert "signature" in refused.stderr
    assert served.head(repo) is None
    work.run("config", "gpg.format", "ssh", cwd=clone)
    work.run("config", "user.signingkey", str(key), cwd=clone)
    work.run("commit", "-q", "--amend", "-S", "--no-edit", cwd=clone)
    signed = work.attempt("push", "origin", "HEAD:main", cwd=clone, env=env)
    assert signed.returncode == 0, signed.stderr


# ---------------------------------------------------------------------- releases


class _Receiver(BaseHTTPRequestHandler):
    received: list[tuple[dict[str, str], bytes]]

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("content-length", "0")))
        type(self).received.append((dict(self.headers.items()), body))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        return


@pytest.fixture
def receiver() -> Iterator[tuple[str, list[tuple[dict[str, str], bytes]]]]:
    received: list[tuple[dict[str, str], bytes]] = []
    handler = type("Receiver", (_Receiver,), {"received": received})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/hook", received
    finally:
        server.shutdown()
        server.server_close()


REGISTER_WEBHOOK = f"""mutation($i: RegisterWebhookInput!) {{ registerWebhook(input: $i) {{
  secret webhook {{ id url }} {ERRORS} }} }}"""
PUBLISH = f"""mutation($i: PublishReleaseInput!) {{ publishRelease(input: $i) {{
  publication {{ sequence tag state }} {ERRORS} }} }}"""


def wait_for(check: Any, timeout: float = 60.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.2)


def test_release_tag_publishes_and_rolls_back(
    served: Served,
    repo: str,
    work: Workspace,
    pusher: tuple[Person, str],
    receiver: tuple[str, list[tuple[dict[str, str], bytes]]],
) -> None:
    person, secret = pusher
    namespace, name = repo.split("/")
    data = served.data(
        UPDATE_REPO,
        {"i": {"namespace": namespace, "name": name, "publishMode": "ON_RELEASE_TAG"}},
        person.token,
    )
    assert data["updateRepository"]["userErrors"] == [], data
    hook_url, received = receiver
    data = served.data(REGISTER_WEBHOOK, {"i": {"repository": repo, "url": hook_url}}, person.token)
    assert data["registerWebhook"]["userErrors"] == [], data
    hook_secret = data["registerWebhook"]["secret"]

    clone = work.root / "clone"
    work.run("clone", "-q", http_url(served, repo, person.username, secret), str(clone))
    work.write(clone, "products/shirt.yaml", manifest("shirt", title="Shirt v1"))
    v1 = work.commit_all(clone, "v1")
    work.run("tag", "v1.0.0", cwd=clone)
    pushed = work.attempt("push", "origin", "HEAD:main", "v1.0.0", cwd=clone)
    assert pushed.returncode == 0, pushed.stderr

    def live_title() -> str | None:
        product = served.data(LIVE_PRODUCT, {"r": repo, "n": "shirt"})["catalog"]["product"]
        return product["title"] if product else None

    wait_for(lambda: live_title() == "Shirt v1")
    # a later draft commit is not visible in live
    work.write(clone, "products/shirt.yaml", manifest("shirt", title="Shirt v2"))
    work.commit_all(clone, "v2 draft")
    assert work.attempt("push", "origin", "HEAD:main", cwd=clone).returncode == 0
    time.sleep(1.0)
    assert live_title() == "Shirt v1"
    work.run("tag", "v2.0.0", cwd=clone)
    assert work.attempt("push", "origin", "v2.0.0", cwd=clone).returncode == 0
    wait_for(lambda: live_title() == "Shirt v2")
    # a published release tag is immutable
    work.run("tag", "-f", "v1.0.0", cwd=clone)
    moved = work.attempt("push", "--force", "origin", "v1.0.0", cwd=clone)
    assert moved.returncode != 0
    # rollback to v1
    data = served.data(PUBLISH, {"i": {"repository": repo, "tag": "v1.0.0"}}, person.token)
    assert data["publishRelease"]["userErrors"] == [], data
    wait_for(lambda: live_title() == "Shirt v1")
    product = served.data(LIVE_PRODUCT, {"r": repo, "n": "shirt"})["catalog"]["product"]
    assert product["version"] == v1
    # the webhook got signed payloads
    wait_for(lambda: len(received) >= 3)
    headers, body = received[0]
    lowered = {k.lower(): v for k, v in headers.items()}
    expected = hmac.new(hook_secret.encode(), body, hashlib.sha256).hexdigest()
    assert lowered["x-gitstore-signature-256"] == f"sha256={expected}"
    payload = json.loads(body)
    assert payload["repository"] == repo
    assert payload["release"]["tag"] == "v1.0.0"
    assert "product/shirt" in payload["changed"]


def test_reader_cannot_push(served: Served, repo: str, owner: Person, work: Workspace) -> None:
    reader = make_user(served, f"reader{time.time_ns() % 10**8}")
    namespace = repo.split("/")[0]
    data = served.data(
        MEMBER,
        {"i": {"namespace": namespace, "username": reader.username, "role": "READER"}},
        owner.token,
    )
    assert data["addNamespaceMember"]["userErrors"] == [], data
    secret = pat(served, reader, "READ", "WRITE")
    clone = work.root / "clone"
    work.run("clone", "-q", http_url(served, repo, reader.username, secret), str(clone))
    work.write(clone, "products/a.yaml", manifest("a"))
    work.commit_all(clone, "reader")
    refused = work.attempt("push", "origin", "HEAD:main", cwd=clone)
    assert refused.returncode != 0
    assert served.head(repo) is None
