"""``gitstore git-service`` and ``gitstore serve`` as real commands."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from gitstore.git.v1 import git_service_pb2 as pb
from gitstore.git.v1 import git_service_pb2_grpc as pb_grpc
from tests.gitservice.proc import ROOT, ServiceProcess


def test_git_service_help() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "gitstore", "git-service", "--help"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    for flag in ("--data-dir", "--git-data-dir", "--grpc-host", "--grpc-port", "--queue-url"):
        assert flag in done.stdout


def test_serve_starts_and_stops_cleanly(tmp_path: Path) -> None:
    data = tmp_path / "data"
    service = ServiceProcess(data, command="serve")
    with service, grpc.insecure_channel(service.address) as channel:
        health = health_pb2_grpc.HealthStub(channel)
        status = health.Check(health_pb2.HealthCheckRequest(service="gitstore.git.v1.GitService"))
        assert status.status == health_pb2.HealthCheckResponse.SERVING
        stub = pb_grpc.GitServiceStub(channel)
        stub.CreateRepository(pb.CreateRepositoryRequest(repository_id="acme/served"))
        assert service.terminate() == 0
    assert (data / "repos" / "acme" / "served.git" / "HEAD").is_file()
    log = "".join(service.lines)
    assert "git-service stopped" in log and "Traceback" not in log
