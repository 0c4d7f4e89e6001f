"""Login tokens: JWTs signed with HMAC (HS256 by default), claims ``sub`` (user id),
``isAdmin``, ``iat``, ``exp``, ``jti`` and ``sessionEpoch`` (the user's session epoch when the
token was issued; the authenticator refuses a token whose epoch is not the user's current one,
which is how a password reset or a disable ends every login session; a token without the claim,
issued before it existed, has epoch 0).

Verification accepts exactly the configured algorithm. The header is inspected first so the
refusal says why: ``alg: none``, another algorithm (``HS512``, ``RS256``...), a bad signature,
an expired or not-yet-valid token, a missing or mistyped claim. Every refusal is an
``Unauthenticated`` error whose message names the reason (the HTTP layer answers 401).

Verified tokens are remembered (``VERIFIED_CACHE`` most recent, per codec): a token string
that verified once verifies the same way until it expires (signature and claims cannot
change), so a repeat use costs a dict lookup and the expiry check instead of a decode and an
HMAC (~0.6 ms). Everything that can change - the user exists, is not disabled, the session
epoch, the admin flag - is still checked per request by the authenticator.
"""

from __future__ import annotations

import secrets
from collections import OrderedDict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt

from gitstore.domain.errors import Unauthenticated

REQUIRED_CLAIMS = ("sub", "isAdmin", "iat", "exp", "jti")
VERIFIED_CACHE = 4096


@dataclass(frozen=True, slots=True)
class IssuedToken:
    token: str
    expires_at: datetime
    jti: str


@dataclass(frozen=True, slots=True)
class TokenClaims:
    user_id: str
    is_admin: bool
    issued_at: datetime
    expires_at: datetime
    jti: str
    session_epoch: int = 0


class JwtCodec:
    def __init__(self, key: bytes, *, algorithm: str = "HS256", ttl: timedelta) -> None:
        self._key = key
        self.algorithm = algorithm
        self.ttl = ttl
        self._verified: OrderedDict[str, TokenClaims] = OrderedDict()

    def issue(
        self, user_id: str, *, is_admin: bool, epoch: int = 0, now: datetime | None = None
    ) -> IssuedToken:
        issued = (now or datetime.now(UTC)).replace(microsecond=0)
        expires = issued + self.ttl
        jti = secrets.token_hex(16)
        claims = {
            "sub": user_id,
            "isAdmin": is_admin,
            "iat": int(issued.timestamp()),
            "exp": int(expires.timestamp()),
            "jti": jti,
            "sessionEpoch": epoch,
        }
        token = jwt.encode(claims, self._key, algorithm=self.algorithm)
        return IssuedToken(token, expires, jti)

    def verify(self, token: str) -> TokenClaims:
        known = self._verified.get(token)
        if known is not None:
            if known.expires_at <= datetime.now(UTC):
                self._verified.pop(token, None)
                raise Unauthenticated("token has expired; log in again")
            self._verified.move_to_end(token)
            return known
        claims = self._verify(token)
        self._verified[token] = claims
        if len(self._verified) > VERIFIED_CACHE:
            self._verified.popitem(last=False)
        return claims

    def _verify(self, token: str) -> TokenClaims:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.DecodeError:
            raise Unauthenticated("token is malformed (not a JWT)") from None
        algorithm = header.get("alg")
        if not isinstance(algorithm, str) or algorithm.lower() == "none":
            raise Unauthenticated("token algorithm 'none' is not accepted: tokens must be signed")
        if algorithm != self.algorithm:
            raise Unauthenticated(
                f"token algorithm {algorithm!r} is not accepted (tokens are {self.algorithm})"
            )
        try:
            claims = jwt.decode(
                token,
                self._key,
                algorithms=[self.algorithm],
                options={"require": list(REQUIRED_CLAIMS), "enforce_minimum_key_length": True},
            )
        except jwt.ExpiredSignatureError:
            raise Unauthenticated("token has expired; log in again") from None
        except jwt.ImmatureSignatureError:
            raise Unauthenticated("token is not valid yet (iat/nbf in the future)") from None
        except jwt.InvalidSignatureError:
            raise Unauthenticated("token signature is invalid") from None
        except jwt.MissingRequiredClaimError as exc:
            raise Unauthenticated(f"token is missing the {exc.claim!r} claim") from None
        except jwt.InvalidTokenError as exc:
            raise Unauthenticated(f"token is invalid: {exc}") from None
        return _claims(claims)


def _claims(claims: dict[str, Any]) -> TokenClaims:
    sub, is_admin, jti = claims["sub"], claims["isAdmin"], claims["jti"]
    iat, exp = claims["iat"], claims["exp"]
    if not isinstance(sub, str) or not sub:
        raise Unauthenticated("token claim 'sub' must be a non-empty string")
    if not isinstance(is_admin, bool):
        raise Unauthenticated("token claim 'isAdmin' must be a boolean")
    if not isinstance(jti, str) or not jti:
        raise Unauthenticated("token claim 'jti' must be a non-empty string")
    if not all(isinstance(v, int | float) and not isinstance(v, bool) for v in (iat, exp)):
        raise Unauthenticated("token claims 'iat' and 'exp' must be numeric dates")
    epoch = claims.get("sessionEpoch", 0)
    if not isinstance(epoch, int) or isinstance(epoch, bool) or epoch < 0:
        raise Unauthenticated("token claim 'sessionEpoch' must be a non-negative integer")
    return TokenClaims(
        user_id=sub,
        is_admin=is_admin,
        issued_at=datetime.fromtimestamp(iat, UTC),
        expires_at=datetime.fromtimestamp(exp, UTC),
        jti=jti,
        session_epoch=epoch,
    )
