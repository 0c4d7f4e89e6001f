"""Identifiers: DNS labels, namespaces and repository ids.

A namespace identifier and a repository name are both DNS labels: lowercase ASCII letters,
digits and hyphens, 1-63 characters, neither starting nor ending with a hyphen. A repository
id is ``<namespace>/<name>``. Because both halves are DNS labels, a repository id can never
contain ``..``, a leading ``/``, a NUL byte or any other path trick, so
``<data_dir>/<namespace>/<name>.git`` always stays inside the data dir.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from gitstore.domain.errors import InvalidArgument

# ``DNS_LABEL.fullmatch(value)`` is true exactly when ``dns_label_problem(value)`` is None
# (for hot loops that only need the yes/no: a path's file name, per file of a projection).
DNS_LABEL = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?")


def dns_label_problem(value: str) -> str | None:
    """Why ``value`` is not a DNS label, or None when it is one."""
    if isinstance(value, str) and DNS_LABEL.fullmatch(value):  # the common case: one
        return None
    if not value:
        return "must not be empty"
    if len(value) > 63:
        return f"must be at most 63 characters (got {len(value)})"
    if value.startswith("-") or value.endswith("-"):
        return "must not start or end with a hyphen"
    if not value.isascii() or not DNS_LABEL.fullmatch(value):
        return "may contain only lowercase letters a-z, digits 0-9 and hyphens"
    return None


def validate_dns_label(value: str, what: str = "identifier") -> str:
    """Return ``value`` if it is a DNS label, else raise ``InvalidArgument`` naming ``what``."""
    problem = dns_label_problem(value)
    if problem is not None:
        raise InvalidArgument(f"{what} {value!r} is not a valid DNS label: {problem}", field=what)
    return value


@dataclass(frozen=True, slots=True)
class RepositoryId:
    namespace: str
    name: str

    @classmethod
    def parse(cls, value: str) -> RepositoryId:
        """Parse ``<namespace>/<name>``; raise ``InvalidArgument`` saying what is wrong."""
        if not isinstance(value, str) or not value:
            raise InvalidArgument("repository_id must not be empty", field="repository_id")
        parts = value.split("/")
        if len(parts) != 2:
            raise InvalidArgument(
                f"repository_id {value!r} must have the form <namespace>/<name>",
                field="repository_id",
            )
        namespace, name = parts
        validate_dns_label(namespace, "namespace")
        validate_dns_label(name, "repository name")
        return cls(namespace, name)

    def __str__(self) -> str:
        return f"{self.namespace}/{self.name}"
