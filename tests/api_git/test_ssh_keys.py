"""SSH keys through GraphQL: ``addSshKey``, ``removeSshKey``, ``viewer { sshKeys }``."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.graphql_ops import error_of, execute, mutate, ok

from .harness import GitStack
from .keys import make_key

ADD = """
mutation Add($input: AddSshKeyInput!) {
  addSshKey(input: $input) {
    clientMutationId
    sshKey { id title fingerprint publicKey createdAt lastUsedAt }
    userErrors { field message code }
  }
}"""
REMOVE = """
mutation Remove($input: RemoveSshKeyInput!) {
  removeSshKey(input: $input) { sshKey { id fingerprint } userErrors { field message code } }
}"""
VIEWER = "{ viewer { username sshKeys { id title fingerprint createdAt lastUsedAt } } }"


@pytest.mark.parametrize(
    ("kind", "bits"), [("ed25519", None), ("ecdsa", 256), ("ecdsa", 521), ("rsa", 2048)]
)
def test_add_computes_the_ssh_keygen_fingerprint(
    stack: GitStack, tmp_path: Path, kind: str, bits: int | None
) -> None:
    alice = stack.person()
    key = make_key(tmp_path, "id", kind, bits)
    payload = ok(
        mutate(
            stack.api, ADD, {"publicKey": key.public_line, "clientMutationId": "m1"}, alice.token
        )
    )
    added = payload["sshKey"]
    assert payload["clientMutationId"] == "m1"
    assert added["fingerprint"] == key.fingerprint
    assert added["title"] == "id@test"  # the comment, by default
    assert added["publicKey"] == " ".join(key.public_line.split()[:2])
    assert added["lastUsedAt"] is None
    listed = execute(stack.api, VIEWER, token=alice.token)["viewer"]["sshKeys"]
    assert [k["fingerprint"] for k in listed] == [key.fingerprint]


def test_bad_keys_are_user_errors_naming_public_key(stack: GitStack, tmp_path: Path) -> None:
    alice = stack.person()
    weak = make_key(tmp_path, "weak", "rsa", 1024)
    valid = make_key(tmp_path, "ok").public_line
    kind, blob = valid.split()[:2]
    cases = {
        "": "empty",
        "hello world": "not supported",
        "ssh-ed25519": "<type> <base64>",
        f"ssh-ed25519 {blob[:-8]}": "not",
        "ssh-ed25519 @@@not-base64@@@": "base64",
        f"ssh-rsa {blob}": "not a valid ssh-rsa",
        weak.public_line: "at least 2048 bits",
        weak.private.read_text(): "PRIVATE",
        "ssh-dss AAAAB3NzaC1kc3MAAACBAP": "not supported",
        f"ssh-ed25519-cert-v01@openssh.com {blob}": "not supported",
    }
    for text, words in cases.items():
        error = error_of(mutate(stack.api, ADD, {"publicKey": text}, alice.token))
        assert error["field"] == "publicKey", (text, error)
        assert error["code"] == "INVALID_ARGUMENT"
        assert words in error["message"], (text, error)
    assert kind == "ssh-ed25519"
    assert execute(stack.api, VIEWER, token=alice.token)["viewer"]["sshKeys"] == []


def test_a_key_belongs_to_one_user(stack: GitStack, tmp_path: Path) -> None:
    alice, bob = stack.person(), stack.person()
    key = make_key(tmp_path, "shared")
    ok(mutate(stack.api, ADD, {"publicKey": key.public_line, "title": "laptop"}, alice.token))
    for who in (alice, bob):
        error = error_of(mutate(stack.api, ADD, {"publicKey": key.public_line}, who.token))
        assert error["code"] == "ALREADY_EXISTS"
        assert error["field"] == "publicKey"
        assert key.fingerprint in error["message"]


def test_remove_and_visibility(stack: GitStack, tmp_path: Path) -> None:
    alice, bob = stack.person(), stack.person()
    admin = stack.person(admin=True)
    first = ok(
        mutate(stack.api, ADD, {"publicKey": make_key(tmp_path, "a").public_line}, alice.token)
    )["sshKey"]
    second = ok(
        mutate(stack.api, ADD, {"publicKey": make_key(tmp_path, "b").public_line}, alice.token)
    )["sshKey"]
    # node(id): the owner only
    node = "query N($id: ID!) { node(id: $id) { ... on SshKey { fingerprint } } }"
    assert execute(stack.api, node, {"id": first["id"]}, alice.token)["node"] == {
        "fingerprint": first["fingerprint"]
    }
    assert execute(stack.api, node, {"id": first["id"]}, bob.token)["node"] is None
    # User.sshKeys of someone else: [] for users, the keys for admins
    user_keys = "query U($id: ID!) { node(id: $id) { ... on User { sshKeys { title } } } }"
    alice_id = execute(stack.api, "{ viewer { id } }", token=alice.token)["viewer"]["id"]
    assert execute(stack.api, user_keys, {"id": alice_id}, bob.token)["node"]["sshKeys"] == []
    assert len(execute(stack.api, user_keys, {"id": alice_id}, admin.token)["node"]["sshKeys"]) == 2

    error = error_of(mutate(stack.api, REMOVE, {"id": first["id"]}, bob.token))
    assert error["code"] == "NOT_FOUND"
    removed = ok(mutate(stack.api, REMOVE, {"id": first["id"]}, alice.token))["sshKey"]
    assert removed["id"] == first["id"]
    left = execute(stack.api, VIEWER, token=alice.token)["viewer"]["sshKeys"]
    assert [k["id"] for k in left] == [second["id"]]
    again = error_of(mutate(stack.api, REMOVE, {"id": first["id"]}, alice.token))
    assert again["code"] == "NOT_FOUND"


def test_access_tokens_cannot_add_keys_and_anonymous_is_401(
    stack: GitStack, tmp_path: Path
) -> None:
    alice = stack.person()
    key = make_key(tmp_path, "k")
    secret = stack.pat(alice)
    error = error_of(mutate(stack.api, ADD, {"publicKey": key.public_line}, secret))
    assert error["code"] == "PERMISSION_DENIED"
    assert "login token" in error["message"]
    anonymous = stack.api.graphql(ADD, {"input": {"publicKey": key.public_line}})
    assert anonymous.status_code == 401
