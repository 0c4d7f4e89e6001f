"""Sign-in limits and disabled users on git's Smart HTTP, with the real ``git`` client: unknown
access tokens lock the client's address (429 with ``Retry-After``; nothing is looked up while
locked), revoked tokens do not count, a disabled user's token is refused. The limiter runs on
a clock the test drives."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from gitstore.domain.ratelimit import FailureLimiter, Policy

from .harness import GitStack

BAD = "gst_" + "x" * 43
REVOKE = """
mutation R($id: ID!) { revokeAccessToken(input: {id: $id}) { userErrors { code } } }"""
TOKENS = "{ accessTokens { id revokedAt } }"


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(stack: GitStack) -> Iterator[Clock]:
    """A fresh per-address limit for this test: 2 free failures, then 30 s, 60 s, ..."""
    guard = stack.api.services.guard
    saved = guard.address
    clock = Clock()
    guard.address = FailureLimiter(Policy(2, 900, 30, 900), clock=clock)
    try:
        yield clock
    finally:
        guard.address = saved


def ls_remote(stack: GitStack, repo: str, user: str, secret: str) -> tuple[int, str]:
    done = stack.git("ls-remote", stack.url(repo, user, secret), check=False)
    return done.returncode, done.stderr


def test_unknown_tokens_lock_the_address_with_429(stack: GitStack, clock: Clock) -> None:
    alice = stack.person()
    repo = stack.new_repo(alice)
    secret = stack.pat(alice)
    assert ls_remote(stack, repo, alice.username, secret)[0] == 0
    for _ in range(3):
        code, stderr = ls_remote(stack, repo, alice.username, BAD)
        assert code != 0 and "Authentication failed" in stderr, stderr

    code, stderr = ls_remote(stack, repo, alice.username, secret)  # the right token waits
    assert code != 0 and "429" in stderr, stderr
    response = stack.api.client.get(
        f"/{repo}.git/info/refs",
        params={"service": "git-upload-pack"},
        auth=(alice.username, secret),
    )
    assert response.status_code == 429
    assert response.headers["retry-after"] == "30"
    assert "too many failed sign-in attempts from your address" in response.text

    clock.now += 30
    assert ls_remote(stack, repo, alice.username, secret)[0] == 0


def test_revoked_tokens_are_refused_but_do_not_lock(stack: GitStack, clock: Clock) -> None:
    alice = stack.person()
    repo = stack.new_repo(alice)
    old, current = stack.pat(alice), stack.pat(alice)
    token_id = stack.api.graphql(TOKENS, token=alice.token).json()["data"]["accessTokens"][0]["id"]
    stack.api.graphql(REVOKE, {"id": token_id}, token=alice.token)
    for _ in range(5):  # a forgotten CI secret, retried: a real token, not a guess
        code, stderr = ls_remote(stack, repo, alice.username, old)
        assert code != 0 and "Authentication failed" in stderr
    assert ls_remote(stack, repo, alice.username, current)[0] == 0


def test_a_disabled_users_token_is_refused_until_enabled(stack: GitStack) -> None:
    alice = stack.person()
    repo = stack.new_repo(alice)
    secret = stack.pat(alice)
    store = stack.api.services.store
    user = stack.api.run(store.get_user_by_username(alice.username))
    assert user is not None
    stack.api.run(store.set_user_disabled(user.id, True))
    response = stack.api.client.get(
        f"/{repo}.git/info/refs",
        params={"service": "git-upload-pack"},
        auth=(alice.username, secret),
    )
    assert response.status_code == 401 and "is disabled" in response.text
    assert ls_remote(stack, repo, alice.username, secret)[0] != 0
    stack.api.run(store.set_user_disabled(user.id, False))
    assert ls_remote(stack, repo, alice.username, secret)[0] == 0
