"""Identity use cases with their rules; no GraphQL here (the schema module only translates).

* ``login``: one message (``INVALID_CREDENTIALS``) for an unknown user, a wrong password and a
  disabled account, and the same argon2 work in each case. A hash made with older argon2
  parameters is upgraded on a successful login. Attempts go through the ``CredentialGuard``
  (per account and per client address): while either is locked the answer is
  ``TOO_MANY_ATTEMPTS`` with the seconds to wait, and no password is verified. The login
  token carries the user's session epoch (see ``reset_password``).
* ``set_disabled`` / ``reset_password``: operator tooling (``gitstore user disable|enable|
  reset-password``), audited. Disabling ends the user's login sessions; so does a password
  reset (both bump the session epoch the login tokens are checked against); the user's
  access tokens and SSH keys stop working while disabled and work again once enabled.
* ``create_user``: admins only. ``bootstrap_user`` is the same without the check, for the CLI
  (``gitstore user create``) which runs with the operator's authority over the data dir.
  Usernames are DNS labels; passwords 8..1024 characters.
* Access tokens: a user manages their own. Creating one needs a login token (JWT): an access
  token cannot mint more access tokens, so a leaked token cannot entrench itself. Revoking is
  idempotent. Every change is written to the audit log.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from gitstore.backends.metadata.base import AccessToken, MetadataStore, User
from gitstore.domain.errors import (
    AlreadyExists,
    InvalidArgument,
    NotFound,
    PermanentError,
    PermissionDenied,
    TooManyAttempts,
    Unauthenticated,
)
from gitstore.domain.identity import validate_dns_label
from gitstore.domain.ratelimit import CredentialGuard

from . import access_tokens
from .jwt_tokens import JwtCodec
from .passwords import Passwords, check_password
from .principal import TOKEN_SCOPES, Principal

MAX_TOKEN_NAME = 100
MAX_TOKEN_DAYS = 366
LOGIN_FAILED = "invalid username or password"

log = logging.getLogger("gitstore.api.identity")


class InvalidCredentials(PermanentError):
    code = "INVALID_CREDENTIALS"


@dataclass(frozen=True, slots=True)
class LoginResult:
    token: str
    expires_at: datetime
    user: User


@dataclass(frozen=True, slots=True)
class CreatedAccessToken:
    token: AccessToken
    secret: str  # shown once


class IdentityActions:
    def __init__(
        self,
        store: MetadataStore,
        passwords: Passwords,
        jwt: JwtCodec,
        guard: CredentialGuard | None = None,
    ) -> None:
        self.store = store
        self.passwords = passwords
        self.jwt = jwt
        self.guard = guard

    # ------------------------------------------------------------------ login
    async def login(self, username: str, password: str, *, client: str = "") -> LoginResult:
        """``client``: the caller's address, for the per-address limit."""
        account = username or None
        if self.guard is not None:
            blocked = self.guard.admit(client, account)
            if blocked is not None:
                log.info(
                    "login as %r from %s refused: %s locked for %ds",
                    username[:64],
                    client or "(unknown)",
                    blocked.scope,
                    blocked.retry_after,
                )
                raise TooManyAttempts(blocked.message, retry_after=blocked.retry_after)
        user = await self.store.get_user_by_username(username) if username else None
        matches = await self.passwords.verify_async(user.password_hash if user else None, password)
        if user is None or not matches or user.disabled:
            raise InvalidCredentials(LOGIN_FAILED)
        if self.guard is not None:
            self.guard.succeeded(client, account)
        if self.passwords.needs_rehash(user.password_hash):
            await self.store.update_user_password(
                user.id, await self.passwords.hash_async(password)
            )
        issued = self.jwt.issue(user.id, is_admin=user.is_admin, epoch=user.session_epoch)
        return LoginResult(issued.token, issued.expires_at, user)

    # ------------------------------------------------------------------ users
    async def create_user(
        self, actor: Principal | None, username: str, password: str, *, is_admin: bool
    ) -> User:
        _require_admin(actor, "create users")
        assert actor is not None
        return await self.bootstrap_user(
            username, password, is_admin=is_admin, actor=actor.username
        )

    async def bootstrap_user(
        self, username: str, password: str, *, is_admin: bool, actor: str = "cli"
    ) -> User:
        """Create a user without an authorisation check (operator tooling)."""
        return await create_user(
            self.store, self.passwords, username, password, is_admin=is_admin, actor=actor
        )

    # ------------------------------------------------------------------ access tokens
    async def create_access_token(
        self,
        actor: Principal | None,
        name: str,
        scopes: frozenset[str],
        expires_in_days: int | None,
    ) -> CreatedAccessToken:
        actor = _require(actor, "create access tokens")
        if actor.via != "jwt":
            raise PermissionDenied(
                "access tokens can only be created with a login token, not with another"
                " access token"
            )
        name = (name or "").strip()
        if not name or len(name) > MAX_TOKEN_NAME:
            raise InvalidArgument(
                f"token name must be 1..{MAX_TOKEN_NAME} characters", field="name"
            )
        if not scopes or not scopes <= TOKEN_SCOPES:
            raise InvalidArgument(
                "scopes must be a non-empty subset of read, write, status", field="scopes"
            )
        expires_at = None
        if expires_in_days is not None:
            if not 1 <= expires_in_days <= MAX_TOKEN_DAYS:
                raise InvalidArgument(
                    f"expiresInDays must be between 1 and {MAX_TOKEN_DAYS} (got {expires_in_days})",
                    field="expires_in_days",
                )
            expires_at = datetime.now(UTC) + timedelta(days=expires_in_days)
        secret = access_tokens.generate()
        token = await self.store.create_token(
            actor.user_id, name, access_tokens.digest(secret), scopes, expires_at
        )
        await self.store.append_audit(
            actor.username, "token.create", f"{actor.username}/{token.id}", {"name": name}
        )
        return CreatedAccessToken(token, secret)

    async def revoke_access_token(self, actor: Principal | None, token_id: str) -> AccessToken:
        actor = _require(actor, "revoke access tokens")
        token = next((t for t in await self.list_access_tokens(actor) if t.id == token_id), None)
        if token is None:
            raise NotFound(f"you have no access token with id {token_id!r}", field="id")
        if token.revoked_at is not None:
            return token
        now = datetime.now(UTC)
        await self.store.revoke_token(token.id, at=now)
        await self.store.append_audit(
            actor.username, "token.revoke", f"{actor.username}/{token.id}", {"name": token.name}
        )
        refreshed = next(
            (t for t in await self.list_access_tokens(actor) if t.id == token_id), None
        )
        return refreshed or token

    async def list_access_tokens(self, actor: Principal | None) -> list[AccessToken]:
        actor = _require(actor, "list access tokens")
        return await self.store.list_tokens(actor.user_id)


def _require(actor: Principal | None, what: str) -> Principal:
    if actor is None:
        raise Unauthenticated(f"authentication required to {what}: send Authorization: Bearer")
    return actor


def _require_admin(actor: Principal | None, what: str) -> None:
    actor = _require(actor, what)
    if not actor.is_admin:
        raise PermissionDenied(f"only an admin may {what}")


async def create_user(
    store: MetadataStore,
    passwords: Passwords,
    username: str,
    password: str,
    *,
    is_admin: bool,
    actor: str,
) -> User:
    """Validate, hash and store a new user, and audit it (no authorisation check)."""
    validate_dns_label(username, "username")
    check_password(password)
    password_hash = await passwords.hash_async(password)
    try:
        user = await store.create_user(username, password_hash, is_admin=is_admin)
    except AlreadyExists:
        raise AlreadyExists(f"user {username!r} already exists", field="username") from None
    await store.append_audit(actor, "user.create", username, {"isAdmin": is_admin})
    return user


async def _user_named(store: MetadataStore, username: str) -> User:
    user = await store.get_user_by_username(username)
    if user is None:
        raise NotFound(f"user {username!r} does not exist", field="username")
    return user


async def set_user_disabled(
    store: MetadataStore, username: str, disabled: bool, *, actor: str
) -> tuple[User, bool]:
    """Disable (or enable) a user, audited; ``(user, changed)`` — already so is no change.
    Disabling ends the user's login sessions (the store bumps the session epoch)."""
    user = await _user_named(store, username)
    if user.disabled == disabled:
        return user, False
    updated = await store.set_user_disabled(user.id, disabled)
    await store.append_audit(actor, "user.disable" if disabled else "user.enable", username, {})
    return updated, True


async def reset_password(
    store: MetadataStore, passwords: Passwords, username: str, password: str, *, actor: str
) -> User:
    """Set a new password (same rules as at creation), end the user's login sessions, audit."""
    user = await _user_named(store, username)
    check_password(password)
    password_hash = await passwords.hash_async(password)
    await store.update_user_password(user.id, password_hash, end_sessions=True)
    await store.append_audit(actor, "user.reset-password", username, {"sessionsEnded": True})
    refreshed = await store.get_user(user.id)
    return refreshed or user
