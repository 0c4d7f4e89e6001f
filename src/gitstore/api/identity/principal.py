"""Who is calling: the authenticated principal of one request.

``scopes`` are what the credential allows: a login JWT carries both ``read`` and ``write``;
a personal access token carries the scopes it was created with. Queries need ``read``,
mutations ``write`` (checked by ``RequestContext.require_principal``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

ALL_SCOPES = frozenset({"read", "write"})


@dataclass(frozen=True, slots=True)
class Principal:
    user_id: str
    username: str
    is_admin: bool
    scopes: frozenset[str]
    via: Literal["jwt", "pat"]
    credential_id: str  # the JWT's jti or the access token's id

    def allows(self, scope: str) -> bool:
        return scope in self.scopes
