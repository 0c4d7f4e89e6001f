"""Who may fetch from or push to a repository over git: one rule for Smart HTTP and SSH.

``authorize_git(store, principal, "acme/catalog", write=...)`` returns the repository record or
raises the error that fits, in this order:

* **fetch** (``write=False``): anyone may read a PUBLIC repository; a PRIVATE one needs
  ``can_read_repository`` (namespace creator, member, admin; a token needs ``read``).
* **push** (``write=True``): ``can_write_repository`` (creator, writer+, admin; a token needs
  ``write``) — a read-only token can never push.
* An anonymous caller who is refused gets ``Unauthenticated`` whether or not the repository
  exists: over HTTP that is a 401 with ``WWW-Authenticate: Basic``, which makes ``git`` ask
  for (or send stored) credentials and retry; it also does not leak private names.
* An authenticated caller gets ``NotFound`` for an unknown repository and for a PRIVATE one
  they may not read (same message, no leak), and ``PermissionDenied`` when they may read but
  not push.

``principal_for_username`` turns a user name the git service vouches for (an SSH key it
authenticated through ``HookService.AuthenticateSshKey``) into a ``Principal`` with both
scopes: the user must still exist and not be disabled.
"""

from __future__ import annotations

from gitstore.backends.metadata.base import MetadataStore, RepositoryRecord
from gitstore.domain.errors import NotFound, PermissionDenied, Unauthenticated
from gitstore.domain.identity import RepositoryId

from ..identity.principal import ALL_SCOPES, Principal
from ..namespaces.permissions import can_read_repository, can_write_repository


def _not_found(repository_id: str) -> NotFound:
    return NotFound(
        f"repository {repository_id!r} not found (or you may not read it)", field="repository"
    )


def _anonymous(repository_id: str, write: bool) -> Unauthenticated:
    what = "pushing to" if write else "reading"
    return Unauthenticated(
        f"{what} {repository_id!r} needs credentials: your user name and a personal access "
        "token (gst_...) as the password"
    )


async def authorize_git(
    store: MetadataStore, principal: Principal | None, repository_id: str, *, write: bool
) -> RepositoryRecord:
    """The repository record if ``principal`` may fetch (or push, ``write``); else the error."""
    parsed = RepositoryId.parse(repository_id)
    record = await store.get_repository_by_name(parsed.namespace, parsed.name)
    namespace = None if record is None else await store.get_namespace(record.namespace_id)
    if record is None or namespace is None:
        if principal is None:
            raise _anonymous(str(parsed), write)
        raise _not_found(str(parsed))
    readable = await can_read_repository(store, principal, namespace, record)
    if not write:
        if readable:
            return record
    elif await can_write_repository(store, principal, namespace):
        return record
    if principal is None:
        raise _anonymous(record.repository_id, write)
    if not readable:
        raise _not_found(record.repository_id)
    hint = (
        " (this access token lacks the 'write' scope)"
        if principal.via == "pat" and not principal.allows("write")
        else " (needs the writer role or more in its namespace)"
    )
    raise PermissionDenied(
        f"user {principal.username!r} may not push to {record.repository_id!r}{hint}",
        field="repository",
    )


async def principal_for_username(store: MetadataStore, username: str, key_id: str) -> Principal:
    """The principal of a user the git service authenticated (``key_id``: what proved it)."""
    user = await store.get_user_by_username(username)
    if user is None:
        raise Unauthenticated(f"user {username!r} no longer exists")
    if user.disabled:
        raise Unauthenticated(f"user {username!r} is disabled")
    return Principal(
        user_id=user.id,
        username=user.username,
        is_admin=user.is_admin,
        scopes=ALL_SCOPES,
        via="git",
        credential_id=key_id,
    )
