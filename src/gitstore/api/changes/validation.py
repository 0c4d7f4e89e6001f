"""The push path's checks of a commit a merge would publish (docs/change-requests.md).

A server-side merge is judged exactly as a ``git push`` of its result to the target branch
would be: the same ``prereceive_kinds.PushKinds`` (kind changes admitted against stored
resources, registries per commit) and ``prereceive_content.ContentCheck`` (every changed
manifest valid against its kind, the tip's references resolvable, no duplicate files), with
the commit presented as one pushed commit whose parent is the target's head: the files
checked are the files the merge changes on the target, and the references are checked across
the whole merged tree. No quarantine is involved (the commit object is already in the
repository, unreferenced). The same function gives a change request's ``validation``: its head
commit as if pushed onto the merge base.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from gitstore.domain.publishing import PushedCommit, RefPush, Violation

from ..hooks.prereceive_kinds import PushKinds

if TYPE_CHECKING:
    from ..services import ApiServices


async def check_candidate(
    services: ApiServices, repository_id: str, target_ref: str, old: str, new: str
) -> tuple[list[Violation], int]:
    """Violations of moving ``target_ref`` from ``old`` to ``new``, and how many manifests
    were validated."""
    push = RefPush(
        ref=target_ref,
        old=old,
        new=new,
        peeled=new,
        commits=(PushedCommit(new, (old,), "none", ""),),
    )
    kinds = PushKinds(
        services.git(),
        services.kinds(),
        repository_id,
        "",
        services.hook_runner,
        services.settings.content.max_manifest_bytes,
        services.hook_pool,
    )
    violations, check = await kinds.check([push])
    violations.extend(await check.check_commits([push]))
    violations.extend(await check.check_tip(push))
    return violations, check.validated
