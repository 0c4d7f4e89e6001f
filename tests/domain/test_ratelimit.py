"""The failed-credential limiter and guard (``domain.ratelimit``) on a hand-driven clock."""

from __future__ import annotations

import pytest

from gitstore.domain.ratelimit import (
    UNKNOWN_ADDRESS,
    Blocked,
    CredentialGuard,
    FailureLimiter,
    Policy,
    account_key,
    address_key,
)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def limiter(clock: Clock, free: int = 3, window: float = 600, **kw: float) -> FailureLimiter:
    policy = Policy(free, window, kw.get("base", 1.0), kw.get("cap", 60.0))
    return FailureLimiter(policy, clock=clock, max_keys=int(kw.get("max_keys", 1000)))


def test_free_failures_then_doubling_locks_up_to_the_cap() -> None:
    clock = Clock()
    lim = limiter(clock, free=3, base=1, cap=60)
    assert [lim.record_failure("k") for _ in range(3)] == [0.0, 0.0, 0.0]
    assert lim.retry_after("k") == 0.0
    locks = []
    for _ in range(8):
        locks.append(lim.record_failure("k"))
        clock.now += locks[-1]  # wait each lock out exactly
        assert lim.retry_after("k") == 0.0
    assert locks == [1, 2, 4, 8, 16, 32, 60, 60]


def test_a_lock_counts_down_and_other_keys_are_untouched() -> None:
    clock = Clock()
    lim = limiter(clock, free=0, base=10, cap=100)
    assert lim.record_failure("a") == 10
    clock.now += 4
    assert lim.retry_after("a") == 6
    assert lim.retry_after("b") == 0.0
    clock.now += 6
    assert lim.retry_after("a") == 0.0


def test_failures_older_than_the_window_are_forgotten() -> None:
    clock = Clock()
    lim = limiter(clock, free=2, window=100, base=5, cap=50)
    lim.record_failure("k")
    lim.record_failure("k")
    clock.now += 101  # both expire
    assert lim.record_failure("k") == 0.0
    assert lim.record_failure("k") == 0.0
    assert lim.record_failure("k") == 5  # third within the window


def test_reset_and_forgive() -> None:
    clock = Clock()
    lim = limiter(clock, free=2, base=30, cap=60)
    for _ in range(3):
        lim.record_failure("k")
    assert lim.retry_after("k") == 30
    lim.forgive("k")  # the third was counted in advance and turned out right
    assert lim.retry_after("k") == 0.0
    assert lim.record_failure("k") == 30  # two are still remembered
    lim.reset("k")
    assert lim.retry_after("k") == 0.0 and len(lim) == 0
    lim.forgive("missing")  # no such key: nothing happens


def test_memory_is_bounded_by_max_keys_and_idle_keys_are_swept() -> None:
    clock = Clock()
    lim = limiter(clock, free=0, window=10, base=1, cap=1, max_keys=100)
    for n in range(1000):
        lim.record_failure(f"10.0.{n // 256}.{n % 256}")
    assert len(lim) == 100
    assert lim.retry_after("10.0.3.231") > 0  # the most recent survive
    assert lim.retry_after("10.0.0.0") == 0.0  # the oldest were dropped
    clock.now += 60  # everything idle: new keys sweep the old ones
    for n in range(10):
        lim.record_failure(f"new-{n}")
    assert len(lim) < 100


def test_a_key_remembers_only_what_reaching_the_cap_needs() -> None:
    clock = Clock()
    lim = limiter(clock, free=5, base=1, cap=1024)
    for _ in range(10_000):
        lim.record_failure("k")
    assert lim.retry_after("k") == 1024
    entry = lim._entries["k"]
    assert len(entry.failures) == lim.policy.remembered == 5 + 10 + 2


@pytest.mark.parametrize(
    ("free", "window", "base", "cap"), [(-1, 1, 1, 1), (1, 0, 1, 1), (1, 1, 0, 1), (1, 1, 5, 1)]
)
def test_policy_rejects_nonsense(free: int, window: float, base: float, cap: float) -> None:
    with pytest.raises(ValueError):
        Policy(free, window, base, cap)


@pytest.mark.parametrize(
    ("address", "key"),
    [
        ("203.0.113.9", "203.0.113.9"),
        ("2001:db8:1:2:aaaa::1", "2001:db8:1:2::/64"),
        ("2001:db8:1:2:ffff:1:2:3", "2001:db8:1:2::/64"),
        ("::ffff:198.51.100.7", "198.51.100.7"),
        ("fe80::1%eth0", "fe80::/64"),
        ("", UNKNOWN_ADDRESS),
        ("testclient", "testclient"),
        ("x" * 500, "x" * 128),
    ],
)
def test_address_keys(address: str, key: str) -> None:
    assert address_key(address) == key


def test_account_keys_ignore_case_and_are_bounded() -> None:
    assert account_key(" Alice ") == "alice"
    assert len(account_key("a" * 10_000)) == 128


def guard(clock: Clock, *, account_free: int = 2, address_free: int = 4) -> CredentialGuard:
    return CredentialGuard(
        address=limiter(clock, free=address_free, base=10, cap=100),
        account=limiter(clock, free=account_free, base=20, cap=100),
    )


def test_admit_counts_in_advance_so_concurrent_guesses_cannot_slip_through() -> None:
    g = guard(Clock(), account_free=2)
    # three attempts start before any finishes: the third is already over the allowance
    assert g.admit("198.51.100.1", "alice") is None
    assert g.admit("198.51.100.1", "alice") is None
    assert g.admit("198.51.100.1", "alice") is None
    assert g.admit("198.51.100.1", "alice") == Blocked(20, "account")


def test_success_resets_the_account_but_forgives_the_address_only_its_own_attempt() -> None:
    clock = Clock()
    g = guard(clock, account_free=10, address_free=3)
    for name in ("bob", "carol", "dave"):  # spraying other accounts from one address
        assert g.admit("198.51.100.1", name) is None
    assert g.admit("198.51.100.1", "mallory") is None  # mallory's own account ...
    g.succeeded("198.51.100.1", "mallory")  # ... logs in: that attempt is taken back
    assert g.blocked("198.51.100.1") is None
    assert g.admit("198.51.100.1", "erin") is None  # the 4th failure over the allowance
    blocked = g.blocked("198.51.100.1", "zoe")
    assert blocked is not None and blocked.scope == "address" and blocked.retry_after == 10
    assert g.blocked("192.0.2.1", "zoe") is None  # another address is not affected


def test_a_blocked_attempt_is_not_counted_and_waiting_it_out_works() -> None:
    clock = Clock()
    g = guard(clock, account_free=1)
    g.admit("a", "alice")
    g.admit("b", "alice")  # over: locked 20 s
    for _ in range(50):
        assert g.admit("c", "alice") == Blocked(20, "account")  # from anywhere; not counted
    clock.now += 20
    assert g.admit("c", "alice") is None  # the next lock would be 40 s, not longer
    assert g.blocked("c", "alice") == Blocked(40, "account")


def test_cheap_checks_count_failures_per_address_only() -> None:
    clock = Clock()
    g = guard(clock, address_free=2)
    assert g.failed("198.51.100.1") is None
    assert g.failed("198.51.100.1") is None
    assert g.failed("198.51.100.1") == Blocked(10, "address")
    assert g.blocked("198.51.100.1", "anyone") == Blocked(10, "address")
    assert g.blocked("198.51.100.2", "anyone") is None


def test_a_disabled_guard_never_blocks() -> None:
    g = guard(Clock(), account_free=0, address_free=0)
    g.enabled = False
    for _ in range(10):
        assert g.admit("a", "alice") is None
        assert g.failed("a") is None
    assert g.blocked("a", "alice") is None


def test_messages_say_how_long_to_wait() -> None:
    assert Blocked(1, "address").message == (
        "too many failed sign-in attempts from your address; try again in 1 second"
    )
    assert "for this account; try again in 900 seconds" in Blocked(900, "account").message
