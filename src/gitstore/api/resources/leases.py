"""Controller leases over the API (leader election for controller replicas).

A lease is scoped to a repository: whoever may write the repository's status (a controller
token, see ``access``) may take, renew and release its leases. The lease lives in the
metadata store (``backends/metadata/base_leases.py``), judged by the store's clock, so
replicas on different machines need no synchronised clocks of their own.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from gitstore.backends.metadata.base_leases import ControllerLease

from ..catalog.access import parse_repository
from ..identity.principal import Principal
from . import access

if TYPE_CHECKING:
    from ..services import ApiServices


async def acquire(
    services: ApiServices,
    principal: Principal | None,
    repository: str,
    name: str,
    holder: str,
    lease_seconds: float,
) -> ControllerLease:
    """Take or renew the lease; the lease as stored (the caller leads iff it is the holder)."""
    repository = parse_repository(repository)
    await access.status_writable(services.store, principal, repository)
    return await services.store.acquire_lease(repository, name, holder, lease_seconds=lease_seconds)


async def release(
    services: ApiServices, principal: Principal | None, repository: str, name: str, holder: str
) -> bool:
    repository = parse_repository(repository)
    await access.status_writable(services.store, principal, repository)
    return await services.store.release_lease(repository, name, holder)
