"""The git service's client of the API's ``HookService`` (PreReceive, PostReceive).

A synchronous gRPC channel (the hook socket's handler threads block on it) to
``settings.hook.grpc.uri``, each call bounded by ``settings.hook.grpc.timeout_seconds``. The
target can change at run time (``set_uri``): ``gitstore serve`` starts the git service before
the API, and tests point it at their own servicer. The channel is made lazily and replaced
when the target changes.

``HookUnavailable`` (the service cannot be reached, or timed out) carries the message the
pusher sees: ``push refused: the GitStore API hook service at <uri> is unavailable``. Other
gRPC errors become ``HookFailed`` with the service's own details.
"""

from __future__ import annotations

import threading

import grpc

from gitstore.git import channels
from gitstore.hook.v1 import hook_service_pb2 as hook_pb
from gitstore.hook.v1 import hook_service_pb2_grpc as hook_grpc

_UNREACHABLE = (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED)


class HookFailed(Exception):
    """The hook service answered with an error."""


class HookUnavailable(HookFailed):
    """The hook service could not be reached in time."""


class HookClient:
    def __init__(self, uri: str, timeout: float) -> None:
        self._uri = uri
        self._timeout = timeout
        self._mutex = threading.Lock()
        self._channel: grpc.Channel | None = None
        self._stub: hook_grpc.HookServiceStub | None = None

    @property
    def uri(self) -> str:
        return self._uri

    def set_uri(self, uri: str) -> None:
        with self._mutex:
            if uri == self._uri:
                return
            self._uri = uri
            old, self._channel, self._stub = self._channel, None, None
        if old is not None:
            old.close()

    def _get_stub(self) -> tuple[str, hook_grpc.HookServiceStub]:
        with self._mutex:
            if self._stub is None or self._channel is None:
                self._channel = grpc.insecure_channel(self._uri, options=channels.RECONNECT)
                self._stub = hook_grpc.HookServiceStub(self._channel)
            channel, uri, stub = self._channel, self._uri, self._stub
        if not channels.ready_sync(channel):
            raise self._unavailable(uri)
        return uri, stub

    @staticmethod
    def _unavailable(uri: str) -> HookUnavailable:
        return HookUnavailable(
            f"push refused: the GitStore API hook service at {uri} is unavailable"
        )

    def _failure(self, uri: str, exc: grpc.RpcError) -> HookFailed:
        code = exc.code() if isinstance(exc, grpc.Call) else None
        if code in _UNREACHABLE or code is None:
            return self._unavailable(uri)
        details = exc.details() if isinstance(exc, grpc.Call) else str(exc)
        return HookFailed(f"push refused: {details}")

    def pre_receive(self, request: hook_pb.PreReceiveRequest) -> hook_pb.PreReceiveResponse:
        uri, stub = self._get_stub()
        try:
            answer: hook_pb.PreReceiveResponse = stub.PreReceive(request, timeout=self._timeout)
        except grpc.RpcError as exc:
            raise self._failure(uri, exc) from None
        return answer

    def post_receive(self, request: hook_pb.PostReceiveRequest) -> hook_pb.PostReceiveResponse:
        uri, stub = self._get_stub()
        try:
            answer: hook_pb.PostReceiveResponse = stub.PostReceive(request, timeout=self._timeout)
        except grpc.RpcError as exc:
            raise self._failure(uri, exc) from None
        return answer

    def close(self) -> None:
        with self._mutex:
            channel, self._channel, self._stub = self._channel, None, None
        if channel is not None:
            channel.close()
