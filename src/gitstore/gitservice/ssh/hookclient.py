"""The SSH server's client of the API's ``HookService`` (authentication and authorisation).

The API owns users, keys and permissions, so the SSH server asks it: ``authenticate_key``
(``AuthenticateSshKey``: OpenSSH public key line + ``SHA256:`` fingerprint -> user name)
and ``authorize`` (``AuthorizeGit``: user, repository, READ/WRITE, transport ``ssh``).

The address is read at call time: ``set_uri`` wins, else ``settings.hook.grpc.uri``. That
is because ``gitstore serve`` starts the git service (and this server) before the API, whose
hook port may be chosen by the system; the lead sets the uri once the API listens. A
``grpc.aio`` channel is opened lazily on the calling event loop and replaced when the
address changes.

Errors: the status codes become the project's error types with the API's details as the
message (``NOT_FOUND`` -> ``NotFound``, ``PERMISSION_DENIED`` -> ``PermissionDenied``,
``INVALID_ARGUMENT`` -> ``InvalidArgument``, ``UNAUTHENTICATED`` -> ``Unauthenticated``);
anything else (the API down, a timeout, an internal error) is ``Unavailable``.
"""

from __future__ import annotations

import grpc

from gitstore.config import Settings
from gitstore.domain import errors
from gitstore.git import channels
from gitstore.git.status import error_class
from gitstore.hook.v1 import hook_service_pb2 as hook_pb
from gitstore.hook.v1 import hook_service_pb2_grpc as hook_grpc


def _error(exc: grpc.aio.AioRpcError, what: str) -> errors.GitStoreError:
    kind = error_class(exc.code()) or errors.Unavailable
    details = exc.details() or exc.code().name
    if kind is errors.Unavailable:
        return errors.Unavailable(f"{what}: the API's hook service is unavailable ({details})")
    return kind(details)


class HookClient:
    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._uri_override: str | None = None
        self._channel: grpc.aio.Channel | None = None
        self._channel_uri = ""
        self._stub: hook_grpc.HookServiceAsyncStub | None = None

    @property
    def uri(self) -> str:
        return self._uri_override or self._settings.hook.grpc.uri

    def set_uri(self, uri: str) -> None:
        """Dial ``uri`` from the next call on (``host:port`` of the API's hook service)."""
        self._uri_override = uri

    @property
    def timeout(self) -> float:
        return self._settings.hook.grpc.timeout_seconds

    async def _get_stub(self) -> hook_grpc.HookServiceAsyncStub:
        uri = self.uri
        if self._stub is None or uri != self._channel_uri:
            await self.close()
            self._channel = grpc.aio.insecure_channel(uri, options=channels.RECONNECT)
            self._channel_uri = uri
            self._stub = hook_grpc.HookServiceStub(self._channel)
        assert self._channel is not None
        if not await channels.ready(self._channel):
            raise errors.Unavailable(f"the API's hook service at {uri} is unavailable")
        return self._stub

    async def authenticate_key(self, public_key: str, fingerprint: str) -> str:
        """The user name the key belongs to; ``NotFound`` for an unknown key."""
        stub = await self._get_stub()
        request = hook_pb.AuthenticateSshKeyRequest(public_key=public_key, fingerprint=fingerprint)
        try:
            response = await stub.AuthenticateSshKey(request, timeout=self.timeout)
        except grpc.aio.AioRpcError as exc:
            raise _error(exc, "authenticating the SSH key") from None
        if not response.username:
            raise errors.NotFound(f"SSH key {fingerprint} belongs to no user")
        return response.username

    async def authorize(self, username: str, repository_id: str, *, write: bool) -> None:
        """Return if ``username`` may read (or write) the repository over SSH; else raise."""
        stub = await self._get_stub()
        access = hook_pb.GIT_ACCESS_WRITE if write else hook_pb.GIT_ACCESS_READ
        request = hook_pb.AuthorizeGitRequest(
            username=username, repository_id=repository_id, access=access, transport="ssh"
        )
        try:
            await stub.AuthorizeGit(request, timeout=self.timeout)
        except grpc.aio.AioRpcError as exc:
            raise _error(exc, "authorising the git request") from None

    async def close(self) -> None:
        if self._channel is not None:
            channel, self._channel, self._stub = self._channel, None, None
            await channel.close(None)
