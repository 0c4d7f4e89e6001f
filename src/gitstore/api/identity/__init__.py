"""Identity: users, passwords, login tokens (JWT), personal access tokens, authentication.

Plain modules without GraphQL: ``passwords`` (argon2), ``jwt_tokens`` (issue and verify),
``access_tokens`` (``gst_`` secrets), ``signing_key`` (configured or generated once),
``auth`` (Authorization header / HTTP Basic -> :class:`Principal`), ``actions`` (login, user
and token management with their authorisation rules). The GraphQL layer
(``gitstore.api.graphql.identity``) only translates.
"""

from .principal import Principal

__all__ = ["Principal"]
