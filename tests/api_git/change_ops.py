"""GraphQL operations and a git work tree for the change request tests."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from gitstore.domain.content import bucket_for
from tests.support.graphql_ops import Person, execute, mutate

from .harness import GitStack

ERRORS = "userErrors { field message code }"
CR_FIELDS = "id number state sourceBranch targetBranch title headSha baseSha mergeSha author"

CREATE = f"""mutation($input: CreateChangeRequestInput!) {{
  createChangeRequest(input: $input) {{ changeRequest {{ {CR_FIELDS} }} {ERRORS} }} }}"""
MERGE = f"""mutation($input: MergeChangeRequestInput!) {{
  mergeChangeRequest(input: $input) {{ mergeSha changeRequest {{ {CR_FIELDS} }} {ERRORS} }} }}"""
REVIEW = f"""mutation($input: ReviewChangeRequestInput!) {{
  reviewChangeRequest(input: $input) {{ review {{ verdict author }} {ERRORS} }} }}"""
COMMENT = f"""mutation($input: CommentOnChangeRequestInput!) {{
  commentOnChangeRequest(input: $input) {{ comment {{ body author }} {ERRORS} }} }}"""
CLOSE = f"""mutation($input: CloseChangeRequestInput!) {{
  closeChangeRequest(input: $input) {{ changeRequest {{ state }} {ERRORS} }} }}"""
RULE = f"""mutation($input: SetChangeRequestApprovalRuleInput!) {{
  setChangeRequestApprovalRule(input: $input) {{ requiredApprovals {ERRORS} }} }}"""
DETAIL = f"""query($id: ID!) {{ changeRequest(id: $id) {{
  {CR_FIELDS}
  diff {{ kind name op path fields {{ path op old new }} }}
  validation {{ headSha valid validatedFiles violations {{ path rule message }} }}
  mergeability {{ mergeable fastForwardPossible reason
                 conflicts {{ kind name field reason target source message }} }}
  approvals {{ required missing }}
  reviews {{ author verdict }} comments {{ author body }}
}} }}"""
DETAIL_MIN = "query($id: ID!) { changeRequest(id: $id) { number } }"
LIST = f"""query($repo: String!, $state: ChangeRequestState) {{
  changeRequests(repository: $repo, state: $state, first: 10) {{
    totalCount nodes {{ {CR_FIELDS} }} }} }}"""


def product(name: str, price: str = "10.00", **spec: Any) -> bytes:
    body = {"title": name.title(), "price": {"amount": price, "currency": "EUR"}, **spec}
    doc = {
        "apiVersion": "gitstore.dev/v1",
        "kind": "Product",
        "metadata": {"name": name},
        "spec": body,
    }
    return yaml.safe_dump(doc, sort_keys=False).encode()


def fan(name: str, plural: str = "products") -> str:
    return f"{plural}/{bucket_for(name)}/{name}.yaml"


class Work:
    """A clone of a repository, committing and pushing with the stock git client."""

    def __init__(self, stack: GitStack, url: str, path: Path) -> None:
        self.stack, self.path = stack, path
        stack.git("clone", "-q", url, str(path))

    def git(self, *args: str, check: bool = True) -> str:
        done = self.stack.git(*args, cwd=self.path, check=check)
        return done.stdout + done.stderr

    def write(self, path: str, content: bytes) -> None:
        target = self.path / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(content)

    def commit(self, message: str) -> str:
        self.git("add", "-A")
        self.git("commit", "-q", "-m", message)
        return self.git("rev-parse", "HEAD").strip()

    def push(self, branch: str, *options: str) -> str:
        args = [a for o in options for a in ("-o", o)]
        return self.git("push", *args, "origin", f"HEAD:refs/heads/{branch}")

    def remote_head(self, branch: str) -> str:
        return self.git("ls-remote", "origin", f"refs/heads/{branch}").split()[0]


def create(stack: GitStack, who: Person, repo: str, source: str, **extra: Any) -> dict[str, Any]:
    payload = mutate(
        stack.api,
        CREATE,
        {"repository": repo, "sourceBranch": source, "title": f"Change {source}", **extra},
        who.token,
    )
    return payload


def detail(stack: GitStack, who: Person, cr_id: str) -> dict[str, Any]:
    data = execute(stack.api, DETAIL, {"id": cr_id}, who.token)
    found = data["changeRequest"]
    assert isinstance(found, dict)
    return found


def merge(
    stack: GitStack, who: Person, cr_id: str, head: str, strategy: str = "MERGE"
) -> dict[str, Any]:
    return mutate(
        stack.api, MERGE, {"id": cr_id, "expectedHeadSha": head, "strategy": strategy}, who.token
    )
