"""``indexing(repository, commit, wait)``: whether reads see a commit of the default branch.

Two readers follow the default branch, one after the other (docs/projection.md,
docs/resources.md): the KV projection that storefront (DRAFT) reads use — ``state``, the same
check as a mutation's ``indexing`` handle and ``waitForIndex`` (``IndexWatcher``: the draft
view's head is the commit or a descendant) — and then the resource store that
``resource``/``resources`` and watches read — ``resources``, its applied commit is the commit
or a descendant. ``wait`` (seconds, 0..60) polls every 20 ms until both are ``INDEXED`` or the
time is up; a timeout is not an error (``PENDING``). For a commit made earlier: by a mutation
answered without waiting, by a revert, or by a push. Needs DRAFT read access. The MCP
``wait_for_index`` tool is this query.
"""

from __future__ import annotations

import asyncio
import re
import time
from typing import TYPE_CHECKING, Any

from graphql import (
    GraphQLArgument,
    GraphQLEnumType,
    GraphQLField,
    GraphQLFloat,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLString,
)

from gitstore.domain.content.kindset import builtin_registry
from gitstore.domain.errors import GitStoreError, InvalidArgument

from ..catalog.access import readable_repository
from ..catalog.writes.git import BranchView
from ..catalog.writes.indexing import ANCESTRY_DEPTH, INDEXED, PENDING, POLL_SECONDS, IndexWatcher
from ..context import context_of
from .builder import SchemaBuilder
from .info import ResolveInfo

if TYPE_CHECKING:
    from ..services import ApiServices

MAX_WAIT_SECONDS = 60.0
_SHA = re.compile(r"[0-9a-f]{40}")


class _ResourcesWatcher:
    """Whether the resource store has applied ``commit`` (or a descendant of it)."""

    def __init__(self, services: ApiServices, view: BranchView) -> None:
        self.services = services
        self.view = view
        self._checked: dict[tuple[str, str], bool] = {}

    async def state(self, commit: str) -> str:
        try:
            applied = await self.services.resources().applied_commit(self.view.repository_id)
            if applied is None:
                return PENDING
            if applied == commit:
                return INDEXED
            known = self._checked.get((applied, commit))
            if known is None:
                log = await self.view.log(applied, limit=ANCESTRY_DEPTH)
                known = any(info.sha == commit for info in log)
                self._checked[applied, commit] = known
            return INDEXED if known else PENDING
        except GitStoreError:
            return PENDING


class IndexingModule:
    """After ``CatalogMutationsModule`` (it reuses the ``IndexingState`` enum)."""

    name = "indexing"

    def contribute(self, builder: SchemaBuilder) -> None:
        enum = builder.get_type("IndexingState")
        if not isinstance(enum, GraphQLEnumType):
            raise TypeError("IndexingState must be the catalogue mutations' enum")
        state_type = GraphQLNonNull(enum)
        commit_indexing = GraphQLObjectType(
            "CommitIndexing",
            lambda: {
                "repository": GraphQLField(GraphQLNonNull(GraphQLString)),
                "commit": GraphQLField(GraphQLNonNull(GraphQLString)),
                "state": GraphQLField(
                    state_type, description="Storefront (DRAFT) reads: the KV projection."
                ),
                "resources": GraphQLField(
                    state_type, description="resource/resources reads: the resource store."
                ),
            },
            description="Whether the readers of the default branch have reached a commit.",
        )
        builder.add_type(commit_indexing)

        async def resolve(
            _root: Any, info: ResolveInfo, repository: str, commit: str, wait: float = 0.0
        ) -> dict[str, Any]:
            ctx = context_of(info)
            record = await readable_repository(
                ctx.services.store, ctx.actor(), repository, draft=True
            )
            if not _SHA.fullmatch(commit):
                raise InvalidArgument(
                    f"commit must be a full commit id (40 lowercase hex digits), got {commit!r}",
                    field="commit",
                )
            if not 0 <= wait <= MAX_WAIT_SECONDS:
                raise InvalidArgument(
                    f"wait must be between 0 and {MAX_WAIT_SECONDS:g} seconds, got {wait:g}",
                    field="wait",
                )
            view = BranchView(
                ctx.services.git(),
                record.repository_id,
                record.default_branch,
                registry=builtin_registry(),
            )
            kv = IndexWatcher(ctx.services.kv(), view)
            resources = _ResourcesWatcher(ctx.services, view)
            deadline = time.monotonic() + wait
            kv_state = resources_state = PENDING
            while True:
                if kv_state != INDEXED:
                    kv_state = await kv.state(commit)
                if resources_state != INDEXED:
                    resources_state = await resources.state(commit)
                left = deadline - time.monotonic()
                if (kv_state == resources_state == INDEXED) or left <= 0:
                    break
                await asyncio.sleep(min(POLL_SECONDS, left))
            return {
                "repository": repository,
                "commit": commit,
                "state": kv_state,
                "resources": resources_state,
            }

        builder.add_query_field(
            "indexing",
            GraphQLField(
                GraphQLNonNull(commit_indexing),
                args={
                    "repository": GraphQLArgument(
                        GraphQLNonNull(GraphQLString), description="<namespace>/<repo>"
                    ),
                    "commit": GraphQLArgument(
                        GraphQLNonNull(GraphQLString), description="A full commit id."
                    ),
                    "wait": GraphQLArgument(
                        GraphQLFloat,
                        default_value=0.0,
                        description="Seconds to wait until both readers reach the commit"
                        " (0..60; default 0: look once).",
                    ),
                },
                resolve=resolve,
                description="Whether storefront (DRAFT) reads and the resource store have"
                " reached a commit of the default branch; with wait, polls until both have or"
                " the time is up (then PENDING).",
            ),
        )
