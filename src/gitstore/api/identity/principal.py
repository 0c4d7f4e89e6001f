"""Who is calling: the authenticated principal of one request.

``scopes`` are what the credential allows: a login JWT carries both ``read`` and ``write``;
a personal access token carries the scopes it was created with. Queries need ``read``,
mutations ``write`` (checked by ``RequestContext.require_principal``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

ALL_SCOPES = frozenset({"read", "write"})
# What an access token may carry: ``status`` is the controller scope (status subresources,
# docs/resources.md), never implied by a login.
TOKEN_SCOPES = ALL_SCOPES | {"status"}


@dataclass(frozen=True, slots=True)
class Principal:
    user_id: str
    username: str
    is_admin: bool
    scopes: frozenset[str]
    # "git": a user name the git service vouches for (an SSH key it authenticated through
    # the hook service); carries read and write, like a login.
    via: Literal["jwt", "pat", "git"]
    credential_id: str  # the JWT's jti, the access token's id, the SSH key's id

    def allows(self, scope: str) -> bool:
        return scope in self.scopes
