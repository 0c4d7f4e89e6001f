"""PreReceive: the API decides whether a push may land (docs/git-transport.md "Push policy").

The git service calls this from git's pre-receive hook with every ref update, the commits
each brings (with their SSH signature status) and a ``quarantine_id`` under which its read
RPCs see the pushed objects. In order:

1. **who**: the repository must exist and the pusher (``context.username``, a user who is
   not disabled) must be allowed to write it — the same ``can_write_repository`` rule as
   GraphQL mutations (the transport already checked, but a membership can change between
   the ref advertisement and the hook). Failing this is a refusal with rule ``permission``;
   nothing else is looked at.
2. **refs**: ``gitstore.domain.publishing.ref_violations`` per update, with the facts looked
   up here: recorded releases of the release tags the push touches, and — when the
   repository has ``require_signed_commits`` — the pusher's SSH key fingerprints.
3. **objects**: the git service's ``object_problems`` (pushed paths that are not UTF-8, too
   long or deep, submodules, ...: ``gitservice.transport.objects``) are violations as sent.
4. **content**: ``prereceive_content.ContentCheck`` (every pushed commit valid, every pushed
   tip's references resolvable, no duplicate files), skipped for a push that is refused for
   ``permission``; each commit is judged with the kinds of its own tree, and a commit that
   changes ``kinds/`` must not break stored resources (``prereceive_kinds``).

The answer is ``allowed`` with one ``✓`` line (how many manifests were validated, how
long it took), or not allowed with every violation and the refusal block
(``publishing.refusal_lines``) as ``messages``. Exceptions (the git service or the store
unavailable) propagate: the hook server turns them into a gRPC error and the git service
refuses the push (fail closed).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING

from gitstore.backends.metadata.base import MetadataStore, RepositoryRecord, User
from gitstore.domain.publishing import (
    PERMISSION,
    PolicyFacts,
    PushedCommit,
    RecordedRelease,
    RefKind,
    RefPush,
    RepositoryPolicy,
    Violation,
    classify_ref,
    ref_violations,
    refusal_lines,
    success_line,
)
from gitstore.hook.v1 import hook_service_pb2 as hook_pb2

from ..identity.principal import ALL_SCOPES, Principal
from ..namespaces.permissions import can_write_repository
from .prereceive_kinds import PushKinds

if TYPE_CHECKING:
    from ..services import ApiServices

log = logging.getLogger("gitstore.api.hooks")


async def pre_receive(
    services: ApiServices, request: hook_pb2.PreReceiveRequest
) -> hook_pb2.PreReceiveResponse:
    started = time.perf_counter()
    store = services.store
    username = request.context.username
    record = await repository_record(store, request.repository_id)
    if record is None:
        return refuse(
            [Violation("", PERMISSION, f"repository {request.repository_id!r} does not exist")]
        )
    user = await store.get_user_by_username(username) if username else None
    if not await may_write(store, user, record):
        who = f"user {username!r}" if username else "an anonymous user"
        return refuse([Violation("", PERMISSION, f"{who} may not push to {record.repository_id}")])
    assert user is not None
    pushes = [ref_push(r) for r in request.refs]
    policy = RepositoryPolicy(
        record.default_branch, tuple(record.release_patterns), record.require_signed_commits
    )
    facts = await policy_facts(store, record, user, pushes, policy)
    max_commits = services.settings.hook.max_commits_per_push
    violations = [
        Violation(v.ref, v.rule, v.message, v.commit, v.path, v.field)
        for v in request.object_problems
    ]
    for push in pushes:
        violations.extend(ref_violations(push, policy, facts, max_commits=max_commits))

    kinds = PushKinds(
        services.git(),
        services.kinds(),
        record.repository_id,
        request.quarantine_id,
        services.hook_runner,
        services.settings.content.max_manifest_bytes,
        services.hook_pool,
    )
    kind_violations, check = await kinds.check(pushes)
    violations.extend(kind_violations)
    violations.extend(await check.check_commits(pushes))
    for push in pushes:
        violations.extend(await check.check_tip(push))
    elapsed = time.perf_counter() - started
    log.info(
        "pre-receive %s by %s: %d updates, %d files validated, %d violations in %.2f s",
        record.repository_id,
        username,
        len(pushes),
        check.validated,
        len(violations),
        elapsed,
    )
    if violations:
        return refuse(violations)
    return hook_pb2.PreReceiveResponse(
        allowed=True, messages=[success_line(check.validated, elapsed)]
    )


def refuse(violations: Sequence[Violation]) -> hook_pb2.PreReceiveResponse:
    return hook_pb2.PreReceiveResponse(
        allowed=False,
        violations=[
            hook_pb2.Violation(
                ref=v.ref,
                commit=v.commit,
                path=v.path,
                rule=v.rule,
                message=v.message,
                field=v.field,
            )
            for v in violations
        ],
        messages=refusal_lines(violations),
    )


async def repository_record(store: MetadataStore, repository_id: str) -> RepositoryRecord | None:
    namespace, slash, name = repository_id.partition("/")
    if not slash or not namespace or not name:
        return None
    return await store.get_repository_by_name(namespace, name)


async def may_write(store: MetadataStore, user: User | None, record: RepositoryRecord) -> bool:
    if user is None or user.disabled:
        return False
    namespace = await store.get_namespace(record.namespace_id)
    if namespace is None:
        return False
    # The transport authenticated the pusher and checked the credential's scopes; here the
    # question is the user's standing in the namespace.
    principal = Principal(user.id, user.username, user.is_admin, ALL_SCOPES, "git", "")
    return await can_write_repository(store, principal, namespace)


async def policy_facts(
    store: MetadataStore,
    record: RepositoryRecord,
    user: User,
    pushes: Sequence[RefPush],
    policy: RepositoryPolicy,
) -> PolicyFacts:
    releases: dict[str, RecordedRelease] = {}
    for push in pushes:
        cls = classify_ref(push.ref, policy)
        if cls.kind is RefKind.RELEASE_TAG and cls.short not in releases:
            found = await store.get_release(record.id, cls.short)
            if found is not None:
                releases[cls.short] = RecordedRelease(found.tag, found.commit_sha)
    fingerprints: list[str] = []
    if policy.require_signed_commits:
        fingerprints = [k.fingerprint for k in await store.list_ssh_keys(user.id)]
    return PolicyFacts(releases=releases, fingerprints=fingerprints)


def ref_push(pushed: hook_pb2.PushedRef) -> RefPush:
    """The domain view of one ``PushedRef``."""
    return RefPush(
        ref=pushed.update.ref,
        old=pushed.update.old,
        new=pushed.update.new,
        new_type=pushed.new_type,
        peeled=pushed.peeled,
        fast_forward=pushed.fast_forward,
        commits=tuple(
            PushedCommit(
                c.sha,
                tuple(c.parent_shas),
                c.signature or "none",
                c.signer_fingerprint,
            )
            for c in pushed.commits
        ),
        truncated=pushed.truncated,
        tag_signature=pushed.tag_signature or "none",
        tag_signer=pushed.tag_signer_fingerprint,
    )
