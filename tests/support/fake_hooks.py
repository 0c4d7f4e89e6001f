"""A test HookService (real gRPC server, ephemeral port) for the git service's push tests.

``serve_hooks(decide=...)`` runs a ``HookService`` whose ``PreReceive`` records the request,
calls ``decide(request)`` -> ``(allowed, messages)`` and, while it runs, whatever
``during(request)`` the test installs (e.g. reading the quarantine through the git service).
``PostReceive`` records the request and answers ``post_messages``. The real decisions are
the API's (api/hooks); this only stands in for it.
"""

from __future__ import annotations

import concurrent.futures
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import grpc

from gitstore.hook.v1 import hook_service_pb2 as hook_pb
from gitstore.hook.v1 import hook_service_pb2_grpc as hook_grpc

Decide = Callable[[hook_pb.PreReceiveRequest], tuple[bool, list[str]]]


def allow_all(_request: hook_pb.PreReceiveRequest) -> tuple[bool, list[str]]:
    return True, []


@dataclass
class FakeHooks(hook_grpc.HookServiceServicer):
    decide: Decide = allow_all
    during: Callable[[hook_pb.PreReceiveRequest], Any] | None = None
    post_messages: list[str] = field(default_factory=list)
    pre: list[hook_pb.PreReceiveRequest] = field(default_factory=list)
    post: list[hook_pb.PostReceiveRequest] = field(default_factory=list)
    seen: list[Any] = field(default_factory=list)

    def PreReceive(
        self, request: hook_pb.PreReceiveRequest, context: grpc.ServicerContext
    ) -> hook_pb.PreReceiveResponse:
        self.pre.append(request)
        if self.during is not None:
            self.seen.append(self.during(request))
        allowed, messages = self.decide(request)
        return hook_pb.PreReceiveResponse(allowed=allowed, messages=messages)

    def AuthenticateSshKey(
        self, request: hook_pb.AuthenticateSshKeyRequest, context: grpc.ServicerContext
    ) -> hook_pb.AuthenticateSshKeyResponse:
        context.abort(grpc.StatusCode.UNIMPLEMENTED, "not part of the push tests")
        raise AssertionError("unreachable")

    def AuthorizeGit(
        self, request: hook_pb.AuthorizeGitRequest, context: grpc.ServicerContext
    ) -> hook_pb.AuthorizeGitResponse:
        context.abort(grpc.StatusCode.UNIMPLEMENTED, "not part of the push tests")
        raise AssertionError("unreachable")

    def PostReceive(
        self, request: hook_pb.PostReceiveRequest, context: grpc.ServicerContext
    ) -> hook_pb.PostReceiveResponse:
        self.post.append(request)
        return hook_pb.PostReceiveResponse(messages=self.post_messages)


@contextmanager
def serve_hooks(servicer: FakeHooks) -> Iterator[str]:
    """Serve ``servicer`` on 127.0.0.1:<free port>; yields ``host:port``."""
    server = grpc.server(concurrent.futures.ThreadPoolExecutor(max_workers=4))
    hook_grpc.add_HookServiceServicer_to_server(servicer, server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    try:
        yield f"127.0.0.1:{port}"
    finally:
        server.stop(0).wait()
