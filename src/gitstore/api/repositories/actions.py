"""Repository use cases: create, look up, list, update, delete. No GraphQL here.

A repository exists in two places: a record in the metadata store (name, settings, who made
it) and a bare repository in the git service. The API reaches the git service only through
its gRPC client (``gitstore.git.client``). Neither side may be left half-done.

**Create** claims the name in the metadata store first, then creates the bare repository:

1. ``store.create_repository``: the store's transaction is the single arbiter of the name
   (two racing creators: one wins, the other gets ``ALREADY_EXISTS`` before touching git),
   and it fails cleanly when the namespace vanished meanwhile (``NOT_FOUND``);
2. ``git.create_repository``; if it fails, the claim is removed again before the error is
   returned. A *definite* refusal from git (``ALREADY_EXISTS``: a leftover repository on
   disk; ``INVALID_ARGUMENT``: a branch name git rejects) created nothing there, so only the
   record goes. An *ambiguous* failure (unavailable, deadline exceeded, internal: git may
   have created it before the answer was lost) also deletes on the git side (``NOT_FOUND``
   there is fine). The clean-up is shielded from cancellation (a client hanging up does not
   interrupt it) and retries a passing store failure a few times; if it still fails, the
   server log names what is left over.

The order leaves the gentler residue in the two crashes nothing can guard against: a crash
between 1 and 2 leaves a record without git data, which ``deleteRepository`` removes (it
accepts a git ``NOT_FOUND``); the opposite order would leave an invisible directory that
blocks the name.

**Delete** removes the git repository first (``NOT_FOUND`` accepted), then the record: if
git fails nothing has changed and a retry works; if the record's delete fails after git
succeeded, a retry finishes it.

**Update** changes the record only: the git service has no call to move ``HEAD`` or rewrite
its description, so ``defaultBranch`` is the branch publishing follows, not git's ``HEAD``.

Visibility: a PRIVATE repository is invisible to callers who may not read it (lookups give
nothing, lists skip it, mutations answer ``NOT_FOUND``), so its name does not leak; callers
who can see it but lack the right get ``PERMISSION_DENIED``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, Protocol

from gitstore.backends.metadata.base import (
    MetadataStore,
    Namespace,
    PublishMode,
    RepositoryPatch,
    RepositoryRecord,
    Tier,
    Visibility,
)
from gitstore.domain.errors import (
    Aborted,
    AlreadyExists,
    FailedPrecondition,
    GitStoreError,
    InvalidArgument,
    NotFound,
    PermanentError,
    PermissionDenied,
    Unavailable,
)
from gitstore.domain.identity import validate_dns_label

from ..graphql.relay import Connection
from ..identity.principal import Principal
from ..namespaces import paging
from ..namespaces.actions import NamespaceActions, is_uuid, require_caller
from ..namespaces.permissions import Standing, standing_of

log = logging.getLogger("gitstore.api.repositories")

MAX_DESCRIPTION = 1024  # the git service's limit too
CLEANUP_ATTEMPTS = 4


class GitRepositories(Protocol):
    """The part of ``gitstore.git.client.GitClient`` this module uses."""

    async def create_repository(
        self, repository_id: str, *, default_branch: str = ..., description: str = ...
    ) -> Any: ...

    async def delete_repository(self, repository_id: str) -> None: ...


GitGetter = Callable[[], GitRepositories]

_cleanups: set[asyncio.Task[None]] = set()  # keeps shielded clean-ups alive until done


def check_description(description: str | None) -> str:
    text = description or ""
    if len(text) > MAX_DESCRIPTION or "\x00" in text:
        raise InvalidArgument(
            f"description must be at most {MAX_DESCRIPTION} characters without NUL bytes",
            field="description",
        )
    return text


class RepositoryActions:
    def __init__(self, store: MetadataStore, git: GitGetter) -> None:
        self.store = store
        self._git = git
        self.namespaces = NamespaceActions(store)

    # ------------------------------------------------------------------ reads
    async def get(
        self, actor: Principal | None, namespace: str, name: str
    ) -> RepositoryRecord | None:
        """The repository if it exists and ``actor`` may read it."""
        validate_dns_label(namespace, "namespace")
        validate_dns_label(name, "name")
        record = await self.store.get_repository_by_name(namespace, name)
        return await self._visible(actor, record)

    async def get_by_id(self, actor: Principal | None, raw_id: str) -> RepositoryRecord | None:
        if not is_uuid(raw_id):
            return None
        return await self._visible(actor, await self.store.get_repository(raw_id))

    async def list(
        self, actor: Principal | None, namespace: Namespace, *, first: int, after: str | None
    ) -> Connection[RepositoryRecord]:
        """Repositories of ``namespace`` the caller may read, oldest first."""
        standing = await standing_of(self.store, actor, namespace)

        async def fetch(size: int, cursor: str | None) -> Any:
            return await self.store.list_repositories(namespace.id, first=size, after=cursor)

        keep = None if standing.can_read_private() else standing.can_read
        return await paging.connection(fetch, first=first, after=after, keep=keep)

    async def _visible(
        self, actor: Principal | None, record: RepositoryRecord | None
    ) -> RepositoryRecord | None:
        if record is None or record.visibility is Visibility.PUBLIC:
            return record
        namespace = await self.store.get_namespace(record.namespace_id)
        if namespace is None:
            return None
        standing = await standing_of(self.store, actor, namespace)
        return record if standing.can_read(record) else None

    # ------------------------------------------------------------------ create
    async def create(
        self,
        actor: Principal | None,
        namespace: str,
        name: str,
        *,
        description: str | None = None,
        publish_mode: PublishMode = PublishMode.ON_COMMIT,
        default_branch: str | None = None,
        visibility: Visibility = Visibility.PRIVATE,
    ) -> RepositoryRecord:
        actor = require_caller(actor, "create repositories")
        owner = await self.namespaces.require(namespace, field="namespace")
        validate_dns_label(name, "name")
        text = check_description(description)
        branch = (default_branch or "main").strip()
        if owner.tier is Tier.ENTERPRISE:
            raise FailedPrecondition(
                f"namespace {namespace!r} is an ENTERPRISE namespace, which owns no"
                " repositories; create it in a USER or ORGANISATION namespace",
                field="namespace",
            )
        if not (await standing_of(self.store, actor, owner)).can_write():
            raise PermissionDenied(
                f"you may not create repositories in {namespace!r} (needs its creator for a"
                " USER namespace, a writer, maintainer or owner for an organisation, or an admin)",
                field="namespace",
            )
        git = self._git()  # no git service configured: fail before claiming anything
        record = await self.store.create_repository(
            owner.id,
            name,
            description=text,
            publish_mode=PublishMode(publish_mode),
            default_branch=branch,
            visibility=Visibility(visibility),
            created_by=actor.username,
        )
        try:
            await git.create_repository(
                record.repository_id, default_branch=branch, description=text
            )
        except BaseException as exc:
            definite = isinstance(exc, PermanentError)
            await _shielded(self._undo_create(git, record, git_too=not definite))
            if isinstance(exc, GitStoreError):
                raise _explain_git_refusal(exc, record.repository_id) from None
            raise
        await self.store.append_audit(
            actor.username,
            "repository.create",
            record.repository_id,
            {
                "publishMode": record.publish_mode.value,
                "defaultBranch": record.default_branch,
                "visibility": record.visibility.value,
            },
        )
        return record

    async def _undo_create(
        self, git: GitRepositories, record: RepositoryRecord, *, git_too: bool
    ) -> None:
        repository_id = record.repository_id
        if git_too:
            try:
                await git.delete_repository(repository_id)
            except NotFound:
                pass
            except Exception:
                log.exception(
                    "creating %s failed and the git service could not confirm it holds"
                    " nothing: a leftover bare repository may remain there",
                    repository_id,
                )
        await _retrying(
            lambda: self.store.delete_repository(record.id),
            f"removing the record of half-created repository {repository_id}",
        )

    # ------------------------------------------------------------------ update, delete
    async def update(
        self,
        actor: Principal | None,
        namespace: str,
        name: str,
        *,
        description: str | None = None,
        publish_mode: PublishMode | None = None,
        default_branch: str | None = None,
        visibility: Visibility | None = None,
        release_patterns: tuple[str, ...] | None = None,
        require_signed_commits: bool | None = None,
    ) -> RepositoryRecord:
        actor = require_caller(actor, "update repositories")
        record, standing = await self._for_change(actor, namespace, name)
        if not standing.can_administer():
            raise PermissionDenied(_administer_denied("update", record), field="name")
        patch = RepositoryPatch(
            description=check_description(description) if description is not None else None,
            publish_mode=PublishMode(publish_mode) if publish_mode is not None else None,
            default_branch=default_branch.strip() if default_branch is not None else None,
            visibility=Visibility(visibility) if visibility is not None else None,
            release_patterns=release_patterns,
            require_signed_commits=require_signed_commits,
        )
        updated = await self.store.update_repository(record.id, patch, updated_by=actor.username)
        changes = {
            "description": patch.description,
            "publishMode": patch.publish_mode.value if patch.publish_mode else None,
            "defaultBranch": patch.default_branch,
            "visibility": patch.visibility.value if patch.visibility else None,
            "releasePatterns": list(release_patterns) if release_patterns is not None else None,
            "requireSignedCommits": require_signed_commits,
        }
        await self.store.append_audit(
            actor.username,
            "repository.update",
            record.repository_id,
            {key: value for key, value in changes.items() if value is not None},
        )
        return updated

    async def delete(self, actor: Principal | None, namespace: str, name: str) -> RepositoryRecord:
        """Delete from the git service, then the record; returns the record as it was."""
        actor = require_caller(actor, "delete repositories")
        record, standing = await self._for_change(actor, namespace, name)
        if not standing.can_administer():
            raise PermissionDenied(_administer_denied("delete", record), field="name")
        # NOT_FOUND in git: already gone there (e.g. a create that crashed half-way);
        # in the store: a concurrent delete finished first.
        with contextlib.suppress(NotFound):
            await self._git().delete_repository(record.repository_id)
        with contextlib.suppress(NotFound):
            await self.store.delete_repository(record.id)
        await self.store.append_audit(actor.username, "repository.delete", record.repository_id)
        return record

    async def _for_change(
        self, actor: Principal, namespace: str, name: str
    ) -> tuple[RepositoryRecord, Standing]:
        owner = await self.namespaces.require(namespace, field="namespace")
        validate_dns_label(name, "name")
        record = await self.store.get_repository_by_name(namespace, name)
        standing = await standing_of(self.store, actor, owner)
        if record is None or not standing.can_read(record):
            raise NotFound(f"repository {namespace}/{name} does not exist", field="name")
        return record, standing


def _administer_denied(what: str, record: RepositoryRecord) -> str:
    return (
        f"you may not {what} repository {record.repository_id} (needs the namespace's creator"
        " for a USER namespace, a maintainer or owner for an organisation, or an admin)"
    )


def _explain_git_refusal(exc: GitStoreError, repository_id: str) -> GitStoreError:
    """The git service's error, with the input field it concerns and a clearer message."""
    if isinstance(exc, AlreadyExists):
        return AlreadyExists(
            f"repository {repository_id} already exists in the git service but has no record"
            " here (a leftover); an operator must remove it before the name can be used",
            field="name",
        )
    if isinstance(exc, InvalidArgument) and exc.field is None:
        lowered = exc.message.lower()
        field = "default_branch" if "branch" in lowered else None
        if field is None and "description" in lowered:
            field = "description"
        return InvalidArgument(exc.message, field=field)
    return exc


async def _shielded(work: Coroutine[Any, Any, None]) -> None:
    """Run ``work`` to the end even if the caller is cancelled meanwhile."""
    task = asyncio.ensure_future(work)
    _cleanups.add(task)
    task.add_done_callback(_cleanups.discard)
    await asyncio.shield(task)


async def _retrying(action: Callable[[], Awaitable[None]], what: str) -> None:
    delay = 0.05
    for attempt in range(1, CLEANUP_ATTEMPTS + 1):
        try:
            await action()
            return
        except NotFound:
            return
        except (Unavailable, Aborted):
            if attempt == CLEANUP_ATTEMPTS:
                log.exception("%s failed %d times; it is left over", what, attempt)
                return
            await asyncio.sleep(delay)
            delay *= 4
        except Exception:
            log.exception("%s failed; it is left over", what)
            return
