"""The GraphQL operations behind the MCP tools (one document per tool, nothing else).

Kept as plain documents so a reader can run any of them against ``/graphql`` and get what
the tool saw; the executor sends them with variables only.
"""

from __future__ import annotations

CHANGE = "path changeType kind name diff { path op old new }"
PAYLOAD = f"""
  repository branch commit committed dryRun replayed
  changes {{ {CHANGE} }}
  indexing {{ repository commit state }}
  userErrors {{ field message code rule }}
"""

VIEWER = "query { viewer { username isAdmin } }"

NAMESPACES = """
query($after: String) {
  namespaces(first: 100, after: $after) {
    nodes { identifier } pageInfo { hasNextPage endCursor }
  }
}"""

REPOSITORIES = """
query($namespace: String!, $after: String) {
  repositories(namespace: $namespace, first: 100, after: $after) {
    nodes { fullName description publishMode defaultBranch visibility releasePatterns }
    pageInfo { hasNextPage endCursor }
  }
}"""

KINDS = """
query($repository: String!, $kind: String) {
  kinds(repository: $repository, kind: $kind) {
    kind plural singular group description builtin source hubVersion conversion
    versions { name apiVersion served storage deprecated deprecationWarning%s }
  }
}"""
KINDS_BRIEF = KINDS % ""
KINDS_FULL = KINDS % " schema statusSchema"

RESOURCES = """
query($repository: String!, $kind: String, $labelSelector: String) {
  resources(repository: $repository, kind: $kind, labelSelector: $labelSelector) {
    resourceVersion
    items { kind name apiVersion resourceVersion generation labels spec }
  }
}"""

RESOURCE = """
query($repository: String!, $kind: String!, $name: String!) {
  resource(repository: $repository, kind: $kind, name: $name) {
    kind name apiVersion uid resourceVersion generation labels annotations spec status
  }
  resourceHistory(repository: $repository, kind: $kind, name: $name, first: 1) {
    commit committedAt actor message
  }
}"""

APPLY = f"""
mutation($input: ApplyManifestsInput!) {{
  applyManifests(input: $input) {{ {PAYLOAD} }}
}}"""

REVERT = f"""
mutation($input: RevertCommitInput!) {{
  revertCommit(input: $input) {{ {PAYLOAD} revertedCommit }}
}}"""

INDEXING = """
query($repository: String!, $commit: String!, $wait: Float) {
  indexing(repository: $repository, commit: $commit, wait: $wait) {
    repository commit state resources
  }
  commitStatus(repository: $repository, sha: $commit) {
    state errors { path field rule message line column }
  }
}"""

RELEASES = """
query($repository: String!) {
  repository(by: {fullName: $repository}) { publishMode releasePatterns defaultBranch }
  liveRelease(repository: $repository) { tag commit status publishedAt publishedBy }
  releases(repository: $repository, first: 10) {
    nodes { tag commit status createdAt createdBy publishedAt message }
  }
  publications(repository: $repository, first: 5) {
    nodes { sequence tag commit kind state requestedAt requestedBy completedAt error }
  }
}"""
