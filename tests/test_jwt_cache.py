"""The verified-token cache of ``JwtCodec``: a repeat verification returns the same claims,
an expired token is refused from the cache too, and a token that failed is never remembered."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest

from gitstore.api.identity.jwt_tokens import JwtCodec
from gitstore.domain.errors import Unauthenticated

KEY = b"k" * 32


def test_a_verified_token_verifies_again_from_the_cache() -> None:
    codec = JwtCodec(KEY, ttl=timedelta(hours=1))
    token = codec.issue("u1", is_admin=False, epoch=3).token
    first = codec.verify(token)
    assert codec.verify(token) is first  # remembered, not decoded again
    assert first.user_id == "u1" and first.session_epoch == 3


def test_a_cached_token_is_refused_once_it_expires() -> None:
    codec = JwtCodec(KEY, ttl=timedelta(seconds=3))
    # issued a second ago (rounded down to the second) for three: expires in 1-2 seconds
    issued = codec.issue("u1", is_admin=False, now=datetime.now(UTC) - timedelta(seconds=1))
    assert codec.verify(issued.token).user_id == "u1"
    time.sleep(max(0.0, (issued.expires_at - datetime.now(UTC)).total_seconds()) + 0.05)
    with pytest.raises(Unauthenticated, match="expired"):
        codec.verify(issued.token)


def test_a_refused_token_is_not_remembered() -> None:
    codec = JwtCodec(KEY, ttl=timedelta(hours=1))
    other = JwtCodec(b"o" * 32, ttl=timedelta(hours=1))
    forged = other.issue("u1", is_admin=True).token
    for _ in range(2):
        with pytest.raises(Unauthenticated, match="signature"):
            codec.verify(forged)
