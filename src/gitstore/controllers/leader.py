"""Leader election across controller replicas, with a lease held through the API.

``LeaderElector(client, repository, name, identity)`` calls ``acquireControllerLease``
every ``renew_every`` seconds (a third of the lease by default). The lease lives in the
metadata store and is judged by the server's clock: a replica whose lease lapses (it died,
or could not reach the API) is replaced by the next one that asks. ``leading`` is set
while this replica holds the lease; it is cleared as soon as a renewal says another holds
it, or when renewals have failed for longer than the lease (the replica must assume it
lost it). ``release()`` steps down at shutdown so another replica takes over at once.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

from .client import ApiClient, payload_of
from .errors import ControllerError

log = logging.getLogger(__name__)

ACQUIRE = """
mutation($input: AcquireControllerLeaseInput!) {
  acquireControllerLease(input: $input) {
    held lease { holder expiresAt transitions } userErrors { field message code }
  }
}"""
RELEASE = """
mutation($input: ReleaseControllerLeaseInput!) {
  releaseControllerLease(input: $input) { released userErrors { field message code } }
}"""


class LeaderElector:
    def __init__(
        self,
        client: ApiClient,
        repository: str,
        name: str,
        identity: str,
        *,
        lease_seconds: float = 15.0,
        renew_every: float | None = None,
        on_change: Callable[[bool], None] | None = None,
    ) -> None:
        self.client = client
        self.repository, self.name, self.identity = repository, name, identity
        self.lease_seconds = lease_seconds
        self.renew_every = renew_every if renew_every is not None else lease_seconds / 3
        self.leading = asyncio.Event()
        self.holder: str | None = None
        self._on_change = on_change
        self._valid_until = 0.0

    async def run(self) -> None:
        while True:
            started = time.monotonic()
            try:
                held = await self.try_acquire()
                if held:
                    self._valid_until = started + self.lease_seconds
                self._set(held)
            except Exception as exc:  # whatever fails, the loop must go on
                # (a dead loop would lead forever on a lease that lapsed, or never lead)
                if isinstance(exc, ControllerError):
                    log.warning("lease %s/%s: %s", self.repository, self.name, exc)
                else:
                    log.exception("lease %s/%s: unexpected answer", self.repository, self.name)
                if time.monotonic() >= self._valid_until:
                    self._set(False)
            await asyncio.sleep(self.renew_every)

    async def try_acquire(self) -> bool:
        data = await self.client.execute(
            ACQUIRE,
            {
                "input": {
                    "repository": self.repository,
                    "name": self.name,
                    "holder": self.identity,
                    "leaseSeconds": self.lease_seconds,
                }
            },
        )
        payload = payload_of(data, "acquireControllerLease")
        self.holder = payload["lease"]["holder"]
        return bool(payload["held"])

    async def release(self) -> None:
        self._set(False)
        try:
            await self.client.execute(
                RELEASE,
                {
                    "input": {
                        "repository": self.repository,
                        "name": self.name,
                        "holder": self.identity,
                    }
                },
            )
        except ControllerError as exc:
            log.warning("releasing lease %s/%s: %s", self.repository, self.name, exc)

    def _set(self, held: bool) -> None:
        if held == self.leading.is_set():
            return
        if held:
            self.leading.set()
            log.info("%s leads %s/%s", self.identity, self.repository, self.name)
        else:
            self.leading.clear()
            log.info("%s does not lead %s/%s", self.identity, self.repository, self.name)
        if self._on_change is not None:
            self._on_change(held)
