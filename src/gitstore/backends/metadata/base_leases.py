"""Controller leases: leader election for controller replicas (docs/controllers.md).

A lease is a row ``(scope, name)`` — e.g. ``("acme/catalog", "readiness")`` — held by one
``holder`` until ``expires_at``. ``acquire_lease`` is one compare-and-set judged by the
store's clock: it takes a free or expired lease, renews one the caller already holds, and
otherwise changes nothing; it returns the lease as stored afterwards, so the caller leads
iff ``lease.holder == holder``. ``release_lease`` lets a leader step down at once.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass
from datetime import datetime

from gitstore.domain.errors import InvalidArgument

MAX_LEASE_SECONDS = 3600.0


@dataclass(frozen=True, slots=True)
class ControllerLease:
    scope: str
    name: str
    holder: str
    acquired_at: datetime
    renewed_at: datetime
    expires_at: datetime
    transitions: int


def check_lease_request(scope: str, name: str, holder: str, lease_seconds: float) -> None:
    """Bad input named before anything is touched."""
    for field, value in (("scope", scope), ("name", name), ("holder", holder)):
        if not value or len(value) > 256:
            raise InvalidArgument(f"lease {field} must be 1-256 characters", field=field)
    if not 0 < lease_seconds <= MAX_LEASE_SECONDS:  # also NaN
        raise InvalidArgument(
            f"lease_seconds must be > 0 and <= {MAX_LEASE_SECONDS:g}", field="leaseSeconds"
        )


class LeaseMetadata(abc.ABC):
    @abc.abstractmethod
    async def acquire_lease(
        self, scope: str, name: str, holder: str, *, lease_seconds: float
    ) -> ControllerLease:
        """Take (free or expired) or renew (held by ``holder``) the lease; the stored lease."""

    @abc.abstractmethod
    async def release_lease(self, scope: str, name: str, holder: str) -> bool:
        """Drop the lease if ``holder`` holds it; whether it did."""

    @abc.abstractmethod
    async def get_lease(self, scope: str, name: str) -> ControllerLease | None: ...
