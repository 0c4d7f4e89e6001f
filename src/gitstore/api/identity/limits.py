"""The API's sign-in limits: one :class:`CredentialGuard` per API process, shared by
``login`` (per account and per address) and the access-token checks (per address, unknown
tokens only). Built from ``GITSTORE_AUTH__*`` (``AuthLimitSettings``); see docs/identity.md.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from gitstore.config import AuthLimitSettings
from gitstore.domain.ratelimit import CredentialGuard, FailureLimiter, Policy


def api_guard(
    settings: AuthLimitSettings, *, clock: Callable[[], float] = time.monotonic
) -> CredentialGuard:
    def limiter(free: int, window: float) -> FailureLimiter:
        policy = Policy(free, window, settings.base_delay_seconds, settings.max_delay_seconds)
        return FailureLimiter(policy, clock=clock, max_keys=settings.max_tracked)

    return CredentialGuard(
        address=limiter(settings.address_failures, settings.address_window_seconds),
        account=limiter(settings.account_failures, settings.account_window_seconds),
        enabled=settings.enabled,
    )
