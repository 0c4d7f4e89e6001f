"""Password-guessing defence over real HTTP: ``login`` back-off per account and per client
address, unknown access tokens per address, the client address (TCP peer unless a trusted
proxy forwards it), and disabled users / ended sessions. The limiter's clock is driven by
the test (``services.guard``), never by sleeping."""

from __future__ import annotations

from typing import Any

import pytest

from gitstore.api.app import create_app
from gitstore.api.identity.actions import reset_password, set_user_disabled
from gitstore.api.identity.passwords import Passwords
from gitstore.domain.errors import InvalidArgument

from .conftest import ServerFactory
from .server import LOGIN, PASSWORD, ApiServer, api_settings, unique_name

VIEWER = "{ viewer { username } }"
BEHIND_PROXY = {"api.trusted_proxies": "127.0.0.1"}  # the test client is the "proxy"
CREATE_TOKEN = """
mutation T { createAccessToken(input: {name: "t", scopes: [READ]}) { secret userErrors { code } } }
"""


class Clock:
    def __init__(self) -> None:
        self.now = 5000.0

    def __call__(self) -> float:
        return self.now


class CountingPasswords(Passwords):
    """Counts password verifications (each one an argon2 computation)."""

    verified = 0

    async def verify_async(self, password_hash: str | None, password: str) -> bool:
        self.verified += 1
        return await super().verify_async(password_hash, password)


def limited(factory: ServerFactory, **overrides: Any) -> tuple[ApiServer, Clock, CountingPasswords]:
    settings = {
        "auth.account_failures": 2,
        "auth.address_failures": 100,
        "auth.base_delay_seconds": 60,
        "auth.max_delay_seconds": 900,
        **overrides,
    }
    server = factory(**settings)
    clock = Clock()
    guard = server.services.guard
    assert guard.account is not None
    guard.account.clock = clock
    guard.address.clock = clock
    counting = CountingPasswords()
    server.services.identity.passwords = counting
    return server, clock, counting


def login(server: ApiServer, user: str, password: str, address: str | None = None) -> Any:
    headers = {"X-Forwarded-For": address} if address else None
    response = server.graphql(LOGIN, {"u": user, "p": password}, headers=headers)
    assert response.status_code == 200, response.text
    return response.json()["data"]["login"]


def codes(payload: dict[str, Any]) -> list[str]:
    return [e["code"] for e in payload["userErrors"]]


def test_an_account_backs_off_and_a_locked_attempt_runs_no_argon2(
    api_server_factory: ServerFactory,
) -> None:
    server, clock, passwords = limited(api_server_factory)
    user = server.create_user().username
    for _ in range(3):  # two free failures, the third locks the account for 60 s
        assert codes(login(server, user, "wrong-password")) == ["INVALID_CREDENTIALS"]
    assert passwords.verified == 3

    refused = login(server, user, PASSWORD)  # even the right password waits
    assert refused["token"] is None
    assert refused["userErrors"] == [
        {
            "field": None,
            "code": "TOO_MANY_ATTEMPTS",
            "message": "too many failed sign-in attempts for this account; try again in 60 seconds",
        }
    ]
    assert passwords.verified == 3  # refused before any argon2 work

    clock.now += 45
    assert "try again in 15 seconds" in login(server, user, PASSWORD)["userErrors"][0]["message"]
    clock.now += 15
    assert login(server, user, PASSWORD)["userErrors"] == []  # and the account is reset:
    for _ in range(2):
        assert codes(login(server, user, "wrong-password")) == ["INVALID_CREDENTIALS"]
    assert codes(login(server, user, PASSWORD)) == []


def test_unknown_users_back_off_like_real_ones(api_server_factory: ServerFactory) -> None:
    server, _clock, _passwords = limited(api_server_factory)
    for _ in range(3):
        assert codes(login(server, "nobody-here", "wrong-password")) == ["INVALID_CREDENTIALS"]
    assert codes(login(server, "nobody-here", "wrong-password")) == ["TOO_MANY_ATTEMPTS"]


def test_an_address_spraying_accounts_is_locked_but_others_are_not(
    api_server_factory: ServerFactory,
) -> None:
    server, clock, passwords = limited(
        api_server_factory,
        **{
            "auth.account_failures": 50,
            "auth.address_failures": 3,
            "api.trusted_proxies": "127.0.0.1",
        },
    )
    victim = server.create_user().username
    attacker = "203.0.113.66"
    for _ in range(4):  # one guess at each of four accounts
        assert codes(login(server, unique_name("target"), "Winter2024!", attacker)) == [
            "INVALID_CREDENTIALS"
        ]
    verified = passwords.verified
    refused = login(server, victim, PASSWORD, attacker)
    assert codes(refused) == ["TOO_MANY_ATTEMPTS"]
    assert "from your address; try again in 60 seconds" in refused["userErrors"][0]["message"]
    assert passwords.verified == verified
    # the victim, from their own address, is not affected
    assert codes(login(server, victim, PASSWORD, "198.51.100.20")) == []
    clock.now += 60
    assert codes(login(server, victim, PASSWORD, attacker)) == []


def test_ipv6_clients_count_by_their_64(api_server_factory: ServerFactory) -> None:
    server, _clock, _passwords = limited(
        api_server_factory,
        **{
            "auth.account_failures": 50,
            "auth.address_failures": 1,
            "api.trusted_proxies": "127.0.0.1",
        },
    )
    for host in ("2001:db8:7:7::1", "2001:db8:7:7::2"):  # one subscriber, two addresses
        assert codes(login(server, unique_name(), "wrong-password", host)) == [
            "INVALID_CREDENTIALS"
        ]
    assert codes(login(server, unique_name(), "x", "2001:db8:7:7:ffff::9")) == ["TOO_MANY_ATTEMPTS"]
    assert codes(login(server, unique_name(), "x", "2001:db8:7:8::1")) == ["INVALID_CREDENTIALS"]


def test_x_forwarded_for_is_ignored_unless_the_peer_is_a_trusted_proxy(
    api_server_factory: ServerFactory,
) -> None:
    server, _clock, _passwords = limited(
        api_server_factory, **{"auth.account_failures": 50, "auth.address_failures": 2}
    )
    for n in range(3):  # a different forged address each time: still one client
        assert codes(login(server, unique_name(), "x", f"192.0.2.{n}")) == ["INVALID_CREDENTIALS"]
    assert codes(login(server, unique_name(), "x", "192.0.2.99")) == ["TOO_MANY_ATTEMPTS"]


def test_a_trusted_proxy_chain_is_read_from_the_right(api_server_factory: ServerFactory) -> None:
    server, _clock, _passwords = limited(
        api_server_factory,
        **{
            "auth.account_failures": 50,
            "auth.address_failures": 1,
            "api.trusted_proxies": "127.0.0.1, 10.0.0.0/8",
        },
    )
    # "forged, real client, inner proxy": the client cannot choose its own address
    for forged in ("192.0.2.1", "192.0.2.2"):
        chain = f"{forged}, 198.51.100.7, 10.1.2.3"
        assert codes(login(server, unique_name(), "x", chain)) == ["INVALID_CREDENTIALS"]
    assert codes(login(server, unique_name(), "x", "198.51.100.7")) == ["TOO_MANY_ATTEMPTS"]


def test_the_account_lock_is_bounded(api_server_factory: ServerFactory) -> None:
    server, clock, _passwords = limited(
        api_server_factory, **{"auth.account_failures": 0, "auth.max_delay_seconds": 120}
    )
    user = server.create_user().username
    waits = []
    for _ in range(6):
        assert codes(login(server, user, "wrong-password")) == ["INVALID_CREDENTIALS"]
        blocked = server.services.guard.blocked("", user)
        assert blocked is not None
        waits.append(blocked.retry_after)
        clock.now += blocked.retry_after
    assert waits == [60, 120, 120, 120, 120, 120]  # doubling, then the cap


def test_unknown_access_tokens_lock_the_address_but_login_tokens_still_work(
    api_server_factory: ServerFactory,
) -> None:
    server, clock, _passwords = limited(api_server_factory, **{"auth.address_failures": 2})
    _user, jwt_token = server.user_token()
    secret = server.graphql(CREATE_TOKEN, token=jwt_token).json()["data"]["createAccessToken"][
        "secret"
    ]
    for _ in range(3):
        response = server.graphql(VIEWER, token="gst_" + "x" * 43)
        assert response.status_code == 401
        assert response.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    locked = server.graphql(VIEWER, token=secret)  # a real token is not even looked up now
    assert locked.status_code == 429
    assert locked.headers["Retry-After"] == "60"
    error = locked.json()["errors"][0]
    assert error["extensions"]["code"] == "TOO_MANY_ATTEMPTS"
    assert error["extensions"]["retryAfter"] == 60
    assert "try again in 60 seconds" in error["message"]
    assert server.graphql(VIEWER, token=jwt_token).json()["data"]["viewer"] is not None
    clock.now += 60
    assert server.graphql(VIEWER, token=secret).json()["data"]["viewer"] is not None


def test_a_disabled_user_is_refused_with_every_credential(api_server: ApiServer) -> None:
    user, jwt_token = api_server.user_token()
    secret = api_server.graphql(CREATE_TOKEN, token=jwt_token).json()["data"]["createAccessToken"][
        "secret"
    ]
    store = api_server.services.store
    api_server.run(set_user_disabled(store, user.username, True, actor="test"))
    for token in (jwt_token, secret):
        response = api_server.graphql(VIEWER, token=token)
        assert response.status_code == 401, response.text
    assert "is disabled" in api_server.graphql(VIEWER, token=secret).json()["errors"][0]["message"]
    assert codes(login(api_server, user.username, PASSWORD)) == ["INVALID_CREDENTIALS"]

    api_server.run(set_user_disabled(store, user.username, False, actor="test"))
    assert api_server.graphql(VIEWER, token=secret).json()["data"]["viewer"] is not None
    ended = api_server.graphql(VIEWER, token=jwt_token)  # disabling ended the login session
    assert ended.status_code == 401 and "session has ended" in ended.json()["errors"][0]["message"]
    assert login(api_server, user.username, PASSWORD)["userErrors"] == []


def test_a_password_reset_ends_login_sessions_only(api_server: ApiServer) -> None:
    user = api_server.create_user()
    old_session = api_server.login(user.username)
    secret = api_server.graphql(CREATE_TOKEN, token=old_session).json()["data"][
        "createAccessToken"
    ]["secret"]
    store = api_server.services.store
    api_server.run(
        reset_password(store, Passwords(), user.username, "brand-new-password", actor="test")
    )
    assert api_server.graphql(VIEWER, token=old_session).status_code == 401
    assert api_server.graphql(VIEWER, token=secret).json()["data"]["viewer"] is not None
    assert codes(login(api_server, user.username, PASSWORD)) == ["INVALID_CREDENTIALS"]
    new_session = api_server.login(user.username, "brand-new-password")
    viewer = api_server.graphql(VIEWER, token=new_session).json()["data"]["viewer"]
    assert viewer == {"username": user.username}


@pytest.mark.parametrize("value", ["not-an-address", "10.0.0.0/33"])
def test_bad_trusted_proxies_are_refused_at_start(tmp_path: Any, value: str) -> None:
    with pytest.raises(InvalidArgument, match=r"api\.trusted_proxies"):
        create_app(api_settings(tmp_path, **{"api.trusted_proxies": value}))
