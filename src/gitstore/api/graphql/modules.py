"""The schema modules the API serves, in build order.

To add a part of the API, write a module (see ``builder.SchemaModule``) and list it here.
Order matters only for types: a module that uses another module's type by name
(``builder.get_type("User")``) must come after it.
"""

from __future__ import annotations

from ..storeschema.status import SchemaStatusModule
from .audit import AuditModule
from .builder import SchemaModule
from .catalog_mutations import CatalogMutationsModule
from .catalog_reads import CatalogReadsModule
from .change_requests import ChangeRequestsModule
from .identity import IdentityModule
from .indexing import IndexingModule
from .kinds import KindsModule
from .leases import LeasesModule
from .namespaces import NamespacesModule
from .reindex import ReindexModule
from .releases import ReleasesModule
from .repositories import RepositoriesModule
from .resources import ResourcesModule
from .ssh_keys import SshKeysModule
from .watch import WatchModule


def default_modules() -> list[SchemaModule]:
    return [
        IdentityModule(),
        SshKeysModule(),
        NamespacesModule(),
        RepositoriesModule(),
        CatalogReadsModule(),
        CatalogMutationsModule(),
        IndexingModule(),
        AuditModule(),
        ReleasesModule(),
        ReindexModule(),
        ChangeRequestsModule(),
        ResourcesModule(),
        LeasesModule(),
        KindsModule(),
        SchemaStatusModule(repository_argument=True),
        WatchModule(),
    ]
