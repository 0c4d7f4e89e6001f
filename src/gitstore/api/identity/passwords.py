"""Password hashing with argon2id (argon2-cffi's recommended parameters).

Hashing and verifying take tens of milliseconds of CPU on purpose; the async helpers run them
in a worker thread so the event loop keeps serving. Verification of an unknown user still
spends the same work against a dummy hash, so timing does not tell which usernames exist.
"""

from __future__ import annotations

import asyncio

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from gitstore.domain.errors import InvalidArgument

MIN_PASSWORD_LENGTH = 8
MAX_PASSWORD_LENGTH = 1024


def check_password(password: str) -> str:
    """``password`` if acceptable, else ``InvalidArgument`` naming ``password``."""
    if not isinstance(password, str) or len(password) < MIN_PASSWORD_LENGTH:
        raise InvalidArgument(
            f"password must be at least {MIN_PASSWORD_LENGTH} characters", field="password"
        )
    if len(password) > MAX_PASSWORD_LENGTH:
        raise InvalidArgument(
            f"password must be at most {MAX_PASSWORD_LENGTH} characters", field="password"
        )
    return password


class Passwords:
    def __init__(self, hasher: PasswordHasher | None = None) -> None:
        self._hasher = hasher or PasswordHasher()
        self._dummy: str | None = None

    @property
    def _dummy_hash(self) -> str:
        """A hash with the same parameters, to spend the same work on unknown users (made on
        first use, not at start-up: hashing takes a good fraction of a second)."""
        if self._dummy is None:
            self._dummy = self._hasher.hash("gitstore-dummy-password")
        return self._dummy

    def hash(self, password: str) -> str:
        return self._hasher.hash(password)

    def verify(self, password_hash: str | None, password: str) -> bool:
        """True if ``password`` matches; False otherwise (also for a missing user)."""
        try:
            return self._hasher.verify(password_hash or self._dummy_hash, password) and (
                password_hash is not None
            )
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False

    def needs_rehash(self, password_hash: str) -> bool:
        try:
            return self._hasher.check_needs_rehash(password_hash)
        except InvalidHashError:
            return False

    async def hash_async(self, password: str) -> str:
        return await asyncio.to_thread(self.hash, password)

    async def verify_async(self, password_hash: str | None, password: str) -> bool:
        return await asyncio.to_thread(self.verify, password_hash, password)
