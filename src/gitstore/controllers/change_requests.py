"""The API calls a proposing controller makes: write manifests to a branch, list, open,
comment on and close change requests (docs/change-requests.md). Every write names a branch
that is *not* the default branch: :class:`ChangeRequests` refuses to write the default branch
before anything reaches the API (a proposer never publishes; people merge).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .client import ApiClient, payload_of
from .errors import PermanentError

REPOSITORY = """query($by: RepositoryBy!) { repository(by: $by) { defaultBranch } }"""
LIST = """query($r: String!, $state: ChangeRequestState, $after: String) {
  changeRequests(repository: $r, state: $state, first: 100, after: $after) {
    edges { node { id number state sourceBranch targetBranch headSha } }
    pageInfo { hasNextPage endCursor } } }"""
APPLY = """mutation($i: ApplyManifestsInput!) { applyManifests(input: $i) {
  commit committed userErrors { field message code } } }"""
CREATE = """mutation($i: CreateChangeRequestInput!) { createChangeRequest(input: $i) {
  changeRequest { id number state sourceBranch targetBranch headSha }
  userErrors { field message code } } }"""
COMMENT = """mutation($i: CommentOnChangeRequestInput!) { commentOnChangeRequest(input: $i) {
  changeRequest { id } userErrors { field message code } } }"""
CLOSE = """mutation($i: CloseChangeRequestInput!) { closeChangeRequest(input: $i) {
  changeRequest { id state } userErrors { field message code } } }"""


@dataclass(frozen=True, slots=True)
class ChangeRequestRef:
    id: str
    number: int
    state: str
    source_branch: str
    target_branch: str
    head_sha: str

    @classmethod
    def of(cls, node: dict[str, Any]) -> ChangeRequestRef:
        return cls(
            node["id"],
            int(node["number"]),
            node["state"],
            node["sourceBranch"],
            node["targetBranch"],
            node.get("headSha") or "",
        )


class ChangeRequests:
    """Change requests of one repository, through ``client``."""

    def __init__(self, client: ApiClient, repository: str) -> None:
        self.client, self.repository = client, repository
        self._default: str | None = None

    async def default_branch(self) -> str:
        if self._default is None:
            data = await self.client.execute(REPOSITORY, {"by": {"fullName": self.repository}})
            if data["repository"] is None:
                raise PermanentError(f"repository {self.repository} not found (or not readable)")
            self._default = str(data["repository"]["defaultBranch"])
        return self._default

    async def find(self, prefix: str = "", state: str | None = None) -> list[ChangeRequestRef]:
        """Every request (of ``state``, if given) whose source branch starts with ``prefix``."""
        found: list[ChangeRequestRef] = []
        after: str | None = None
        while True:
            data = await self.client.execute(
                LIST, {"r": self.repository, "state": state, "after": after}
            )
            page = data["changeRequests"]
            for edge in page["edges"]:
                ref = ChangeRequestRef.of(edge["node"])
                if ref.source_branch.startswith(prefix):
                    found.append(ref)
            if not page["pageInfo"]["hasNextPage"]:
                return found
            after = page["pageInfo"]["endCursor"]

    async def write_branch(self, branch: str, manifests: list[dict[str, Any]], message: str) -> str:
        """Commit ``manifests`` to ``branch`` (created from the default branch's head if new);
        the branch head. Refuses the default branch."""
        if branch == await self.default_branch():
            raise PermanentError(f"refusing to write the default branch {branch!r}")
        data = await self.client.execute(
            APPLY,
            {
                "i": {
                    "repository": self.repository,
                    "branch": branch,
                    "manifests": [{"manifest": m} for m in manifests],
                    "message": message,
                }
            },
        )
        return str(payload_of(data, "applyManifests")["commit"])

    async def create(self, branch: str, title: str, description: str) -> ChangeRequestRef:
        data = await self.client.execute(
            CREATE,
            {
                "i": {
                    "repository": self.repository,
                    "sourceBranch": branch,
                    "title": title,
                    "description": description,
                }
            },
        )
        return ChangeRequestRef.of(payload_of(data, "createChangeRequest")["changeRequest"])

    async def close(self, ref: ChangeRequestRef, comment: str) -> None:
        """Comment why, then close."""
        data = await self.client.execute(COMMENT, {"i": {"id": ref.id, "body": comment}})
        payload_of(data, "commentOnChangeRequest")
        data = await self.client.execute(CLOSE, {"i": {"id": ref.id}})
        payload_of(data, "closeChangeRequest")
