"""The gRPC server: ``GitService`` plus health checking and reflection.

Why the synchronous ``grpc.server`` with a thread pool (not ``grpc.aio``): every RPC is
blocking libgit2 work, file locks and fsyncs. With threads each RPC runs straight through
on its worker thread and the per-repository locks are plain ``threading`` locks; with aio
every RPC would hop to a thread pool anyway, adding a hand-off per call. Streaming RPCs are
generators. The one asynchronous part, publishing events, runs in the outbox relay on its
own event loop (a private thread by default, or a loop the caller passes).

Errors: the project's error types become canonical status codes (``InvalidArgument`` ->
``INVALID_ARGUMENT``, ``NotFound`` -> ``NOT_FOUND``, ``AlreadyExists`` ->
``ALREADY_EXISTS``, ``FailedPrecondition`` -> ``FAILED_PRECONDITION``, ``Aborted`` ->
``ABORTED``, ``PermissionDenied`` -> ``PERMISSION_DENIED``, ``Unavailable`` ->
``UNAVAILABLE``) with the error's message as details. Anything else is logged with its
traceback and answered ``INTERNAL`` with an incident id, never the traceback.

Messages: requests may be as large as ``max_commit_bytes`` plus 4 MiB of framing;
responses are unbounded (a blob pushed with git may exceed the commit limit).

``start_server(settings)`` binds (port 0 = any free port), starts serving and the relay, and
returns a ``GitServiceHandle`` with ``.port``, ``.address``, ``.stop()``, ``.transport``
(``transport.GitTransport``: git processes for SSH, the hook socket) and
``.set_hook_uri(uri)`` (where pre-/post-receive reach the API's hook service).

Smart protocol (git transport): ``AdvertiseRefs``, ``UploadPack`` and ``ReceivePack`` run
``git upload-pack|receive-pack --stateless-rpc`` (``transport.rpcs``); reads with a
``quarantine_id`` see a push's quarantined objects (``transport.quarantine``).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import functools
import logging
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TypeVar

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from gitstore import listening
from gitstore.backends.queue.factory import open_queue
from gitstore.config import Settings
from gitstore.domain import errors
from gitstore.domain.identity import RepositoryId
from gitstore.git.status import status_of
from gitstore.git.v1 import git_service_pb2 as pb
from gitstore.git.v1 import git_service_pb2_grpc as pb_grpc
from gitstore.gitservice import commits, durability, merges, reads
from gitstore.gitservice.housekeeping import Housekeeper, Report, Stats
from gitstore.gitservice.outbox import Outbox
from gitstore.gitservice.refs import RefService
from gitstore.gitservice.relay import OutboxRelay, QueueOpener, RelayThread, StoreProbe
from gitstore.gitservice.scheduler import HousekeepingMetrics, HousekeepingScheduler
from gitstore.gitservice.storage import RepositoryInfo, RepositoryStore
from gitstore.gitservice.transport import rpcs
from gitstore.gitservice.transport.push import GitTransport

log = logging.getLogger(__name__)

SERVICE_NAME: str = pb.DESCRIPTOR.services_by_name["GitService"].full_name
OUTBOX_FILE = ".outbox.sqlite3"

S = TypeVar("S")
Req = TypeVar("Req")
R = TypeVar("R")


def _abort(context: grpc.ServicerContext, exc: BaseException, method: str) -> None:
    if isinstance(exc, errors.GitStoreError):
        context.abort(status_of(exc), exc.message)
    incident = uuid.uuid4().hex[:12]
    log.error("%s failed (incident %s)", method, incident, exc_info=exc)
    context.abort(grpc.StatusCode.INTERNAL, f"internal error (incident {incident})")


def unary(
    fn: Callable[[S, Req, grpc.ServicerContext], R],
) -> Callable[[S, Req, grpc.ServicerContext], R]:
    @functools.wraps(fn)
    def wrapper(self: S, request: Req, context: grpc.ServicerContext) -> R:
        try:
            return fn(self, request, context)
        except Exception as exc:
            _abort(context, exc, fn.__name__)
            raise  # unreachable: abort raises

    return wrapper


def stream(
    fn: Callable[[S, Req, grpc.ServicerContext], Iterator[R]],
) -> Callable[[S, Req, grpc.ServicerContext], Iterator[R]]:
    @functools.wraps(fn)
    def wrapper(self: S, request: Req, context: grpc.ServicerContext) -> Iterator[R]:
        try:
            yield from fn(self, request, context)
        except Exception as exc:
            _abort(context, exc, fn.__name__)
            raise

    return wrapper


def _stats_pb(stats: Stats) -> pb.RepositoryStatistics:
    return pb.RepositoryStatistics(
        loose_objects=stats.loose_objects,
        loose_bytes=stats.loose_bytes,
        packed_objects=stats.packed_objects,
        packs=stats.packs,
        pack_bytes=stats.pack_bytes,
        garbage_files=stats.garbage_files,
        garbage_bytes=stats.garbage_bytes,
        has_commit_graph=stats.has_commit_graph,
        has_bitmap=stats.has_bitmap,
    )


def _report_pb(report: Report) -> pb.OptimizeRepositoryResponse:
    return pb.OptimizeRepositoryResponse(
        before=_stats_pb(report.before),
        after=_stats_pb(report.after),
        actions=report.actions,
        reason=report.reason,
        seconds=report.seconds,
        skipped=report.skipped,
    )


def _repo_pb(info: RepositoryInfo) -> pb.Repository:
    return pb.Repository(
        repository_id=info.repository_id,
        default_branch=info.default_branch,
        description=info.description,
    )


class GitServicer(pb_grpc.GitServiceServicer):
    def __init__(
        self,
        store: RepositoryStore,
        outbox: Outbox,
        settings: Settings,
        transport: GitTransport,
        housekeeper: Housekeeper,
        scheduler: HousekeepingScheduler | None = None,
    ) -> None:
        self.store = store
        self.outbox = outbox
        self.git = settings.git
        self.refs = RefService(store, outbox, settings.git)
        self.transport = transport
        self.housekeeper = housekeeper
        self.scheduler = scheduler

    def _wrote(self, repo_id: RepositoryId) -> None:
        if self.scheduler is not None:
            self.scheduler.notify(repo_id)

    def _source(self, repo_id: RepositoryId, quarantine_id: str) -> reads.ReadSource:
        return self.transport.quarantines.source(self.store, repo_id, quarantine_id)

    # ------------------------------------------------------------------ repositories

    @unary
    def CreateRepository(
        self, request: pb.CreateRepositoryRequest, context: grpc.ServicerContext
    ) -> pb.CreateRepositoryResponse:
        repo_id = RepositoryId.parse(request.repository_id)
        info = self.store.create(repo_id, request.default_branch, request.description)
        return pb.CreateRepositoryResponse(repository=_repo_pb(info))

    @unary
    def DeleteRepository(
        self, request: pb.DeleteRepositoryRequest, context: grpc.ServicerContext
    ) -> pb.DeleteRepositoryResponse:
        self.refs.delete_repository(RepositoryId.parse(request.repository_id))
        return pb.DeleteRepositoryResponse()

    @unary
    def ListRepositories(
        self, request: pb.ListRepositoriesRequest, context: grpc.ServicerContext
    ) -> pb.ListRepositoriesResponse:
        infos = self.store.list(request.namespace)
        return pb.ListRepositoriesResponse(repositories=[_repo_pb(i) for i in infos])

    # ------------------------------------------------------------------ commits

    @unary
    def CommitFiles(
        self, request: pb.CommitFilesRequest, context: grpc.ServicerContext
    ) -> pb.CommitFilesResponse:
        repo_id = RepositoryId.parse(request.repository_id)
        try:
            return commits.commit_files(self.store, self.outbox, self.git, repo_id, request)
        finally:
            self._wrote(repo_id)  # a failed attempt may have written objects too

    # ------------------------------------------------------------------ reads

    @stream
    def GetBlobs(
        self, request: pb.GetBlobsRequest, context: grpc.ServicerContext
    ) -> Iterator[pb.Blob]:
        repo_id = RepositoryId.parse(request.repository_id)
        return reads.get_blobs(self._source(repo_id, request.quarantine_id), repo_id, request)

    @stream
    def GetBlobBatches(
        self, request: pb.GetBlobsRequest, context: grpc.ServicerContext
    ) -> Iterator[pb.BlobBatch]:
        repo_id = RepositoryId.parse(request.repository_id)
        source = self._source(repo_id, request.quarantine_id)
        return reads.get_blob_batches(source, repo_id, request)

    @stream
    def ListTree(
        self, request: pb.ListTreeRequest, context: grpc.ServicerContext
    ) -> Iterator[pb.TreeEntry]:
        repo_id = RepositoryId.parse(request.repository_id)
        return reads.list_tree(self._source(repo_id, request.quarantine_id), repo_id, request)

    @unary
    def ResolveRevision(
        self, request: pb.ResolveRevisionRequest, context: grpc.ServicerContext
    ) -> pb.ResolveRevisionResponse:
        repo_id = RepositoryId.parse(request.repository_id)
        source = self._source(repo_id, request.quarantine_id)
        return reads.resolve_revision(source, repo_id, request)

    @unary
    def ListRefs(
        self, request: pb.ListRefsRequest, context: grpc.ServicerContext
    ) -> pb.ListRefsResponse:
        repo_id = RepositoryId.parse(request.repository_id)
        return pb.ListRefsResponse(refs=self.refs.list_refs(repo_id, request.prefix))

    @unary
    def GetChangedPaths(
        self, request: pb.GetChangedPathsRequest, context: grpc.ServicerContext
    ) -> pb.GetChangedPathsResponse:
        repo_id = RepositoryId.parse(request.repository_id)
        return pb.GetChangedPathsResponse(
            changed_paths=reads.changed_paths(
                self._source(repo_id, request.quarantine_id), repo_id, request
            )
        )

    @stream
    def CommitLog(
        self, request: pb.CommitLogRequest, context: grpc.ServicerContext
    ) -> Iterator[pb.CommitInfo]:
        repo_id = RepositoryId.parse(request.repository_id)
        return reads.commit_log(self._source(repo_id, request.quarantine_id), repo_id, request)

    # ------------------------------------------------------------------ merges

    @unary
    def MergeBase(
        self, request: pb.MergeBaseRequest, context: grpc.ServicerContext
    ) -> pb.MergeBaseResponse:
        return merges.merge_base(self.store, RepositoryId.parse(request.repository_id), request)

    @unary
    def WriteCommit(
        self, request: pb.WriteCommitRequest, context: grpc.ServicerContext
    ) -> pb.WriteCommitResponse:
        repo_id = RepositoryId.parse(request.repository_id)
        try:
            return merges.write_commit(self.store, self.git, repo_id, request)
        finally:
            self._wrote(repo_id)

    @unary
    def UpdateBranch(
        self, request: pb.UpdateBranchRequest, context: grpc.ServicerContext
    ) -> pb.UpdateBranchResponse:
        repo_id = RepositoryId.parse(request.repository_id)
        response = merges.update_branch(self.store, self.outbox, self.git, repo_id, request)
        self._wrote(repo_id)
        return response

    # ------------------------------------------------------------------ refs

    @unary
    def CreateBranch(
        self, request: pb.CreateBranchRequest, context: grpc.ServicerContext
    ) -> pb.CreateBranchResponse:
        repo_id = RepositoryId.parse(request.repository_id)
        response = pb.CreateBranchResponse(ref=self.refs.create_branch(repo_id, request))
        self._wrote(repo_id)
        return response

    @unary
    def DeleteBranch(
        self, request: pb.DeleteBranchRequest, context: grpc.ServicerContext
    ) -> pb.DeleteBranchResponse:
        repo_id = RepositoryId.parse(request.repository_id)
        response = pb.DeleteBranchResponse(old_head=self.refs.delete_branch(repo_id, request))
        self._wrote(repo_id)
        return response

    @unary
    def CreateTag(
        self, request: pb.CreateTagRequest, context: grpc.ServicerContext
    ) -> pb.CreateTagResponse:
        repo_id = RepositoryId.parse(request.repository_id)
        ref, tag_sha = self.refs.create_tag(repo_id, request)
        self._wrote(repo_id)
        return pb.CreateTagResponse(ref=ref, tag_object_sha=tag_sha)

    @unary
    def DeleteTag(
        self, request: pb.DeleteTagRequest, context: grpc.ServicerContext
    ) -> pb.DeleteTagResponse:
        repo_id = RepositoryId.parse(request.repository_id)
        response = pb.DeleteTagResponse(old_target=self.refs.delete_tag(repo_id, request))
        self._wrote(repo_id)
        return response

    # ------------------------------------------------------------------ housekeeping

    @unary
    def OptimizeRepository(
        self, request: pb.OptimizeRepositoryRequest, context: grpc.ServicerContext
    ) -> pb.OptimizeRepositoryResponse:
        repo_id = RepositoryId.parse(request.repository_id)
        eager = request.strategy == pb.OPTIMIZE_STRATEGY_EAGER
        return _report_pb(self.housekeeper.optimize(repo_id, eager=eager))

    # ------------------------------------------------------------------ smart protocol

    @stream
    def AdvertiseRefs(
        self, request: pb.AdvertiseRefsRequest, context: grpc.ServicerContext
    ) -> Iterator[pb.PackResponse]:
        return rpcs.advertise_refs(self.transport, request)

    @stream
    def UploadPack(
        self, request_iterator: Iterator[pb.PackRequest], context: grpc.ServicerContext
    ) -> Iterator[pb.PackResponse]:
        return rpcs.serve_pack(self.transport, "git-upload-pack", request_iterator)

    @stream
    def ReceivePack(
        self, request_iterator: Iterator[pb.PackRequest], context: grpc.ServicerContext
    ) -> Iterator[pb.PackResponse]:
        return rpcs.serve_pack(self.transport, "git-receive-pack", request_iterator)


@dataclass
class GitServiceHandle:
    """A running git service. ``stop()`` is idempotent."""

    server: grpc.Server
    port: int
    address: str
    store: RepositoryStore
    outbox: Outbox
    relay: OutboxRelay
    health: health.HealthServicer
    transport: GitTransport
    housekeeper: Housekeeper
    scheduler: HousekeepingScheduler | None = None
    _relay_thread: RelayThread | None = None
    _relay_future: concurrent.futures.Future[None] | None = None
    _stopped: bool = False

    def set_hook_uri(self, uri: str) -> None:
        """Where pushes reach the API's ``HookService`` (``host:port``), from now on."""
        self.transport.set_hook_uri(uri)

    def stop(self, grace: float = 5.0) -> None:
        if self._stopped:
            return
        self._stopped = True
        self.health.enter_graceful_shutdown()
        self.server.stop(grace).wait()
        if self.scheduler is not None:
            self.scheduler.stop()
        if self._relay_thread is not None:
            self._relay_thread.stop()
        elif self._relay_future is not None:
            self.relay.stop()
            try:
                self._relay_future.result(timeout=10.0)
            except Exception:
                log.exception("the outbox relay ended with an error")
        self.transport.close()
        self.outbox.close()

    def wait(self, timeout: float | None = None) -> bool:
        return self.server.wait_for_termination(timeout)


def _bind(server: grpc.Server, host: str, port: int) -> tuple[int, str]:
    listening.ensure_free(host, port, "gRPC git service")
    try:
        bound = server.add_insecure_port(listening.address(host, port))
    except RuntimeError as exc:
        raise listening.cannot_listen(host, port, "gRPC git service", str(exc)) from None
    if not bound:
        raise listening.cannot_listen(host, port, "gRPC git service", "the bind failed")
    return bound, listening.address(host, bound)


def start_server(
    settings: Settings,
    *,
    relay_loop: asyncio.AbstractEventLoop | None = None,
    queue_opener: QueueOpener | None = None,
) -> GitServiceHandle:
    """Start the git service; the relay runs on ``relay_loop`` or on a private thread."""
    durability.configure_libgit2_cache(
        tree_object_bytes=settings.git.tree_cache_object_bytes,
        total_bytes=settings.git.object_cache_bytes,
    )
    store = RepositoryStore(settings.repos_dir(), fsync=settings.git.fsync)
    outbox = Outbox(store.root / OUTBOX_FILE, fsync=settings.git.fsync)
    probe = StoreProbe(store)
    outbox.adopt_orphans(probe)

    opener: QueueOpener = queue_opener or functools.partial(
        open_queue, settings.queue_url(), stream=settings.queue.stream
    )
    relay = OutboxRelay(outbox, probe, opener)

    receive_limit = settings.git.max_commit_bytes + 4 * 1024 * 1024
    server = grpc.server(
        concurrent.futures.ThreadPoolExecutor(
            max_workers=settings.grpc.max_workers, thread_name_prefix="git-rpc"
        ),
        options=[
            ("grpc.max_receive_message_length", receive_limit),
            ("grpc.max_send_message_length", -1),
            ("grpc.so_reuseport", 0),  # a second server on a taken port must fail, not share
        ],
    )
    transport = GitTransport(store, outbox, settings)
    housekeeping = settings.git.housekeeping
    metrics = HousekeepingMetrics()
    housekeeper = Housekeeper(
        store, housekeeping, push_running=transport.pushes_running, observe=metrics.observe
    )
    scheduler = (
        HousekeepingScheduler(housekeeper, housekeeping, metrics) if housekeeping.enabled else None
    )
    if scheduler is not None:
        transport.after_push = scheduler.notify
    servicer = GitServicer(store, outbox, settings, transport, housekeeper, scheduler)
    pb_grpc.add_GitServiceServicer_to_server(servicer, server)
    health_servicer = health.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    reflection.enable_server_reflection(
        (SERVICE_NAME, health.SERVICE_NAME, reflection.SERVICE_NAME), server
    )
    try:
        port, address = _bind(server, settings.grpc.host, settings.grpc.port)
    except BaseException:
        transport.close()
        outbox.close()
        raise
    server.start()
    for name in ("", SERVICE_NAME):
        health_servicer.set(name, health_pb2.HealthCheckResponse.SERVING)
    handle = GitServiceHandle(
        server, port, address, store, outbox, relay, health_servicer, transport, housekeeper
    )
    if scheduler is not None:
        scheduler.start()
        handle.scheduler = scheduler
    if relay_loop is None:
        handle._relay_thread = RelayThread(relay)
        handle._relay_thread.start()
    else:
        handle._relay_future = asyncio.run_coroutine_threadsafe(relay.run(), relay_loop)
    log.info("git service listening on %s (repositories in %s)", address, store.root)
    return handle
