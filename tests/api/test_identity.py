"""Identity over HTTP: login, JWT verification (forged, none, wrong algorithm, expired,
missing claims), personal access tokens, createUser authorisation."""

from __future__ import annotations

import base64
import json
import stat
import time
from datetime import UTC, datetime

import jwt
import pytest

from gitstore.api.identity.signing_key import load_signing_key
from gitstore.backends.metadata.memory import MemoryMetadataStore
from gitstore.domain.errors import InvalidArgument, Unauthenticated

from .server import LOGIN, PASSWORD, TEST_JWT_SECRET, ApiServer, unique_name

VIEWER = "{ viewer { username isAdmin } }"
CREATE_TOKEN = """
mutation T($name: String!, $scopes: [AccessTokenScope!]!, $days: Int) {
  createAccessToken(input: {name: $name, scopes: $scopes, expiresInDays: $days}) {
    secret accessToken { id name scopes expiresAt revokedAt }
    userErrors { field message code }
  }
}"""
REVOKE_TOKEN = """
mutation R($id: ID!) {
  revokeAccessToken(input: {id: $id, clientMutationId: "r"}) {
    clientMutationId accessToken { id revokedAt } userErrors { field message code }
  }
}"""
CREATE_USER = """
mutation C($u: String!, $p: String!, $admin: Boolean) {
  createUser(input: {username: $u, password: $p, isAdmin: $admin, clientMutationId: "cu"}) {
    clientMutationId user { id username isAdmin } userErrors { field message code }
  }
}"""


def assert_unauthenticated(response, fragment: str) -> None:
    assert response.status_code == 401, response.text
    assert response.headers["www-authenticate"].startswith("Bearer")
    error = response.json()["errors"][0]
    assert error["extensions"]["code"] == "UNAUTHENTICATED"
    assert fragment in error["message"]


def claims(user_id: str, **overrides) -> dict:
    now = int(time.time())
    base = {"sub": user_id, "isAdmin": False, "iat": now, "exp": now + 600, "jti": "j1"}
    base.update(overrides)
    return {k: v for k, v in base.items() if v is not None}


def b64(data: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


# ---------------------------------------------------------------------- login
def test_login_returns_a_signed_token_with_the_required_claims(api_server: ApiServer) -> None:
    user = api_server.create_user(admin=True)
    response = api_server.graphql(LOGIN, {"u": user.username, "p": PASSWORD})
    assert response.status_code == 200
    payload = response.json()["data"]["login"]
    assert payload["userErrors"] == []
    assert payload["user"]["username"] == user.username and payload["user"]["isAdmin"] is True
    decoded = jwt.decode(payload["token"], TEST_JWT_SECRET, algorithms=["HS256"])
    assert set(decoded) == {"sub", "isAdmin", "iat", "exp", "jti", "sessionEpoch"}
    assert decoded["sub"] == user.id and decoded["isAdmin"] is True
    assert decoded["exp"] - decoded["iat"] == 3600
    expires = datetime.fromisoformat(payload["expiresAt"].replace("Z", "+00:00"))
    assert int(expires.timestamp()) == decoded["exp"]
    viewer = api_server.graphql(VIEWER, token=payload["token"]).json()
    assert viewer == {"data": {"viewer": {"username": user.username, "isAdmin": True}}}


def test_wrong_password_and_unknown_user_get_the_same_answer(api_server: ApiServer) -> None:
    user = api_server.create_user()
    answers = [
        api_server.graphql(LOGIN, {"u": user.username, "p": "wrong-password"}),
        api_server.graphql(LOGIN, {"u": "no-such-user", "p": PASSWORD}),
        api_server.graphql(LOGIN, {"u": "", "p": ""}),
    ]
    for response in answers:
        assert response.status_code == 200
        assert response.json()["data"]["login"] == {
            "token": None,
            "expiresAt": None,
            "user": None,
            "userErrors": [
                {
                    "field": None,
                    "message": "invalid username or password",
                    "code": "INVALID_CREDENTIALS",
                }
            ],
        }


def test_viewer_is_null_for_anonymous_callers(api_server: ApiServer) -> None:
    assert api_server.graphql(VIEWER).json() == {"data": {"viewer": None}}


# ---------------------------------------------------------------------- refused tokens
def test_forged_signature_is_refused(api_server: ApiServer) -> None:
    user = api_server.create_user()
    forged = jwt.encode(
        claims(user.id, isAdmin=True), "another-secret-" + "y" * 40, algorithm="HS256"
    )
    assert_unauthenticated(api_server.graphql(VIEWER, token=forged), "signature is invalid")


def test_tampered_payload_is_refused(api_server: ApiServer) -> None:
    user, token = api_server.user_token()
    header, _payload, signature = token.split(".")
    tampered = ".".join([header, b64(claims(user.id, isAdmin=True)), signature])
    assert_unauthenticated(api_server.graphql(VIEWER, token=tampered), "signature is invalid")


def test_alg_none_is_refused(api_server: ApiServer) -> None:
    user = api_server.create_user(admin=True)
    unsigned = f"{b64({'alg': 'none', 'typ': 'JWT'})}.{b64(claims(user.id, isAdmin=True))}."
    assert_unauthenticated(api_server.graphql(VIEWER, token=unsigned), "'none' is not accepted")


@pytest.mark.parametrize("algorithm", ["HS512", "HS384"])
def test_another_hmac_algorithm_is_refused(api_server: ApiServer, algorithm: str) -> None:
    user = api_server.create_user()
    token = jwt.encode(claims(user.id), TEST_JWT_SECRET, algorithm=algorithm)
    assert_unauthenticated(
        api_server.graphql(VIEWER, token=token), f"algorithm '{algorithm}' is not accepted"
    )


def test_rs256_header_is_refused(api_server: ApiServer) -> None:
    user = api_server.create_user()
    token = f"{b64({'alg': 'RS256', 'typ': 'JWT'})}.{b64(claims(user.id))}.c2lnbmF0dXJl"
    assert_unauthenticated(api_server.graphql(VIEWER, token=token), "'RS256' is not accepted")


def test_expired_token_is_refused(api_server: ApiServer) -> None:
    user = api_server.create_user()
    now = int(time.time())
    token = jwt.encode(claims(user.id, iat=now - 7200, exp=now - 3600), TEST_JWT_SECRET)
    assert_unauthenticated(api_server.graphql(VIEWER, token=token), "expired")


@pytest.mark.parametrize("claim", ["sub", "isAdmin", "iat", "exp", "jti"])
def test_token_missing_a_claim_is_refused(api_server: ApiServer, claim: str) -> None:
    user = api_server.create_user()
    token = jwt.encode(claims(user.id, **{claim: None}), TEST_JWT_SECRET)
    assert_unauthenticated(api_server.graphql(VIEWER, token=token), f"missing the '{claim}' claim")


def test_token_of_an_unknown_user_is_refused(api_server: ApiServer) -> None:
    token = jwt.encode(claims("00000000-0000-0000-0000-000000000000"), TEST_JWT_SECRET)
    assert_unauthenticated(api_server.graphql(VIEWER, token=token), "no longer exists")


@pytest.mark.parametrize(
    ("header", "fragment"),
    [
        ("Basic dXNlcjpwYXNz", "must be 'Bearer <token>'"),
        ("Bearer", "no token"),
        ("Bearer abc", "malformed"),
    ],
)
def test_malformed_authorization_headers_are_refused(
    api_server: ApiServer, header: str, fragment: str
) -> None:
    response = api_server.graphql(VIEWER, headers={"Authorization": header})
    assert_unauthenticated(response, fragment)


def test_missing_token_on_a_protected_mutation_is_401(api_server: ApiServer) -> None:
    response = api_server.graphql(CREATE_TOKEN, {"name": "ci", "scopes": ["READ"]})
    assert_unauthenticated(response, "authentication required")
    assert response.json()["data"] is None  # the whole (non-null) payload is gone


# ---------------------------------------------------------------------- access tokens
def test_access_token_create_use_list_revoke(api_server: ApiServer) -> None:
    user, jwt_token = api_server.user_token()
    created = api_server.graphql(
        CREATE_TOKEN, {"name": "agent", "scopes": ["READ", "WRITE"], "days": 30}, token=jwt_token
    ).json()["data"]["createAccessToken"]
    assert created["userErrors"] == []
    secret = created["secret"]
    assert secret.startswith("gst_") and len(secret) > 40
    token = created["accessToken"]
    assert token["name"] == "agent" and token["scopes"] == ["READ", "WRITE"]
    assert token["expiresAt"] is not None and token["revokedAt"] is None

    viewer = api_server.graphql(VIEWER, token=secret).json()
    assert viewer["data"]["viewer"]["username"] == user.username
    listed = api_server.graphql("{ accessTokens { id name lastUsedAt } }", token=secret).json()
    assert [(t["id"], t["name"]) for t in listed["data"]["accessTokens"]] == [
        (token["id"], "agent")
    ]
    assert listed["data"]["accessTokens"][0]["lastUsedAt"] is not None
    assert secret not in json.dumps(listed)

    revoked = api_server.graphql(REVOKE_TOKEN, {"id": token["id"]}, token=jwt_token).json()
    payload = revoked["data"]["revokeAccessToken"]
    assert payload["clientMutationId"] == "r" and payload["userErrors"] == []
    assert payload["accessToken"]["revokedAt"] is not None
    assert_unauthenticated(api_server.graphql(VIEWER, token=secret), "revoked")
    again = api_server.graphql(REVOKE_TOKEN, {"id": token["id"]}, token=jwt_token).json()
    assert again["data"]["revokeAccessToken"]["userErrors"] == []  # idempotent


def test_unknown_access_token_is_refused(api_server: ApiServer) -> None:
    assert_unauthenticated(api_server.graphql(VIEWER, token="gst_" + "x" * 43), "not valid")


def test_read_only_token_cannot_mutate(api_server: ApiServer) -> None:
    _user, jwt_token = api_server.user_token()
    created = api_server.graphql(CREATE_TOKEN, {"name": "ro", "scopes": ["READ"]}, token=jwt_token)
    secret = created.json()["data"]["createAccessToken"]["secret"]
    token_id = created.json()["data"]["createAccessToken"]["accessToken"]["id"]
    response = api_server.graphql(REVOKE_TOKEN, {"id": token_id}, token=secret)
    assert response.status_code == 200
    assert response.json()["data"]["revokeAccessToken"]["userErrors"] == [
        {
            "field": None,
            "message": "this access token lacks the 'write' scope",
            "code": "PERMISSION_DENIED",
        }
    ]


def test_write_only_token_cannot_query(api_server: ApiServer) -> None:
    _user, jwt_token = api_server.user_token()
    created = api_server.graphql(CREATE_TOKEN, {"name": "wo", "scopes": ["WRITE"]}, token=jwt_token)
    secret = created.json()["data"]["createAccessToken"]["secret"]
    response = api_server.graphql(VIEWER, token=secret).json()
    assert response["errors"][0]["extensions"]["code"] == "PERMISSION_DENIED"


def test_access_token_cannot_mint_access_tokens(api_server: ApiServer) -> None:
    _user, jwt_token = api_server.user_token()
    created = api_server.graphql(
        CREATE_TOKEN, {"name": "rw", "scopes": ["READ", "WRITE"]}, token=jwt_token
    )
    secret = created.json()["data"]["createAccessToken"]["secret"]
    again = api_server.graphql(CREATE_TOKEN, {"name": "child", "scopes": ["READ"]}, token=secret)
    errors = again.json()["data"]["createAccessToken"]["userErrors"]
    assert errors[0]["code"] == "PERMISSION_DENIED"
    assert "login token" in errors[0]["message"]


@pytest.mark.parametrize(
    ("variables", "field", "fragment"),
    [
        ({"name": "", "scopes": ["READ"]}, "name", "1..100 characters"),
        ({"name": "x", "scopes": []}, "scopes", "non-empty subset"),
        ({"name": "x", "scopes": ["READ"], "days": 0}, "expiresInDays", "between 1 and 366"),
    ],
)
def test_bad_access_token_input_names_the_field(
    api_server: ApiServer, variables: dict, field: str, fragment: str
) -> None:
    _user, jwt_token = api_server.user_token()
    errors = api_server.graphql(CREATE_TOKEN, variables, token=jwt_token).json()["data"][
        "createAccessToken"
    ]["userErrors"]
    assert errors[0]["field"] == field and fragment in errors[0]["message"]
    assert errors[0]["code"] == "INVALID_ARGUMENT"


def test_revoking_someone_elses_token_is_not_found(api_server: ApiServer) -> None:
    _owner, owner_token = api_server.user_token()
    created = api_server.graphql(
        CREATE_TOKEN, {"name": "mine", "scopes": ["READ"]}, token=owner_token
    )
    token_id = created.json()["data"]["createAccessToken"]["accessToken"]["id"]
    _other, other_token = api_server.user_token()
    errors = api_server.graphql(REVOKE_TOKEN, {"id": token_id}, token=other_token).json()["data"][
        "revokeAccessToken"
    ]["userErrors"]
    assert errors[0]["code"] == "NOT_FOUND" and errors[0]["field"] == "id"


def test_authenticate_basic_accepts_only_the_owners_access_token(api_server: ApiServer) -> None:
    user, jwt_token = api_server.user_token()
    created = api_server.graphql(CREATE_TOKEN, {"name": "git", "scopes": ["READ"]}, token=jwt_token)
    secret = created.json()["data"]["createAccessToken"]["secret"]
    auth = api_server.services.authenticator
    principal = api_server.run(auth.authenticate_basic(user.username, secret))
    assert (principal.username, principal.via, principal.scopes) == (
        user.username,
        "pat",
        frozenset({"read"}),
    )
    with pytest.raises(Unauthenticated, match="does not belong"):
        api_server.run(auth.authenticate_basic("someone-else", secret))
    with pytest.raises(Unauthenticated, match="personal access token"):
        api_server.run(auth.authenticate_basic(user.username, PASSWORD))


# ---------------------------------------------------------------------- createUser
def test_create_user_is_admin_only(api_server: ApiServer) -> None:
    variables = {"u": unique_name("new"), "p": PASSWORD}
    assert_unauthenticated(api_server.graphql(CREATE_USER, variables), "authentication required")

    _user, user_token = api_server.user_token()
    denied = api_server.graphql(CREATE_USER, variables, token=user_token).json()["data"][
        "createUser"
    ]
    assert denied == {
        "clientMutationId": "cu",
        "user": None,
        "userErrors": [
            {
                "field": None,
                "message": "only an admin may create users",
                "code": "PERMISSION_DENIED",
            }
        ],
    }

    _admin, admin_token = api_server.user_token(admin=True)
    created = api_server.graphql(
        CREATE_USER, {**variables, "admin": True}, token=admin_token
    ).json()
    payload = created["data"]["createUser"]
    assert payload["userErrors"] == [] and payload["clientMutationId"] == "cu"
    assert payload["user"]["username"] == variables["u"] and payload["user"]["isAdmin"] is True
    assert api_server.login(variables["u"])  # the new user can log in

    duplicate = api_server.graphql(CREATE_USER, variables, token=admin_token).json()
    assert duplicate["data"]["createUser"]["userErrors"] == [
        {
            "field": "username",
            "message": f"user {variables['u']!r} already exists",
            "code": "ALREADY_EXISTS",
        }
    ]


@pytest.mark.parametrize(
    ("username", "password", "field"),
    [
        ("Upper", PASSWORD, "username"),
        ("-lead", PASSWORD, "username"),
        ("a" * 64, PASSWORD, "username"),
        ("caf\u00e9", PASSWORD, "username"),
        ("", PASSWORD, "username"),
        ("fine-name", "short", "password"),
    ],
)
def test_create_user_rejects_bad_input(
    api_server: ApiServer, username: str, password: str, field: str
) -> None:
    _admin, admin_token = api_server.user_token(admin=True)
    response = api_server.graphql(CREATE_USER, {"u": username, "p": password}, token=admin_token)
    errors = response.json()["data"]["createUser"]["userErrors"]
    assert errors[0]["field"] == field and errors[0]["code"] == "INVALID_ARGUMENT"


def test_user_node_is_fetchable_by_global_id(api_server: ApiServer) -> None:
    user, token = api_server.user_token()
    viewer = api_server.graphql("{ viewer { id } }", token=token).json()["data"]["viewer"]
    node = api_server.graphql(
        "query($id: ID!) { node(id: $id) { __typename ... on User { username } } }",
        {"id": viewer["id"]},
        token=token,
    ).json()
    assert node == {"data": {"node": {"__typename": "User", "username": user.username}}}


# ---------------------------------------------------------------------- signing key
def test_generated_signing_key_is_kept_0600_and_survives_a_restart(
    api_server_factory, tmp_path
) -> None:
    store = MemoryMetadataStore()
    first = api_server_factory(data_dir=tmp_path, metadata_store=store, **{"api.jwt_secret": None})
    key_file = tmp_path / "jwt-secret"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    _user, token = first.user_token()
    key = key_file.read_bytes()
    second = api_server_factory(data_dir=tmp_path, metadata_store=store, **{"api.jwt_secret": None})
    assert key_file.read_bytes() == key
    assert second.graphql(VIEWER, token=token).json()["data"]["viewer"] is not None


def test_short_configured_secret_is_refused(tmp_path) -> None:
    with pytest.raises(InvalidArgument, match="HS256 needs at least 32"):
        load_signing_key("too-short", tmp_path, "HS256")
    assert len(load_signing_key(None, tmp_path, "HS512")) >= 64
    assert datetime.now(UTC)  # keep the import honest
