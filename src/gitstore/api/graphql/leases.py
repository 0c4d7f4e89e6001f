"""Controller leases (global ``/graphql``): leader election for controller replicas.

* ``acquireControllerLease(input: {repository, name, holder, leaseSeconds})`` takes a free
  or expired lease or renews the caller's; ``lease`` is the lease as stored and ``held``
  says whether ``holder`` holds it now.
* ``releaseControllerLease(input: {repository, name, holder})`` steps down (``released``).

Same right as status writes (a controller token). Thin: ``api.resources.leases``.
"""

from __future__ import annotations

from typing import Any

from graphql import (
    GraphQLBoolean,
    GraphQLField,
    GraphQLFloat,
    GraphQLInputField,
    GraphQLInt,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLString,
)

from ..context import context_of
from ..resources import leases
from .builder import SchemaBuilder
from .fields import attr
from .info import ResolveInfo
from .payloads import add_mutation


class LeasesModule:
    name = "leases"

    def contribute(self, builder: SchemaBuilder) -> None:
        nn_string = GraphQLNonNull(GraphQLString)
        nn_time = GraphQLNonNull(builder.datetime)
        lease = builder.add_type(
            GraphQLObjectType(
                "ControllerLease",
                {
                    "repository": GraphQLField(nn_string, resolve=attr("scope")),
                    "name": GraphQLField(nn_string),
                    "holder": GraphQLField(nn_string),
                    "acquiredAt": GraphQLField(nn_time, resolve=attr("acquired_at")),
                    "renewedAt": GraphQLField(nn_time, resolve=attr("renewed_at")),
                    "expiresAt": GraphQLField(nn_time, resolve=attr("expires_at")),
                    "transitions": GraphQLField(
                        GraphQLNonNull(GraphQLInt), description="Changes of holder so far."
                    ),
                },
                description="A leader-election lease of controller replicas.",
            )
        )
        key = {
            "repository": GraphQLInputField(nn_string),
            "name": GraphQLInputField(nn_string, description="e.g. the controller's name"),
            "holder": GraphQLInputField(nn_string, description="this replica's identity"),
        }
        add_mutation(
            builder,
            "acquireControllerLease",
            input_fields={
                **key,
                "leaseSeconds": GraphQLInputField(
                    GraphQLNonNull(GraphQLFloat), description="> 0, at most 3600"
                ),
            },
            payload_fields={
                "lease": GraphQLField(lease),
                "held": GraphQLField(
                    GraphQLBoolean,
                    description="Whether holder leads now (null with userErrors).",
                ),
            },
            resolve=_acquire,
            description="Take a free or expired lease, or renew your own (compare-and-set"
            " by the server's clock).",
        )
        add_mutation(
            builder,
            "releaseControllerLease",
            input_fields=key,
            payload_fields={
                "released": GraphQLField(
                    GraphQLBoolean, description="Whether it was held (null with userErrors)."
                )
            },
            resolve=_release,
            description="Give up a lease you hold, so another replica can lead at once.",
        )


async def _acquire(info: ResolveInfo, data: dict[str, Any]) -> dict[str, Any]:
    ctx = context_of(info)
    lease = await leases.acquire(
        ctx.services,
        ctx.principal,
        data["repository"],
        data["name"],
        data["holder"],
        data["leaseSeconds"],
    )
    return {"lease": lease, "held": lease.holder == data["holder"]}


async def _release(info: ResolveInfo, data: dict[str, Any]) -> dict[str, Any]:
    ctx = context_of(info)
    released = await leases.release(
        ctx.services, ctx.principal, data["repository"], data["name"], data["holder"]
    )
    return {"released": released}
