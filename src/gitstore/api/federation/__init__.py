"""Apollo Federation v2 subgraph mode of the store endpoints (``GITSTORE_API__FEDERATION``).

Off by default. When on, every store endpoint (``/<namespace>/<repo>/graphql``) is a
Federation v2 subgraph: its catalogue kinds (Product, Category, Collection and the
repository's custom kinds) are entities keyed by ``id`` and by ``name``, and the schema has
``_service { sdl }`` and ``_entities(representations:)``. See docs/federation.md.

* ``sdl`` — the subgraph SDL: ``extend schema @link(...)`` and ``@key`` on the entity types,
  which graphql-core's ``print_schema`` cannot print (it drops applied directives);
* ``entities`` — resolving representations from the KV projection (published state only);
* ``module`` — ``FederationModule``, the schema module adding ``_Any``, ``_Entity``,
  ``_Service``, ``Query._service`` and ``Query._entities``.
"""

from .module import FederationModule

__all__ = ["FederationModule"]
