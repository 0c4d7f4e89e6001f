"""Controller leases in process memory (the reference for the contract suite)."""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

from . import _common as c
from .base_leases import ControllerLease, check_lease_request


class MemoryLeases:
    if TYPE_CHECKING:
        _clock: c.Clock

    _leases: dict[tuple[str, str], ControllerLease]

    def _lease_table(self) -> dict[tuple[str, str], ControllerLease]:
        try:
            return self._leases
        except AttributeError:
            self._leases = {}
            return self._leases

    async def acquire_lease(
        self, scope: str, name: str, holder: str, *, lease_seconds: float
    ) -> ControllerLease:
        check_lease_request(scope, name, holder, lease_seconds)
        table = self._lease_table()
        now = self._clock.now()
        until = c.lease_end(now, lease_seconds)
        current = table.get((scope, name))
        if current is None:
            table[(scope, name)] = ControllerLease(scope, name, holder, now, now, until, 0)
        elif current.holder == holder:
            table[(scope, name)] = dataclasses.replace(current, renewed_at=now, expires_at=until)
        elif current.expires_at <= now:
            table[(scope, name)] = ControllerLease(
                scope, name, holder, now, now, until, current.transitions + 1
            )
        return table[(scope, name)]

    async def release_lease(self, scope: str, name: str, holder: str) -> bool:
        table = self._lease_table()
        current = table.get((scope, name))
        if current is None or current.holder != holder:
            return False
        del table[(scope, name)]
        return True

    async def get_lease(self, scope: str, name: str) -> ControllerLease | None:
        return self._lease_table().get((scope, name))
