"""Async client of the git service, for the API and the worker (``grpc.aio``).

It lives beside the generated stubs, not in ``gitstore.gitservice``, because the API and the
worker may not import the service. One ``GitClient`` holds one channel; share it.

* Address: ``settings.git.grpc.uri`` (``127.0.0.1:50051``, ``dns:///git-service:50051``).
* Deadline: every call gets ``settings.git.grpc.timeout_seconds`` unless ``timeout=`` says
  otherwise (for a stream, the deadline covers the whole stream).
* Errors: status codes come back as the project's error types with the server's message:
  ``INVALID_ARGUMENT`` -> ``InvalidArgument``, ``NOT_FOUND`` -> ``NotFound``,
  ``ALREADY_EXISTS`` -> ``AlreadyExists``, ``FAILED_PRECONDITION`` -> ``FailedPrecondition``,
  ``ABORTED`` -> ``Aborted``, ``PERMISSION_DENIED`` -> ``PermissionDenied``,
  ``UNAUTHENTICATED`` -> ``Unauthenticated``; ``UNAVAILABLE``, ``DEADLINE_EXCEEDED`` and
  ``RESOURCE_EXHAUSTED`` -> ``Unavailable`` (retryable); anything else -> ``GitServiceError``.

Requests and responses are the generated messages (``gitstore.git.v1.git_service_pb2``);
the few calls with one or two obvious arguments also take them directly.

Smart protocol (the API's Smart HTTP relay): ``advertise_refs``, ``upload_pack`` and
``receive_pack`` stream raw bytes both ways and never hold a whole pack: the request body is
an async iterator of chunks, sent as ``PackRequest`` messages as they come (the first one
carries repository, protocol and ``PushContext``), and git's output comes back as an async
iterator of byte chunks. Their deadline is ``PACK_TIMEOUT`` (an hour: a clone of a big
repository is a long stream) unless ``timeout=`` says otherwise; errors map as above.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from gitstore.config import Settings
from gitstore.domain import errors
from gitstore.git import channels
from gitstore.git.status import error_class
from gitstore.git.v1 import git_service_pb2 as pb
from gitstore.git.v1 import git_service_pb2_grpc as pb_grpc

SERVICE_NAME = "gitstore.git.v1.GitService"
PACK_TIMEOUT = 3600.0


class GitServiceError(errors.GitStoreError):
    """The git service failed in a way that is not the caller's fault (``INTERNAL`` etc.)."""


def error_from_rpc(exc: grpc.aio.AioRpcError) -> errors.GitStoreError:
    """The project error for a failed call, carrying the server's message."""
    kind = error_class(exc.code()) or GitServiceError
    details = exc.details() or exc.code().name
    if kind is GitServiceError:
        details = f"git service: {exc.code().name}: {details}"
    return kind(details)


class GitClient:
    def __init__(self, uri: str, *, timeout: float = 30.0) -> None:
        self.uri = uri
        self.timeout = timeout
        self._channel = grpc.aio.insecure_channel(
            uri, options=[*channels.UNLIMITED_MESSAGES, *channels.RECONNECT]
        )
        self._stub = pb_grpc.GitServiceStub(self._channel)

    @classmethod
    def from_settings(cls, settings: Settings) -> GitClient:
        return cls(settings.git.grpc.uri, timeout=settings.git.grpc.timeout_seconds)

    async def close(self) -> None:
        await self._channel.close(None)

    async def __aenter__(self) -> GitClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def _deadline(self, timeout: float | None) -> float:
        return self.timeout if timeout is None else timeout

    async def _connected(self) -> None:
        """Wait (briefly) for the channel to connect: see ``gitstore.git.channels``."""
        if not await channels.ready(self._channel):
            raise errors.Unavailable(
                f"the git service at {self.uri} is unavailable (no connection within "
                f"{channels.READY_WAIT:g} s)"
            )

    async def _unary(self, method: Any, request: Any, timeout: float | None) -> Any:
        await self._connected()
        try:
            return await method(request, timeout=self._deadline(timeout))
        except grpc.aio.AioRpcError as exc:
            raise error_from_rpc(exc) from None

    async def _stream(self, method: Any, request: Any, timeout: float | None) -> AsyncIterator[Any]:
        await self._connected()
        try:
            async for item in method(request, timeout=self._deadline(timeout)):
                yield item
        except grpc.aio.AioRpcError as exc:
            raise error_from_rpc(exc) from None

    # ------------------------------------------------------------------ repositories

    async def create_repository(
        self,
        repository_id: str,
        *,
        default_branch: str = "",
        description: str = "",
        timeout: float | None = None,
    ) -> pb.Repository:
        request = pb.CreateRepositoryRequest(
            repository_id=repository_id, default_branch=default_branch, description=description
        )
        response = await self._unary(self._stub.CreateRepository, request, timeout)
        repository: pb.Repository = response.repository
        return repository

    async def delete_repository(self, repository_id: str, *, timeout: float | None = None) -> None:
        request = pb.DeleteRepositoryRequest(repository_id=repository_id)
        await self._unary(self._stub.DeleteRepository, request, timeout)

    async def list_repositories(
        self, namespace: str = "", *, timeout: float | None = None
    ) -> list[pb.Repository]:
        request = pb.ListRepositoriesRequest(namespace=namespace)
        response = await self._unary(self._stub.ListRepositories, request, timeout)
        return list(response.repositories)

    # ------------------------------------------------------------------ commits and refs

    async def commit_files(
        self, request: pb.CommitFilesRequest, *, timeout: float | None = None
    ) -> pb.CommitFilesResponse:
        response: pb.CommitFilesResponse = await self._unary(
            self._stub.CommitFiles, request, timeout
        )
        return response

    async def optimize_repository(
        self, repository_id: str, *, eager: bool = False, timeout: float | None = None
    ) -> pb.OptimizeRepositoryResponse:
        """Housekeeping now (heuristic, or ``eager``: full repack, prune, commit-graph)."""
        strategy = pb.OPTIMIZE_STRATEGY_EAGER if eager else pb.OPTIMIZE_STRATEGY_HEURISTIC
        request = pb.OptimizeRepositoryRequest(repository_id=repository_id, strategy=strategy)
        response: pb.OptimizeRepositoryResponse = await self._unary(
            self._stub.OptimizeRepository, request, timeout
        )
        return response

    async def resolve_revision(
        self, repository_id: str, revision: str = "", *, timeout: float | None = None
    ) -> pb.ResolveRevisionResponse:
        request = pb.ResolveRevisionRequest(repository_id=repository_id, revision=revision)
        response: pb.ResolveRevisionResponse = await self._unary(
            self._stub.ResolveRevision, request, timeout
        )
        return response

    async def list_refs(
        self, repository_id: str, prefix: str = "", *, timeout: float | None = None
    ) -> list[pb.Ref]:
        request = pb.ListRefsRequest(repository_id=repository_id, prefix=prefix)
        response = await self._unary(self._stub.ListRefs, request, timeout)
        return list(response.refs)

    async def create_branch(
        self, request: pb.CreateBranchRequest, *, timeout: float | None = None
    ) -> pb.Ref:
        response = await self._unary(self._stub.CreateBranch, request, timeout)
        ref: pb.Ref = response.ref
        return ref

    async def delete_branch(
        self, request: pb.DeleteBranchRequest, *, timeout: float | None = None
    ) -> str:
        response = await self._unary(self._stub.DeleteBranch, request, timeout)
        return str(response.old_head)

    async def create_tag(
        self, request: pb.CreateTagRequest, *, timeout: float | None = None
    ) -> pb.CreateTagResponse:
        response: pb.CreateTagResponse = await self._unary(self._stub.CreateTag, request, timeout)
        return response

    async def delete_tag(
        self, request: pb.DeleteTagRequest, *, timeout: float | None = None
    ) -> str:
        response = await self._unary(self._stub.DeleteTag, request, timeout)
        return str(response.old_target)

    async def merge_base(
        self, repository_id: str, left: str, right: str, *, timeout: float | None = None
    ) -> pb.MergeBaseResponse:
        request = pb.MergeBaseRequest(repository_id=repository_id, left=left, right=right)
        response: pb.MergeBaseResponse = await self._unary(self._stub.MergeBase, request, timeout)
        return response

    async def write_commit(
        self, request: pb.WriteCommitRequest, *, timeout: float | None = None
    ) -> pb.WriteCommitResponse:
        response: pb.WriteCommitResponse = await self._unary(
            self._stub.WriteCommit, request, timeout
        )
        return response

    async def update_branch(
        self, request: pb.UpdateBranchRequest, *, timeout: float | None = None
    ) -> pb.UpdateBranchResponse:
        response: pb.UpdateBranchResponse = await self._unary(
            self._stub.UpdateBranch, request, timeout
        )
        return response

    async def get_changed_paths(
        self, request: pb.GetChangedPathsRequest, *, timeout: float | None = None
    ) -> list[pb.ChangedPath]:
        response = await self._unary(self._stub.GetChangedPaths, request, timeout)
        return list(response.changed_paths)

    # ------------------------------------------------------------------ streams

    def get_blobs(
        self, request: pb.GetBlobsRequest, *, timeout: float | None = None
    ) -> AsyncIterator[pb.Blob]:
        return self._stream(self._stub.GetBlobs, request, timeout)

    def get_blob_batches(
        self, request: pb.GetBlobsRequest, *, timeout: float | None = None
    ) -> AsyncIterator[pb.BlobBatch]:
        """``get_blobs`` with many blobs per message (``BlobBatch.blobs``, request order)."""
        return self._stream(self._stub.GetBlobBatches, request, timeout)

    def list_tree(
        self, request: pb.ListTreeRequest, *, timeout: float | None = None
    ) -> AsyncIterator[pb.TreeEntry]:
        return self._stream(self._stub.ListTree, request, timeout)

    def commit_log(
        self, request: pb.CommitLogRequest, *, timeout: float | None = None
    ) -> AsyncIterator[pb.CommitInfo]:
        return self._stream(self._stub.CommitLog, request, timeout)

    # ------------------------------------------------------------------ smart protocol

    def advertise_refs(
        self,
        repository_id: str,
        service: str,
        *,
        git_protocol: str = "",
        context: pb.PushContext | None = None,
        timeout: float | None = None,
    ) -> AsyncIterator[bytes]:
        """The ref advertisement of ``service`` (``git-upload-pack`` / ``git-receive-pack``),
        without HTTP's ``# service=`` header."""
        request = pb.AdvertiseRefsRequest(
            repository_id=repository_id,
            service=service,
            git_protocol=git_protocol,
            context=context,
        )
        method = self._stub.AdvertiseRefs
        return self._bytes(lambda: method(request, timeout=_pack_deadline(timeout)))

    def upload_pack(
        self,
        repository_id: str,
        body: AsyncIterator[bytes],
        *,
        git_protocol: str = "",
        context: pb.PushContext | None = None,
        timeout: float | None = None,
    ) -> AsyncIterator[bytes]:
        """``git upload-pack --stateless-rpc``: ``body`` in, git's output out."""
        stub = self._stub.UploadPack
        return self._pack(stub, repository_id, body, git_protocol, context, timeout)

    def receive_pack(
        self,
        repository_id: str,
        body: AsyncIterator[bytes],
        *,
        git_protocol: str = "",
        context: pb.PushContext | None = None,
        timeout: float | None = None,
    ) -> AsyncIterator[bytes]:
        """``git receive-pack --stateless-rpc`` (with the pre/post-receive hooks)."""
        stub = self._stub.ReceivePack
        return self._pack(stub, repository_id, body, git_protocol, context, timeout)

    def _pack(
        self,
        method: Any,
        repository_id: str,
        body: AsyncIterator[bytes],
        git_protocol: str,
        context: pb.PushContext | None,
        timeout: float | None,
    ) -> AsyncIterator[bytes]:
        """One stateless-RPC pack call (``UploadPack`` / ``ReceivePack``): ``body`` streamed
        in as requests, git's output streamed back."""
        source = _PackBody(body)
        requests = source.requests(repository_id, git_protocol, context)
        return self._bytes(lambda: method(requests, timeout=_pack_deadline(timeout)), source)

    async def _bytes(
        self, start: Callable[[], Any], body: _PackBody | None = None
    ) -> AsyncIterator[bytes]:
        await self._connected()
        call = start()
        try:
            async for response in call:
                if response.data:
                    yield bytes(response.data)
        except grpc.aio.AioRpcError as exc:
            raise error_from_rpc(exc) from None
        except asyncio.CancelledError:
            # grpc.aio cancels the call when the request iterator fails: report why instead
            failure = body.failure if body is not None else None
            task = asyncio.current_task()
            if failure is None or (task is not None and task.cancelling()):
                raise
            raise failure from None
        finally:
            call.cancel()  # no-op once finished; stops git when the reader gives up early

    # ------------------------------------------------------------------ health

    async def serving(self, *, timeout: float | None = None) -> bool:
        """Whether the service answers its health check with SERVING."""
        stub = health_pb2_grpc.HealthStub(self._channel)
        request = health_pb2.HealthCheckRequest(service=SERVICE_NAME)
        try:
            response = await stub.Check(request, timeout=self._deadline(timeout))
        except grpc.aio.AioRpcError:
            return False
        return bool(response.status == health_pb2.HealthCheckResponse.SERVING)


def _pack_deadline(timeout: float | None) -> float:
    return PACK_TIMEOUT if timeout is None else timeout


class _PackBody:
    """The request side of a pack stream; remembers why reading the body failed."""

    def __init__(self, chunks: AsyncIterator[bytes]) -> None:
        self.chunks = chunks
        self.failure: errors.GitStoreError | None = None

    async def requests(
        self, repository_id: str, git_protocol: str, context: pb.PushContext | None
    ) -> AsyncIterator[pb.PackRequest]:
        yield pb.PackRequest(
            repository_id=repository_id, git_protocol=git_protocol, context=context
        )
        try:
            async for chunk in self.chunks:
                if chunk:
                    yield pb.PackRequest(data=chunk)
        except errors.GitStoreError as exc:
            self.failure = exc
            raise
        except Exception as exc:
            self.failure = errors.InvalidArgument(f"the request body could not be read: {exc!r}")
            raise
