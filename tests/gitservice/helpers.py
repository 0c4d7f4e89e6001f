"""Helpers for the git service tests: settings with small limits, requests, git checks."""

from __future__ import annotations

import subprocess
from pathlib import Path

import grpc
import pytest

from gitstore.config import Settings, load_settings
from gitstore.git.v1 import git_service_pb2 as pb
from gitstore.git.v1 import git_service_pb2_grpc as pb_grpc

MAX_FILE = 64 * 1024
MAX_COMMIT = 256 * 1024
A = pb.ActionType
AUTHOR = pb.Signature(name="Ada Lovelace", email="ada@example.com")


def make_settings(data_dir: Path, **extra: object) -> Settings:
    overrides: dict[str, object] = {
        "data_dir": str(data_dir),
        "grpc.port": 0,
        "git.max_file_bytes": MAX_FILE,
        "git.max_commit_bytes": MAX_COMMIT,
    }
    overrides.update(extra)
    return load_settings(**overrides)


def action(
    kind: int, path: str, content: bytes = b"", previous_path: str = "", mode: int = 0
) -> pb.CommitAction:
    return pb.CommitAction(
        action=kind,  # type: ignore[arg-type]
        path=path,
        content=content,
        previous_path=previous_path,
        mode=mode,
    )


def commit(
    stub: pb_grpc.GitServiceStub,
    repo: str,
    *actions: pb.CommitAction,
    branch: str = "main",
    message: str = "change",
    **fields: object,
) -> pb.CommitFilesResponse:
    request = pb.CommitFilesRequest(
        repository_id=repo,
        branch=branch,
        author=AUTHOR,
        message=message,
        actions=list(actions),
        **fields,  # type: ignore[arg-type]
    )
    return stub.CommitFiles(request)


def rpc_error(call: object) -> grpc.RpcError:
    """Run ``call()`` (a zero-argument callable) and return the RpcError it raised."""
    with pytest.raises(grpc.RpcError) as info:
        result = call()  # type: ignore[operator]
        if hasattr(result, "__iter__") and not isinstance(result, (bytes, str)):
            list(result)
    return info.value


def git(repo_path: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", "--git-dir", str(repo_path), *args], capture_output=True, text=True, check=True
    )
    return done.stdout


def repo_path(settings: Settings, repo: str) -> Path:
    namespace, name = repo.split("/")
    return settings.repos_dir() / namespace / f"{name}.git"
