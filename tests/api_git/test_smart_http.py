"""Git over Smart HTTP through the API: a real ``git`` against a real API and git service."""

from __future__ import annotations

import gzip
import os
from pathlib import Path

import httpx
import pytest

from .harness import GitStack

ZERO = "0" * 40


def _commit(stack: GitStack, work: Path, name: str, content: str) -> str:
    (work / name).parent.mkdir(parents=True, exist_ok=True)
    (work / name).write_text(content)
    stack.git("add", name, cwd=work)
    stack.git("commit", "-q", "-m", f"add {name}", cwd=work)
    return stack.git("rev-parse", "HEAD", cwd=work).stdout.strip()


def _init(stack: GitStack, tmp_path: Path) -> Path:
    work = tmp_path / "work"
    stack.git("init", "-q", "-b", "main", str(work))
    return work


def test_owner_pushes_and_clones_with_a_personal_access_token(
    stack: GitStack, tmp_path: Path
) -> None:
    alice = stack.person()
    repo = stack.new_repo(alice)
    secret = stack.pat(alice)
    work = _init(stack, tmp_path)
    head = _commit(stack, work, "README.md", "hello\n")
    pushed = stack.git("push", stack.url(repo, alice.username, secret), "main", cwd=work)
    assert "main -> main" in pushed.stderr

    clone = tmp_path / "clone"
    stack.git("clone", "-q", stack.url(repo, alice.username, secret), str(clone))
    assert stack.git("rev-parse", "HEAD", cwd=clone).stdout.strip() == head
    assert (clone / "README.md").read_text() == "hello\n"

    # a second push, then fetch it into the clone (negotiation with haves)
    second = _commit(stack, work, "b.txt", "b\n")
    stack.git("push", "-q", stack.url(repo, alice.username, secret), "main", cwd=work)
    stack.git("pull", "-q", "--ff-only", cwd=clone)
    assert stack.git("rev-parse", "HEAD", cwd=clone).stdout.strip() == second


def test_refused_pushes_show_the_hook_messages(stack: GitStack, tmp_path: Path) -> None:
    # deleting the default branch is refused by the pre-receive check; git shows why
    alice = stack.person()
    repo = stack.new_repo(alice)
    secret = stack.pat(alice)
    work = _init(stack, tmp_path)
    _commit(stack, work, "a.txt", "a\n")
    url = stack.url(repo, alice.username, secret)
    stack.git("push", "-q", url, "main", cwd=work)
    refused = stack.git("push", url, ":main", cwd=work, check=False)
    assert refused.returncode != 0
    assert "remote:" in refused.stderr
    assert "pre-receive hook declined" in refused.stderr
    assert "main" in stack.git("ls-remote", url).stdout


def test_protocol_v2_and_v0_clients(stack: GitStack, tmp_path: Path) -> None:
    alice = stack.person()
    repo = stack.new_repo(alice)
    secret = stack.pat(alice)
    work = _init(stack, tmp_path)
    head = _commit(stack, work, "a.txt", "a\n")
    stack.git("push", "-q", stack.url(repo, alice.username, secret), "main", cwd=work)
    url = stack.url(repo, alice.username, secret)
    for version in ("0", "1", "2"):
        listed = stack.git("-c", f"protocol.version={version}", "ls-remote", url).stdout
        assert f"{head}\trefs/heads/main" in listed, (version, listed)
        target = tmp_path / f"clone-v{version}"
        stack.git("-c", f"protocol.version={version}", "clone", "-q", url, str(target))
        assert stack.git("rev-parse", "HEAD", cwd=target).stdout.strip() == head


def test_big_push_streams_without_a_body_limit(stack: GitStack, tmp_path: Path) -> None:
    # 24 MiB of incompressible data: far over api.max_body_bytes (1 MiB) and git's
    # http.postBuffer, so git sends it chunked and the relay must stream it.
    alice = stack.person()
    repo = stack.new_repo(alice)
    secret = stack.pat(alice)
    work = _init(stack, tmp_path)
    (work / "blob.bin").write_bytes(os.urandom(24 * 1024 * 1024))
    stack.git("add", "blob.bin", cwd=work)
    stack.git("commit", "-q", "-m", "big", cwd=work)
    head = stack.git("rev-parse", "HEAD", cwd=work).stdout.strip()
    stack.git("push", "-q", stack.url(repo, alice.username, secret), "main", cwd=work)
    clone = tmp_path / "clone"
    stack.git("clone", "-q", stack.url(repo, alice.username, secret), str(clone))
    assert stack.git("rev-parse", "HEAD", cwd=clone).stdout.strip() == head
    assert (clone / "blob.bin").read_bytes() == (work / "blob.bin").read_bytes()


def test_advertisement_headers_and_framing(stack: GitStack) -> None:
    alice = stack.person()
    repo = stack.new_repo(alice)
    secret = stack.pat(alice)
    auth = (alice.username, secret)
    client = stack.api.client
    response = client.get(
        f"/{repo}.git/info/refs", params={"service": "git-upload-pack"}, auth=auth
    )
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/x-git-upload-pack-advertisement"
    assert "no-cache" in response.headers["cache-control"]
    assert response.content.startswith(b"001e# service=git-upload-pack\n0000")

    v2 = client.get(
        f"/{repo}.git/info/refs",
        params={"service": "git-upload-pack"},
        auth=auth,
        headers={"Git-Protocol": "version=2"},
    )
    assert v2.status_code == 200
    assert v2.content.startswith(b"000eversion 2\n"), v2.content[:40]

    push = client.get(f"/{repo}.git/info/refs", params={"service": "git-receive-pack"}, auth=auth)
    assert push.headers["content-type"] == "application/x-git-receive-pack-advertisement"
    assert push.content.startswith(b"001f# service=git-receive-pack\n0000")

    dumb = client.get(f"/{repo}.git/info/refs", auth=auth)
    assert dumb.status_code == 403
    assert "dumb" in dumb.text
    unknown = client.get(f"/{repo}.git/info/refs", params={"service": "git-shell"}, auth=auth)
    assert unknown.status_code == 400
    wrong_type = client.post(
        f"/{repo}.git/git-upload-pack",
        content=b"0000",
        auth=auth,
        headers={"Content-Type": "application/json"},
    )
    assert wrong_type.status_code == 415


def _ls_refs_request() -> bytes:
    def pkt(text: str) -> bytes:
        return f"{len(text) + 4:04x}{text}".encode()

    return (
        pkt("command=ls-refs\n") + pkt("object-format=sha1\n") + b"0001" + pkt("peel\n") + b"0000"
    )


def test_gzip_request_bodies_are_inflated(stack: GitStack, tmp_path: Path) -> None:
    alice = stack.person()
    repo = stack.new_repo(alice)
    secret = stack.pat(alice)
    work = _init(stack, tmp_path)
    head = _commit(stack, work, "a.txt", "a\n")
    stack.git("push", "-q", stack.url(repo, alice.username, secret), "main", cwd=work)
    headers = {
        "Content-Type": "application/x-git-upload-pack-request",
        "Git-Protocol": "version=2",
    }
    url = f"/{repo}.git/git-upload-pack"
    auth = (alice.username, secret)
    plain = stack.api.client.post(url, content=_ls_refs_request(), headers=headers, auth=auth)
    assert plain.status_code == 200, plain.text
    assert plain.headers["content-type"] == "application/x-git-upload-pack-result"
    assert head.encode() + b" refs/heads/main" in plain.content
    zipped = stack.api.client.post(
        url,
        content=gzip.compress(_ls_refs_request()),
        headers={**headers, "Content-Encoding": "gzip"},
        auth=auth,
    )
    assert zipped.status_code == 200, zipped.text
    assert zipped.content == plain.content
    corrupt = stack.api.client.post(
        url,
        content=b"\x1f\x8b not gzip at all",
        headers={**headers, "Content-Encoding": "gzip"},
        auth=auth,
    )
    assert corrupt.status_code == 400
    assert "gzip request body is corrupt" in corrupt.text
    brotli = stack.api.client.post(
        url, content=b"0000", headers={**headers, "Content-Encoding": "br"}, auth=auth
    )
    assert brotli.status_code == 400
    assert "Content-Encoding 'br'" in brotli.text


# ---------------------------------------------------------------------- who may


def test_anonymous_gets_401_with_basic_challenge(stack: GitStack, tmp_path: Path) -> None:
    alice = stack.person()
    repo = stack.new_repo(alice)
    for path in (f"/{repo}.git/info/refs", "/nobody/nothing.git/info/refs"):
        response = stack.api.client.get(path, params={"service": "git-upload-pack"})
        assert response.status_code == 401, (path, response.text)
        assert response.headers["www-authenticate"] == 'Basic realm="GitStore"'
    refused = stack.git("clone", stack.url(repo), str(tmp_path / "c"), check=False)
    assert refused.returncode != 0
    assert "could not read Username" in refused.stderr or "Authentication" in refused.stderr


def test_public_repositories_are_readable_anonymously_but_not_pushable(
    stack: GitStack, tmp_path: Path
) -> None:
    alice = stack.person()
    repo = stack.new_repo(alice, visibility="PUBLIC")
    secret = stack.pat(alice)
    work = _init(stack, tmp_path)
    head = _commit(stack, work, "a.txt", "a\n")
    stack.git("push", "-q", stack.url(repo, alice.username, secret), "main", cwd=work)
    clone = tmp_path / "anon"
    stack.git("clone", "-q", stack.url(repo), str(clone))
    assert stack.git("rev-parse", "HEAD", cwd=clone).stdout.strip() == head
    _commit(stack, clone, "b.txt", "b\n")
    refused = stack.git("push", stack.url(repo), "main", cwd=clone, check=False)
    assert refused.returncode != 0
    response = stack.api.client.get(
        f"/{repo}.git/info/refs", params={"service": "git-receive-pack"}
    )
    assert response.status_code == 401
    # another user may read it but not push: 403 naming the problem
    bob = stack.person()
    bob_secret = stack.pat(bob)
    denied = stack.git(
        "push", stack.url(repo, bob.username, bob_secret), "main", cwd=clone, check=False
    )
    assert denied.returncode != 0
    assert "403" in denied.stderr or "may not push" in denied.stderr


def test_wrong_credentials_are_401(stack: GitStack) -> None:
    alice = stack.person()
    repo = stack.new_repo(alice)
    secret = stack.pat(alice)
    bob = stack.person()
    path = f"/{repo}.git/info/refs"
    params = {"service": "git-upload-pack"}
    for auth in (
        (alice.username, "gst_" + "x" * 43),  # no such token
        (bob.username, secret),  # alice's token under bob's name
        (alice.username, "not-a-token"),
    ):
        response = stack.api.client.get(path, params=params, auth=auth)
        assert response.status_code == 401, (auth, response.text)
        assert response.headers["www-authenticate"] == 'Basic realm="GitStore"'


def test_private_repository_of_others_is_404_and_unknown_is_404(stack: GitStack) -> None:
    alice, bob = stack.person(), stack.person()
    repo = stack.new_repo(alice)
    bob_secret = stack.pat(bob)
    params = {"service": "git-upload-pack"}
    auth = (bob.username, bob_secret)
    hidden = stack.api.client.get(f"/{repo}.git/info/refs", params=params, auth=auth)
    missing = stack.api.client.get("/nobody-here/nothing.git/info/refs", params=params, auth=auth)
    assert hidden.status_code == missing.status_code == 404
    assert "not found" in hidden.text


def test_read_only_token_cannot_push(stack: GitStack, tmp_path: Path) -> None:
    alice = stack.person()
    repo = stack.new_repo(alice)
    read_only = stack.pat(alice, ("READ",))
    response = stack.api.client.get(
        f"/{repo}.git/info/refs",
        params={"service": "git-receive-pack"},
        auth=(alice.username, read_only),
    )
    assert response.status_code == 403
    assert "'write' scope" in response.text
    work = _init(stack, tmp_path)
    _commit(stack, work, "a.txt", "a\n")
    refused = stack.git(
        "push", stack.url(repo, alice.username, read_only), "main", cwd=work, check=False
    )
    assert refused.returncode != 0
    # reading with it works
    listed = stack.git("ls-remote", stack.url(repo, alice.username, read_only))
    assert listed.returncode == 0


def test_login_jwt_works_as_the_password(stack: GitStack) -> None:
    alice = stack.person()
    repo = stack.new_repo(alice)
    response = stack.api.client.get(
        f"/{repo}.git/info/refs",
        params={"service": "git-receive-pack"},
        auth=(alice.username, alice.token),
    )
    assert response.status_code == 200, response.text
    bob = stack.person()
    wrong_user = stack.api.client.get(
        f"/{repo}.git/info/refs",
        params={"service": "git-upload-pack"},
        auth=(bob.username, alice.token),
    )
    assert wrong_user.status_code == 401


@pytest.mark.parametrize("header", ["Basic !!!", "Digest abc", "Basic " + "YWxpY2U="])
def test_malformed_authorization_is_401(stack: GitStack, header: str) -> None:
    alice = stack.person()
    repo = stack.new_repo(alice)
    response = httpx.get(
        f"{stack.api.base_url}/{repo}.git/info/refs",
        params={"service": "git-upload-pack"},
        headers={"Authorization": header},
    )
    assert response.status_code == 401
