"""Which repositories the controllers run for: discovered through the API, filtered.

``GITSTORE_CONTROLLERS__REPOSITORIES`` is a comma-separated list of entries, each one of

* ``*`` — every repository the token can read (all namespaces);
* ``<namespace>/*`` — every repository of that namespace;
* ``<namespace>/<repo>`` — that repository (a filter: it runs once it exists).

:func:`discover` lists what the entries select with the GraphQL API the controllers already
use (``namespaces`` when ``*`` is given, else only the named namespaces, then
``repositories(namespace:)``, 100 per page), so a repository created later is picked up by
the next round and a deleted one dropped (``ControllersService``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from gitstore.domain.errors import InvalidArgument

from .client import ApiClient
from .errors import ApiError

PAGE = 100
NAMESPACES = """query($after: String) { namespaces(first: 100, after: $after) {
  nodes { identifier } pageInfo { hasNextPage endCursor } } }"""
REPOSITORIES = """query($ns: String!, $after: String) {
  repositories(namespace: $ns, first: 100, after: $after) {
    nodes { fullName } pageInfo { hasNextPage endCursor } } }"""

_PART = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")


@dataclass(frozen=True, slots=True)
class RepositoryFilter:
    everything: bool = False
    namespaces: frozenset[str] = frozenset()  # ``ns/*``
    names: frozenset[str] = frozenset()  # ``ns/repo``

    @classmethod
    def parse(cls, entries: Iterable[str]) -> RepositoryFilter:
        """The filter of the setting's entries; ``InvalidArgument`` naming a bad one."""
        everything, namespaces, names = False, set(), set()
        listed = list(entries)
        if not listed:
            raise InvalidArgument(
                "GITSTORE_CONTROLLERS__REPOSITORIES: name repositories (namespace/repo), "
                "namespaces (namespace/*) or * for every repository the token can read",
                field="controllers.repositories",
            )
        for entry in listed:
            namespace, _, name = entry.partition("/")
            if entry == "*":
                everything = True
            elif _PART.fullmatch(namespace) and name == "*":
                namespaces.add(namespace)
            elif _PART.fullmatch(namespace) and _PART.fullmatch(name):
                names.add(entry)
            else:
                raise InvalidArgument(
                    f"GITSTORE_CONTROLLERS__REPOSITORIES: {entry!r} is not namespace/repo, "
                    "namespace/* or *",
                    field="controllers.repositories",
                )
        return cls(everything, frozenset(namespaces), frozenset(names))

    def matches(self, full_name: str) -> bool:
        return (
            self.everything
            or full_name in self.names
            or full_name.partition("/")[0] in self.namespaces
        )

    def namespaces_to_scan(self) -> set[str] | None:
        """The namespaces to list (None: all of them)."""
        if self.everything:
            return None
        return set(self.namespaces) | {n.partition("/")[0] for n in self.names}


async def _pages(client: ApiClient, query: str, field: str, **variables: Any) -> list[str]:
    out: list[str] = []
    after: str | None = None
    while True:
        data = await client.execute(query, {**variables, "after": after})
        page = data[field]
        out.extend(next(iter(node.values())) for node in page["nodes"])
        if not page["pageInfo"]["hasNextPage"] or not page["nodes"]:
            return out
        after = page["pageInfo"]["endCursor"]


async def discover(client: ApiClient, wanted: RepositoryFilter) -> set[str]:
    """The repositories (``namespace/repo``) the filter selects that the token can read now.
    A namespace that does not exist (yet) or is not readable selects nothing; an API that
    cannot be reached raises ``RetryableError``."""
    namespaces = wanted.namespaces_to_scan()
    if namespaces is None:
        namespaces = set(await _pages(client, NAMESPACES, "namespaces"))
    found: set[str] = set()
    for namespace in sorted(namespaces):
        try:
            names = await _pages(client, REPOSITORIES, "repositories", ns=namespace)
        except ApiError:  # NOT_FOUND / PERMISSION_DENIED: nothing there for this token
            continue
        found.update(n for n in names if wanted.matches(n))
    return found
