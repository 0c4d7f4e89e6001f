"""Server plumbing: health, reflection, error mapping, and the async client."""

from __future__ import annotations

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from gitstore.config import Settings
from gitstore.domain import errors
from gitstore.domain.events import ZERO_SHA
from gitstore.git.client import GitClient, GitServiceError
from gitstore.git.status import status_of as status_code
from gitstore.git.v1 import git_service_pb2 as pb
from gitstore.git.v1 import git_service_pb2_grpc as pb_grpc
from gitstore.gitservice.server import GitServiceHandle, start_server
from gitstore.gitservice.storage import RepositoryStore
from tests.gitservice.helpers import AUTHOR, A, action, rpc_error


def test_health_is_serving(channel: grpc.Channel) -> None:
    stub = health_pb2_grpc.HealthStub(channel)
    for service in ("", "gitstore.git.v1.GitService"):
        response = stub.Check(health_pb2.HealthCheckRequest(service=service))
        assert response.status == health_pb2.HealthCheckResponse.SERVING
    err = rpc_error(lambda: stub.Check(health_pb2.HealthCheckRequest(service="nope")))
    assert err.code() == grpc.StatusCode.NOT_FOUND


def test_reflection_lists_the_service(channel: grpc.Channel) -> None:
    stub = reflection_pb2_grpc.ServerReflectionStub(channel)
    request = reflection_pb2.ServerReflectionRequest(list_services="")
    [response] = list(stub.ServerReflectionInfo(iter([request])))
    names = {s.name for s in response.list_services_response.service}
    assert {"gitstore.git.v1.GitService", "grpc.health.v1.Health"} <= names
    request = reflection_pb2.ServerReflectionRequest(
        file_containing_symbol="gitstore.git.v1.GitService"
    )
    [response] = list(stub.ServerReflectionInfo(iter([request])))
    assert response.file_descriptor_response.file_descriptor_proto


def test_unexpected_errors_are_internal_without_details(
    stub: pb_grpc.GitServiceStub, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def boom(self: RepositoryStore, namespace: str = "") -> list[object]:
        raise RuntimeError("secret /etc/passwd detail")

    monkeypatch.setattr(RepositoryStore, "list", boom)
    err = rpc_error(lambda: stub.ListRepositories(pb.ListRepositoriesRequest()))
    assert err.code() == grpc.StatusCode.INTERNAL
    details = err.details() or ""
    assert details.startswith("internal error (incident ") and "secret" not in details
    assert "Traceback" not in details
    assert "secret /etc/passwd detail" in caplog.text  # but the log has it


def test_every_project_error_has_its_status_code() -> None:
    expected = {
        errors.InvalidArgument: "INVALID_ARGUMENT",
        errors.NotFound: "NOT_FOUND",
        errors.AlreadyExists: "ALREADY_EXISTS",
        errors.FailedPrecondition: "FAILED_PRECONDITION",
        errors.Aborted: "ABORTED",
        errors.PermissionDenied: "PERMISSION_DENIED",
        errors.Unauthenticated: "UNAUTHENTICATED",
        errors.Unavailable: "UNAVAILABLE",
        errors.GitStoreError: "INTERNAL",
    }
    for kind, code in expected.items():
        assert status_code(kind("x")).name == code


def test_permission_denied_and_aborted_reach_the_client(
    stub: pb_grpc.GitServiceStub, monkeypatch: pytest.MonkeyPatch
) -> None:
    for kind, code in ((errors.PermissionDenied, "PERMISSION_DENIED"), (errors.Aborted, "ABORTED")):

        def refuse(self: RepositoryStore, namespace: str = "", kind: type = kind) -> list[object]:
            raise kind("not today")

        monkeypatch.setattr(RepositoryStore, "list", refuse)
        err = rpc_error(lambda: stub.ListRepositories(pb.ListRepositoriesRequest()))
        assert (err.code().name, err.details()) == (code, "not today")


async def test_async_client(service: GitServiceHandle, settings: Settings) -> None:
    settings.git.grpc.uri = f"127.0.0.1:{service.port}"
    async with GitClient.from_settings(settings) as client:
        assert await client.serving()
        created = await client.create_repository("acme/client", description="d")
        assert created.repository_id == "acme/client"
        assert [r.repository_id for r in await client.list_repositories("acme")] == ["acme/client"]
        done = await client.commit_files(
            pb.CommitFilesRequest(
                repository_id="acme/client",
                author=AUTHOR,
                message="m",
                actions=[action(A.ACTION_TYPE_CREATE, "a/b.yaml", b"x")],
            )
        )
        assert done.old_head == ZERO_SHA
        assert (await client.resolve_revision("acme/client")).commit_sha == done.commit_sha
        entries = [
            e.path
            async for e in client.list_tree(
                pb.ListTreeRequest(repository_id="acme/client", recursive=True)
            )
        ]
        assert entries == ["a", "a/b.yaml"]
        blobs = [
            b
            async for b in client.get_blobs(
                pb.GetBlobsRequest(repository_id="acme/client", paths=["a/b.yaml"])
            )
        ]
        assert blobs[0].content == b"x"
        log = [
            c.sha async for c in client.commit_log(pb.CommitLogRequest(repository_id="acme/client"))
        ]
        assert log == [done.commit_sha]
        [ref] = await client.list_refs("acme/client")
        assert ref.name == "refs/heads/main"
        changes = await client.get_changed_paths(
            pb.GetChangedPathsRequest(repository_id="acme/client")
        )
        assert [c.path for c in changes] == ["a/b.yaml"]
        branch = await client.create_branch(
            pb.CreateBranchRequest(repository_id="acme/client", branch="b")
        )
        assert (
            await client.delete_branch(
                pb.DeleteBranchRequest(repository_id="acme/client", branch="b")
            )
            == branch.target
        )
        tag = await client.create_tag(
            pb.CreateTagRequest(repository_id="acme/client", tag="t", message="m", tagger=AUTHOR)
        )
        assert (
            await client.delete_tag(pb.DeleteTagRequest(repository_id="acme/client", tag="t"))
            == tag.tag_object_sha
        )

        with pytest.raises(errors.AlreadyExists, match="already exists"):
            await client.create_repository("acme/client")
        with pytest.raises(errors.NotFound, match="acme/none not found"):
            await client.resolve_revision("acme/none")
        with pytest.raises(errors.InvalidArgument, match="Acme"):
            await client.delete_repository("Acme/x")
        with pytest.raises(errors.FailedPrecondition, match="expected_head"):
            await client.commit_files(
                pb.CommitFilesRequest(
                    repository_id="acme/client",
                    author=AUTHOR,
                    message="m",
                    expected_head=ZERO_SHA,
                    actions=[action(A.ACTION_TYPE_UPSERT, "x", b"1")],
                )
            )
        with pytest.raises(errors.NotFound):
            async for _ in client.list_tree(
                pb.ListTreeRequest(repository_id="acme/client", revision="nope")
            ):
                pass
        await client.delete_repository("acme/client")


async def test_async_client_unavailable_and_internal(
    service: GitServiceHandle, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with GitClient("127.0.0.1:1", timeout=2.0) as client:
        assert not await client.serving()
        with pytest.raises(errors.Unavailable):
            await client.list_repositories()

    def boom(self: RepositoryStore, namespace: str = "") -> list[object]:
        raise RuntimeError("x")

    monkeypatch.setattr(RepositoryStore, "list", boom)
    async with GitClient(f"127.0.0.1:{service.port}") as client:
        with pytest.raises(GitServiceError, match="INTERNAL"):
            await client.list_repositories()


def test_a_taken_port_is_an_error(service: GitServiceHandle, settings: Settings) -> None:
    settings.grpc.port = service.port
    with pytest.raises(errors.Unavailable, match="cannot listen"):
        start_server(settings)
