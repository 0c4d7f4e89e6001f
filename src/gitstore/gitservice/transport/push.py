"""``GitTransport``: git processes for both transports, and the pushes they carry.

``open(repository_id, service, context=..., git_protocol=..., stateless=..., advertise=...)``
resolves the repository through the store (no path ever comes from a caller; unknown ->
``NotFound``, bad id or service -> ``InvalidArgument``) and returns a
``process.Invocation``. For a receive-pack that is not just the advertisement it also
registers a *push*: a random token (``GITSTORE_PUSH_TOKEN`` in git's environment, with the
hook socket's path) that the hooks present, the ``PushContext`` (a ``push_id`` is made when
the caller gave none) and the outbox rows of the push. ``Invocation.close()`` settles it.

A push, step by step:

1. pre-receive (``_pre_receive``): the quarantine git reports is registered under a fresh
   ``quarantine_id``; each update becomes a ``PushedRef`` (``analysis``), the paths of the
   pushed commits are checked (``objects``: sent as ``object_problems``); the API's
   ``HookService.PreReceive`` decides (``hookclient``; unreachable -> refused, with a message
   naming the URI). The quarantine id is unregistered as soon as the answer is in. If the
   push is allowed, one ``RefUpdateEvent`` per update (actor = the pusher, correlation id =
   ``push_id``, changed paths as ``CommitFiles`` reports them) is written to the outbox as
   an *intent* — before git moves any ref, the same order as every other ref change.
2. git moves the refs (its own lockfile compare-and-swap per ref).
3. post-receive (``_post_receive``): the rows of the updates git reports as applied are
   marked committed (the relay publishes them), then ``HookService.PostReceive`` is told;
   its failure is logged, never fatal (the refs moved already); its messages are shown.
4. ``close`` (after git exited): rows still open (git failed to update that ref, or
   post-receive never ran) are decided by looking at the ref, as crash recovery does:
   committed if the ref is at ``new`` (or contains it), dropped otherwise. A crash before
   that leaves intent rows that ``Outbox.adopt_orphans`` decides the same way.

Changed paths in events: for a branch update, the tree diff ``old -> new``; for a branch
creation, everything in ``new``'s tree as ADDED; none for tags and deletions. Beyond
``MAX_EVENT_PATHS`` the list is left empty (consumers diff ``old -> new`` themselves) and
``changed_count`` says how many there were; below it, a list that would make the event larger
than ``MAX_EVENT_BYTES`` is left out the same way (``RefUpdateEvent.fitted``).
"""

from __future__ import annotations

import logging
import re
import secrets
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pygit2

from gitstore.config import Settings
from gitstore.domain.errors import InvalidArgument
from gitstore.domain.events import ZERO_SHA, RefUpdateEvent
from gitstore.domain.identity import RepositoryId
from gitstore.git.v1 import git_service_pb2 as pb
from gitstore.gitservice import events
from gitstore.gitservice.outbox import Outbox
from gitstore.gitservice.reads import diff_changes
from gitstore.gitservice.storage import RepositoryStore
from gitstore.gitservice.transport import analysis, hooks, objects, process
from gitstore.gitservice.transport.hookclient import HookClient, HookFailed
from gitstore.gitservice.transport.quarantine import (
    Quarantine,
    QuarantineRegistry,
    check_inside,
    open_with,
)
from gitstore.hook.v1 import hook_service_pb2 as hook_pb

log = logging.getLogger(__name__)

MAX_EVENT_PATHS = 10_000
_SHA = re.compile(r"[0-9a-f]{40}")
_Key = tuple[str, str, str]


@dataclass
class Push:
    repo_id: RepositoryId
    repo_path: Path
    context: pb.PushContext
    rows: dict[_Key, int] = field(default_factory=dict)


MAX_PUSH_OPTIONS = 100
MAX_PUSH_OPTION_CHARS = 1024


def push_options(raw: Any) -> list[str]:
    """The push options the hook reported (``git push -o``), bounded: at most 100 of at
    most 1,024 characters each; anything else is dropped."""
    if not isinstance(raw, list):
        return []
    return [
        o
        for o in raw[:MAX_PUSH_OPTIONS]
        if isinstance(o, str) and o and len(o) <= MAX_PUSH_OPTION_CHARS
    ]


def _hook_context(context: pb.PushContext) -> hook_pb.PushContext:
    return hook_pb.PushContext(
        username=context.username,
        transport=context.transport,
        push_id=context.push_id,
        remote_address=context.remote_address,
    )


def _violation(refs: list[hook_pb.PushedRef], problem: objects.Problem) -> hook_pb.Violation:
    ref = next((r.update.ref for r in refs if any(c.sha == problem.commit for c in r.commits)), "")
    return hook_pb.Violation(
        ref=ref,
        commit=problem.commit,
        path=problem.path,
        rule=problem.rule,
        message=problem.message,
    )


def parse_updates(raw: Any) -> list[_Key]:
    """``[[old, new, ref], ...]`` from the hook, checked: 40-hex ids, refs under ``refs/``."""
    if not isinstance(raw, list):
        raise InvalidArgument("hook updates must be a list")
    updates: list[_Key] = []
    for item in raw:
        if not (
            isinstance(item, list) and len(item) == 3 and all(isinstance(x, str) for x in item)
        ):
            raise InvalidArgument(f"hook update {item!r} is not [old, new, ref]")
        old, new, ref = item
        if not (_SHA.fullmatch(old) and _SHA.fullmatch(new) and ref.startswith("refs/")):
            raise InvalidArgument(f"hook update {item!r} is not valid")
        updates.append((ref, old, new))
    return updates


def _changes(
    repo: pygit2.Repository, ref: str, old: str, new: str
) -> tuple[list[pb.ChangedPath], int]:
    """The changed paths (empty beyond ``MAX_EVENT_PATHS``) and how many there are."""
    if new == ZERO_SHA or not ref.startswith("refs/heads/"):
        return [], 0
    target = analysis.commit_of(repo, new)
    if target is None:
        return [], 0
    before = analysis.commit_of(repo, old)
    diff = (
        before.tree.diff_to_tree(target.tree)
        if before is not None
        else target.tree.diff_to_tree(swap=True)
    )
    if len(diff) > MAX_EVENT_PATHS:
        return [], len(diff)
    changes = list(diff_changes(diff))
    return changes, len(changes)


def push_event(repo: pygit2.Repository, push: Push, ref: str, old: str, new: str) -> RefUpdateEvent:
    trailers = pb.Trailers(actor=push.context.username, request_id=push.context.push_id)
    changes, count = _changes(repo, ref, old, new)
    return events.ref_update(
        str(push.repo_id),
        ref,
        None if old == ZERO_SHA else old,
        None if new == ZERO_SHA else new,
        trailers,
        changes,
        changed_count=count,
    )


class GitTransport:
    """Smart-protocol processes plus the hook socket, quarantines and push bookkeeping."""

    def __init__(
        self,
        store: RepositoryStore,
        outbox: Outbox,
        settings: Settings,
        *,
        hook_client: HookClient | None = None,
    ) -> None:
        self.store = store
        self.outbox = outbox
        self.max_commits = settings.hook.max_commits_per_push
        self.hooks = hook_client or HookClient(
            settings.hook.grpc.uri, settings.hook.grpc.timeout_seconds
        )
        self.quarantines = QuarantineRegistry()
        self._mutex = threading.Lock()
        self._pushes: dict[str, Push] = {}
        self._socket = hooks.HookSocket(self._handle)
        # Called with the repository after each push ends (housekeeping's ``notify``).
        self.after_push: Callable[[RepositoryId], None] | None = None

    def set_hook_uri(self, uri: str) -> None:
        """Point pre-/post-receive at the API's hook service at ``uri`` (``host:port``)."""
        self.hooks.set_uri(uri)

    # ------------------------------------------------------------------ processes

    def open(
        self,
        repository_id: str | RepositoryId,
        service: str,
        *,
        context: pb.PushContext | None = None,
        git_protocol: str = "",
        stateless: bool = False,
        advertise: bool = False,
    ) -> process.Invocation:
        """An ``Invocation`` of ``service`` on the repository; call ``close()`` after git exits."""
        name = process.check_service(service)
        repo_id = (
            repository_id
            if isinstance(repository_id, RepositoryId)
            else RepositoryId.parse(repository_id)
        )
        self.store.info(repo_id)  # NotFound for an unknown repository
        repo_path = self.store.locate(repo_id)
        ctx = pb.PushContext()
        if context is not None:
            ctx.CopyFrom(context)
        if not ctx.push_id:
            ctx.push_id = uuid.uuid4().hex
        if name != process.RECEIVE_PACK or advertise:
            argv = process.git_command(
                name,
                repo_path,
                stateless=stateless,
                advertise=advertise,
                hooks_dir=self._socket.empty_directory,
            )
            return process.Invocation(argv, process.git_env(git_protocol), repo_path)
        token = secrets.token_hex(16)
        with self._mutex:
            self._pushes[token] = Push(repo_id, repo_path, ctx)
        env = process.git_env(
            git_protocol,
            {hooks.TOKEN_ENV: token, hooks.SOCKET_ENV: str(self._socket.socket_path)},
        )
        argv = process.git_command(
            name, repo_path, stateless=stateless, hooks_dir=self._socket.directory
        )
        return process.Invocation(argv, env, repo_path, [lambda: self._finish(token)])

    def pushes_running(self, repo_id: RepositoryId) -> bool:
        """Whether a receive-pack of ``repo_id`` started here is still running."""
        with self._mutex:
            return any(push.repo_id == repo_id for push in self._pushes.values())

    def close(self) -> None:
        self._socket.close()
        self.hooks.close()

    # ------------------------------------------------------------------ hooks

    def _handle(self, request: dict[str, Any]) -> dict[str, Any]:
        with self._mutex:
            push = self._pushes.get(str(request.get("token", "")))
        if push is None:
            return {"allowed": False, "messages": ["push refused: unknown or finished push"]}
        updates = parse_updates(request.get("updates"))
        if request.get("hook") == "pre-receive":
            return self._pre_receive(push, updates, request)
        if request.get("hook") == "post-receive":
            return self._post_receive(push, updates, push_options(request.get("push_options")))
        raise InvalidArgument(f"unknown hook {request.get('hook')!r}")

    def _pre_receive(
        self, push: Push, updates: list[_Key], request: dict[str, Any]
    ) -> dict[str, Any]:
        directory = str(request.get("quarantine") or request.get("object_directory") or "")
        quarantine = Quarantine(
            push.repo_id, push.repo_path, check_inside(push.repo_path, directory)
        )
        repo = open_with(quarantine)
        quarantine_id = self.quarantines.register(quarantine)
        try:
            hidden = analysis.existing_tips(repo)
            refs = [
                analysis.pushed_ref(repo, ref, old, new, hidden, self.max_commits)
                for ref, old, new in updates
            ]
            problems = objects.push_problems(repo, (c.sha for r in refs for c in r.commits))
            call = hook_pb.PreReceiveRequest(
                repository_id=str(push.repo_id),
                refs=refs,
                quarantine_id=quarantine_id,
                context=_hook_context(push.context),
                object_problems=[_violation(refs, p) for p in problems],
            )
            try:
                answer = self.hooks.pre_receive(call)
            except HookFailed as exc:
                log.warning("push %s to %s refused: %s", push.context.push_id, push.repo_id, exc)
                return {"allowed": False, "messages": [str(exc)]}
        finally:
            self.quarantines.unregister(quarantine_id)
        if answer.allowed:
            for ref, old, new in updates:
                event = push_event(repo, push, ref, old, new)
                push.rows[(ref, old, new)] = self.outbox.intent(event)
        return {"allowed": answer.allowed, "messages": list(answer.messages)}

    def _post_receive(
        self, push: Push, updates: list[_Key], options: list[str] | None = None
    ) -> dict[str, Any]:
        for key in updates:
            row = push.rows.pop(key, None)
            if row is not None:
                self.outbox.committed(row)
            else:
                log.warning("post-receive reported %s without a pre-receive intent", key)
        call = hook_pb.PostReceiveRequest(
            repository_id=str(push.repo_id),
            updates=[hook_pb.RefUpdate(ref=ref, old=old, new=new) for ref, old, new in updates],
            context=_hook_context(push.context),
            push_options=options or [],
        )
        try:
            answer = self.hooks.post_receive(call)
        except HookFailed as exc:
            log.warning("post-receive of push %s: %s", push.context.push_id, exc)
            return {"allowed": True, "messages": []}
        return {"allowed": True, "messages": list(answer.messages)}

    def _finish(self, token: str) -> None:
        with self._mutex:
            push = self._pushes.pop(token, None)
        if push is None:
            return
        if self.after_push is not None:
            self.after_push(push.repo_id)
        for (ref, _old, new), row in push.rows.items():
            now = self.store.ref_target(push.repo_id, ref)
            if new == ZERO_SHA:
                landed = now is None
            else:
                landed = now is not None and self.store.contains(push.repo_id, now, new)
            if landed:
                self.outbox.committed(row)
            else:
                self.outbox.discard(row)
