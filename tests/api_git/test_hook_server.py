"""The API's HookService over real gRPC: SSH key authentication and git authorisation."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest

from gitstore.api.graphql.relay import decode_global_id
from gitstore.hook.v1 import hook_service_pb2 as hpb
from gitstore.hook.v1 import hook_service_pb2_grpc as hpb_grpc
from tests.api_ns.ops import add_member, create_namespace, create_repository
from tests.support.graphql_ops import mutate, ok

from .harness import GitStack
from .keys import make_key

ADD = """
mutation Add($input: AddSshKeyInput!) {
  addSshKey(input: $input) { sshKey { id } userErrors { field message code } }
}"""
READ, WRITE = hpb.GIT_ACCESS_READ, hpb.GIT_ACCESS_WRITE


@pytest.fixture
def hooks(stack: GitStack) -> Iterator[hpb_grpc.HookServiceStub]:
    with grpc.insecure_channel(f"127.0.0.1:{stack.hook_port}") as channel:
        yield hpb_grpc.HookServiceStub(channel)


def _code(call: object) -> tuple[grpc.StatusCode, str]:
    assert callable(call)
    with pytest.raises(grpc.RpcError) as caught:
        call()
    error = caught.value
    return error.code(), error.details() or ""


def test_authenticate_ssh_key(
    stack: GitStack, hooks: hpb_grpc.HookServiceStub, tmp_path: Path
) -> None:
    alice = stack.person()
    key = make_key(tmp_path, "alice")
    key_id = ok(mutate(stack.api, ADD, {"publicKey": key.public_line}, alice.token))["sshKey"]["id"]
    bare = " ".join(key.public_line.split()[:2])
    answer = hooks.AuthenticateSshKey(
        hpb.AuthenticateSshKeyRequest(public_key=bare, fingerprint=key.fingerprint)
    )
    assert answer.username == alice.username
    assert answer.key_id == decode_global_id(key_id, "SshKey").id
    used = stack.api.run(stack.api.services.store.get_ssh_key_by_fingerprint(key.fingerprint))
    assert used is not None and used.last_used_at is not None

    stranger = make_key(tmp_path, "stranger")
    code, details = _code(
        lambda: hooks.AuthenticateSshKey(
            hpb.AuthenticateSshKeyRequest(
                public_key=stranger.public_line, fingerprint=stranger.fingerprint
            )
        )
    )
    assert code is grpc.StatusCode.NOT_FOUND
    assert stranger.fingerprint in details
    # a registered fingerprint with another key: refused before the lookup
    code, _ = _code(
        lambda: hooks.AuthenticateSshKey(
            hpb.AuthenticateSshKeyRequest(
                public_key=stranger.public_line, fingerprint=key.fingerprint
            )
        )
    )
    assert code is grpc.StatusCode.INVALID_ARGUMENT
    code, _ = _code(
        lambda: hooks.AuthenticateSshKey(hpb.AuthenticateSshKeyRequest(public_key="garbage"))
    )
    assert code is grpc.StatusCode.INVALID_ARGUMENT


def test_authorize_git_follows_the_http_rules(
    stack: GitStack, hooks: hpb_grpc.HookServiceStub
) -> None:
    alice, bob, carol = stack.person(), stack.person(), stack.person()
    org = create_namespace(stack.api, alice.token, "ORGANISATION")["identifier"]
    private = create_repository(stack.api, alice.token, org)["fullName"]
    public = create_repository(stack.api, alice.token, org, visibility="PUBLIC")["fullName"]
    add_member(stack.api, alice.token, org, carol.username, "READER")

    def ask(user: str, repo: str, access: hpb.GitAccess.ValueType) -> grpc.StatusCode:
        try:
            hooks.AuthorizeGit(
                hpb.AuthorizeGitRequest(
                    username=user,
                    repository_id=repo,
                    access=access,
                    transport="ssh",
                )
            )
        except grpc.RpcError as exc:
            code: grpc.StatusCode = exc.code()
            return code
        return grpc.StatusCode.OK

    ok_ = grpc.StatusCode.OK
    assert ask(alice.username, private, WRITE) is ok_
    assert ask(alice.username, private, READ) is ok_
    assert ask(carol.username, private, READ) is ok_
    assert ask(carol.username, private, WRITE) is grpc.StatusCode.PERMISSION_DENIED
    assert ask(bob.username, private, READ) is grpc.StatusCode.NOT_FOUND
    assert ask(bob.username, public, READ) is ok_
    assert ask(bob.username, public, WRITE) is grpc.StatusCode.PERMISSION_DENIED
    assert ask("", public, READ) is ok_
    assert ask("", private, READ) is grpc.StatusCode.UNAUTHENTICATED
    assert ask("", public, WRITE) is grpc.StatusCode.UNAUTHENTICATED
    assert ask(alice.username, f"{org}/nothing-here", READ) is grpc.StatusCode.NOT_FOUND
    assert ask("no-such-user-x", public, READ) is grpc.StatusCode.UNAUTHENTICATED
    assert ask(alice.username, "not a repo id", READ) is grpc.StatusCode.INVALID_ARGUMENT
    assert ask(alice.username, private, hpb.GIT_ACCESS_UNSPECIFIED) is (
        grpc.StatusCode.INVALID_ARGUMENT
    )
