"""Personal access tokens: ``gst_`` followed by 43 random URL-safe characters (256 bits).

Only the SHA-256 hex digest of the whole token is stored, so a leaked database does not leak
usable tokens; the secret is shown once, when the token is created. The fixed prefix lets
secret scanners recognise leaked tokens and lets the API tell a token from a JWT at a glance.
"""

from __future__ import annotations

import hashlib
import secrets

PREFIX = "gst_"


def generate() -> str:
    return PREFIX + secrets.token_urlsafe(32)


def digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def looks_like_access_token(value: str) -> bool:
    return value.startswith(PREFIX)
