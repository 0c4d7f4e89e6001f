"""Failed-credential limits: back-off per account and per client address (pure, no I/O).

A :class:`FailureLimiter` counts failures per key in a sliding window. The first
``Policy.free_failures`` failures in the window cost nothing; each one after that locks the key
for ``base_delay * 2**k`` seconds (k = 0, 1, 2 ... for the 1st, 2nd, 3rd failure over the
allowance), never more than ``max_delay``. Failures older than ``window`` are forgotten, so a
key that stops failing recovers on its own; ``reset`` forgets a key at once (a successful
login resets its account) and ``forgive`` takes back failures counted in advance.

Memory is bounded: at most ``max_keys`` keys are tracked (least recently failed dropped
first, idle keys swept as new ones arrive) and a key keeps at most as many timestamps as it
takes to reach ``max_delay``. The clock is injectable (``clock``, ``time.monotonic`` by
default), so tests drive time instead of sleeping. A lock makes the limiter safe to share
between threads.

:class:`CredentialGuard` is the rule the servers apply around a secret check:

* ``admit(address, account)`` before an expensive check (a password: argon2). A locked
  account or address answers :class:`Blocked` with the seconds to wait and nothing is
  counted (waiting out a lock is not punished further); otherwise the attempt is counted as
  a failure *in advance*, so concurrent guesses cannot all slip past the check while the
  first ones are still hashing. ``succeeded`` then resets the account and takes back the one
  failure counted for the address (a success does not wipe the address's other failures:
  an attacker with one valid account must not be able to launder guesses at others).
* ``blocked(address)`` / ``failed(address)`` around a cheap check (an access token looked up
  by its hash): only failures are counted, per address.

Addresses are grouped by :func:`address_key`: an IPv4 address is its own key, an IPv6
address counts with its /64 (one subscriber usually holds a whole /64), an IPv4-mapped IPv6
address as the IPv4 address. Keys are bounded in length, so a client cannot grow memory with
long user names.
"""

from __future__ import annotations

import ipaddress
import math
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

MAX_KEY_LENGTH = 128
UNKNOWN_ADDRESS = "unknown"


@dataclass(frozen=True, slots=True)
class Policy:
    free_failures: int  # failures in the window that cost nothing
    window: float  # seconds a failure is remembered
    base_delay: float  # the first lock, in seconds
    max_delay: float  # the longest lock, in seconds

    def __post_init__(self) -> None:
        if self.free_failures < 0 or self.window <= 0 or self.base_delay <= 0:
            raise ValueError("free_failures >= 0, window > 0 and base_delay > 0 are required")
        if self.max_delay < self.base_delay:
            raise ValueError("max_delay must be at least base_delay")

    def delay(self, failures: int) -> float:
        """The lock after the ``failures``-th failure in the window (0 within the allowance)."""
        over = failures - self.free_failures
        if over <= 0:
            return 0.0
        if over > 64:  # 2**64 seconds is far past any cap
            return self.max_delay
        return float(min(self.max_delay, self.base_delay * 2 ** (over - 1)))

    @property
    def remembered(self) -> int:
        """Timestamps a key needs to keep: enough to reach ``max_delay``, one more to stay."""
        doublings = math.ceil(math.log2(self.max_delay / self.base_delay))
        return self.free_failures + doublings + 2


@dataclass(slots=True)
class _Entry:
    failures: deque[float]
    locked_until: float = 0.0


class FailureLimiter:
    def __init__(
        self,
        policy: Policy,
        *,
        clock: Callable[[], float] = time.monotonic,
        max_keys: int = 100_000,
    ) -> None:
        if max_keys < 1:
            raise ValueError("max_keys must be at least 1")
        self.policy = policy
        self.max_keys = max_keys
        self.clock = clock
        self._entries: OrderedDict[str, _Entry] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._entries)

    def retry_after(self, key: str) -> float:
        """Seconds until ``key`` may try again (0.0: now)."""
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return 0.0
            return max(0.0, entry.locked_until - self.clock())

    def record_failure(self, key: str) -> float:
        """Count a failure of ``key``; the lock it now carries, in seconds (0.0: none)."""
        with self._lock:
            now = self.clock()
            entry = self._entries.get(key)
            if entry is None:
                self._make_room(now)
                entry = _Entry(deque(maxlen=self.policy.remembered))
                self._entries[key] = entry
            else:
                self._entries.move_to_end(key)
            self._expire(entry, now)
            entry.failures.append(now)
            delay = self.policy.delay(len(entry.failures))
            if delay:
                entry.locked_until = max(entry.locked_until, now + delay)
            return max(0.0, entry.locked_until - now)

    def forgive(self, key: str, count: int = 1) -> None:
        """Take back the last ``count`` failures of ``key`` (counted in advance); a lock that
        the allowance no longer justifies is lifted."""
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return
            for _ in range(min(count, len(entry.failures))):
                entry.failures.pop()
            remaining = len(entry.failures)
            delay = self.policy.delay(remaining)
            entry.locked_until = entry.failures[-1] + delay if remaining and delay else 0.0
            if not entry.failures and entry.locked_until <= self.clock():
                del self._entries[key]

    def reset(self, key: str) -> None:
        with self._lock:
            self._entries.pop(key, None)

    def _expire(self, entry: _Entry, now: float) -> None:
        horizon = now - self.policy.window
        while entry.failures and entry.failures[0] <= horizon:
            entry.failures.popleft()

    def _make_room(self, now: float) -> None:
        """Drop idle keys from the old end; if still full, the least recently failed key."""
        for _ in range(2):
            if not self._entries:
                return
            key, oldest = next(iter(self._entries.items()))
            self._expire(oldest, now)
            if oldest.failures or oldest.locked_until > now:
                break
            del self._entries[key]
        while len(self._entries) >= self.max_keys:
            self._entries.popitem(last=False)


@dataclass(frozen=True, slots=True)
class Blocked:
    retry_after: int  # whole seconds, at least 1
    scope: Literal["account", "address"]

    @property
    def message(self) -> str:
        whom = "for this account" if self.scope == "account" else "from your address"
        unit = "second" if self.retry_after == 1 else "seconds"
        return f"too many failed sign-in attempts {whom}; try again in {self.retry_after} {unit}"


def _blocked(seconds: float, scope: Literal["account", "address"]) -> Blocked | None:
    if seconds <= 0:
        return None
    return Blocked(max(1, math.ceil(seconds)), scope)


def address_key(address: str) -> str:
    """The key an address counts under: IPv4 itself, IPv6 its /64, other text as given."""
    text = (address or "").strip()
    if not text:
        return UNKNOWN_ADDRESS
    try:
        ip = ipaddress.ip_address(text.split("%", 1)[0])
    except ValueError:
        return text[:MAX_KEY_LENGTH]
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network((ip, 64), strict=False))
    return str(ip)


def account_key(username: str) -> str:
    return (username or "").strip().lower()[:MAX_KEY_LENGTH]


@dataclass
class CredentialGuard:
    """Per-account and per-address limits applied together (see the module docstring).
    ``account`` None: accounts are not limited (e.g. the SSH service, where no account is
    named before a key is found)."""

    address: FailureLimiter
    account: FailureLimiter | None = None
    enabled: bool = True

    def blocked(self, address: str, account: str | None = None) -> Blocked | None:
        if not self.enabled:
            return None
        if account is not None and self.account is not None:
            locked = _blocked(self.account.retry_after(account_key(account)), "account")
            if locked is not None:
                return locked
        return _blocked(self.address.retry_after(address_key(address)), "address")

    def admit(self, address: str, account: str | None = None) -> Blocked | None:
        """None: go ahead (the attempt is counted as a failure until ``succeeded``)."""
        locked = self.blocked(address, account)
        if locked is not None or not self.enabled:
            return locked
        self.address.record_failure(address_key(address))
        if account is not None and self.account is not None:
            self.account.record_failure(account_key(account))
        return None

    def succeeded(self, address: str, account: str | None = None, *, admitted: int = 1) -> None:
        """The admitted attempt(s) were right: forget the account's failures, take back the
        ``admitted`` failures counted in advance for the address."""
        if not self.enabled:
            return
        if account is not None and self.account is not None:
            self.account.reset(account_key(account))
        if admitted:
            self.address.forgive(address_key(address), admitted)

    def failed(self, address: str) -> Blocked | None:
        """Count a failed cheap check from ``address``; the lock it now carries, if any."""
        if not self.enabled:
            return None
        return _blocked(self.address.record_failure(address_key(address)), "address")
