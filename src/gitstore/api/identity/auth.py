"""Turning credentials into a :class:`Principal`.

* ``Authorization: Bearer <jwt>``: a login token (see ``jwt_tokens``); the user must still
  exist and not be disabled, and the token's session epoch must be the user's (a password
  reset or a disable ends older sessions); ``isAdmin`` holds only while both the token and
  the stored user say so (a demoted admin loses the role at once, not when the token expires).
* ``Authorization: Bearer gst_...``: a personal access token, looked up by its SHA-256; it
  must not be revoked or expired and its user must be active. Its last use is recorded at
  most once a minute. An unknown token counts as a failure of the client's address in the
  ``CredentialGuard``; while the address is locked, access tokens from it are not looked up
  (``TooManyAttempts``). Revoked or expired tokens do not count: they are real tokens, not
  guesses. Login tokens are signatures, not guessable secrets: they are never limited.
* :meth:`Authenticator.authenticate_basic` is the same check for HTTP Basic credentials (git
  over Smart HTTP): the password is a personal access token and the username must be its
  owner's. Account passwords are not accepted there on purpose: they would need an argon2
  verification per git request and could not be scoped or revoked.

No header means anonymous (``None``). A header that is present but wrong is always an
``Unauthenticated`` error naming the problem; it is never silently treated as anonymous.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from gitstore.backends.metadata.base import MetadataStore, User
from gitstore.domain.errors import TooManyAttempts, Unauthenticated
from gitstore.domain.ratelimit import CredentialGuard

from ..client_address import current_client_address
from . import access_tokens
from .jwt_tokens import JwtCodec
from .principal import ALL_SCOPES, Principal

TOUCH_INTERVAL = timedelta(minutes=1)


class Authenticator:
    def __init__(
        self, store: MetadataStore, jwt: JwtCodec, guard: CredentialGuard | None = None
    ) -> None:
        self._store = store
        self._jwt = jwt
        self._guard = guard

    async def authenticate_header(self, authorization: str | None) -> Principal | None:
        """The principal of an ``Authorization`` header value (None when there is none).
        The client's address, for the limits, is the current request's."""
        if authorization is None:
            return None
        scheme, _, credentials = authorization.strip().partition(" ")
        if scheme.lower() != "bearer":
            raise Unauthenticated(
                f"Authorization header must be 'Bearer <token>' (got scheme {scheme[:20]!r})"
            )
        credentials = credentials.strip()
        if not credentials:
            raise Unauthenticated("Authorization header has no token after 'Bearer'")
        return await self.authenticate_bearer(credentials)

    async def authenticate_bearer(self, token: str) -> Principal:
        if access_tokens.looks_like_access_token(token):
            return await self._access_token(token)
        claims = self._jwt.verify(token)
        user = await self._store.get_user(claims.user_id)
        _check_active(user, "token")
        assert user is not None
        if claims.session_epoch != user.session_epoch:
            raise Unauthenticated(
                "this login session has ended (password reset or account disabled); log in again"
            )
        return Principal(
            user_id=user.id,
            username=user.username,
            is_admin=claims.is_admin and user.is_admin,
            scopes=ALL_SCOPES,
            via="jwt",
            credential_id=claims.jti,
        )

    async def authenticate_basic(self, username: str, secret: str) -> Principal:
        """HTTP Basic credentials for git over HTTP: ``secret`` is a personal access token
        owned by ``username``."""
        if not access_tokens.looks_like_access_token(secret):
            raise Unauthenticated(
                "use a personal access token (gst_...) as the password for git over HTTP"
            )
        principal = await self._access_token(secret)
        if principal.username != username:
            raise Unauthenticated("the access token does not belong to this username")
        return principal

    async def _access_token(self, token: str) -> Principal:
        client = current_client_address()
        guard = self._guard
        if guard is not None:
            blocked = guard.blocked(client)
            if blocked is not None:
                raise TooManyAttempts(blocked.message, retry_after=blocked.retry_after)
        record = await self._store.get_token_by_hash(access_tokens.digest(token))
        now = datetime.now(UTC)
        if record is None:
            if guard is not None:
                guard.failed(client)
            raise Unauthenticated("access token is not valid")
        if record.revoked_at is not None:
            raise Unauthenticated("access token has been revoked")
        if record.expires_at is not None and record.expires_at <= now:
            raise Unauthenticated("access token has expired")
        user = await self._store.get_user(record.user_id)
        _check_active(user, "access token")
        assert user is not None
        if record.last_used_at is None or now - record.last_used_at >= TOUCH_INTERVAL:
            await self._store.touch_token(record.id, at=now)
        return Principal(
            user_id=user.id,
            username=user.username,
            is_admin=user.is_admin,
            scopes=frozenset(record.scopes),
            via="pat",
            credential_id=record.id,
        )


def _check_active(user: User | None, what: str) -> None:
    if user is None:
        raise Unauthenticated(f"the user of this {what} no longer exists")
    if user.disabled:
        raise Unauthenticated(f"the user of this {what} is disabled")
