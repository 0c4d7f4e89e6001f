"""Releases over GraphQL against a real API + git service: createRelease tags in git and asks
the worker (a PublishEvent on the main stream) to publish; publication outcomes arrive as
PublishedEvents (injected here, as the worker would send them); roll back, replay, the
ON_COMMIT refusal and who may do what."""

from __future__ import annotations

from typing import Any

from tests.catalog_writes.harness import Stack

from .harness import QueueView, wait_for
from .ops import (
    Person,
    add_member,
    create_release,
    error_of,
    make_repository,
    ok,
    person,
    publications,
    publish,
    releases,
    replay,
)


def _publication(stack: Stack, token: str, repo: str, sequence: int) -> dict[str, Any] | None:
    found = [p for p in publications(stack.api, token, repo) if p["sequence"] == sequence]
    return found[0] if found else None


def _wait_state(stack: Stack, token: str, repo: str, sequence: int, state: str) -> dict[str, Any]:
    def done() -> dict[str, Any] | None:
        publication = _publication(stack, token, repo, sequence)
        return publication if publication and publication["state"] == state else None

    return wait_for(done, f"publication {sequence} of {repo} to become {state}")


def _status(stack: Stack, token: str | None, repo: str) -> dict[str, str]:
    nodes = releases(stack.api, token, repo)["releases"]["nodes"]
    return {node["tag"]: node["status"] for node in nodes}


def test_create_release_tags_records_and_requests_a_publication(
    stack: Stack, owner: Person, repo: str, queue: QueueView
) -> None:
    head = stack.git_head(repo)
    payload = ok(
        create_release(
            stack.api, owner.token, repo, "v1.0.0", message="First", clientMutationId="m-1"
        )
    )
    assert payload["clientMutationId"] == "m-1"
    release, publication = payload["release"], payload["publication"]
    assert release["tag"] == "v1.0.0" and release["commit"] == head
    assert release["source"] == "api" and release["createdBy"] == owner.username
    assert release["message"] == "First"
    assert publication["sequence"] == 1 and publication["kind"] == "PUBLISH"
    assert publication["state"] == "PENDING" and publication["commit"] == head
    # the tag exists in git, annotated, peeling to the head
    assert stack.run_git(repo, "rev-parse", "v1.0.0^{commit}").strip() == head
    assert stack.run_git(repo, "cat-file", "-t", "v1.0.0").strip() == "tag"
    (event,) = queue.requests(repo)
    assert (event.sequence, event.tag, event.commit, event.kind) == (1, "v1.0.0", head, "PUBLISH")
    assert event.requested_by == owner.username and event.type == "release.publish"
    data = releases(stack.api, owner.token, repo)
    assert data["releases"]["totalCount"] == 1
    assert data["releases"]["nodes"][0]["status"] == "PENDING"
    assert data["liveRelease"] is None


def test_published_outcome_makes_the_release_live_and_rollback_republishes(
    stack: Stack, owner: Person, repo: str, queue: QueueView
) -> None:
    ok(create_release(stack.api, owner.token, repo, "v1"))
    (first,) = queue.requests(repo)
    queue.report(first, changed=("product/p",))
    done = _wait_state(stack, owner.token, repo, 1, "PUBLISHED")
    assert done["changed"] == ["product/p"] and done["completedAt"]
    assert _status(stack, owner.token, repo) == {"v1": "LIVE"}

    ok(create_release(stack.api, owner.token, repo, "release/2"))
    second = queue.requests(repo)[1]
    assert (second.sequence, second.tag) == (2, "release/2")
    assert _status(stack, owner.token, repo) == {"v1": "LIVE", "release/2": "PENDING"}
    queue.report(second)
    _wait_state(stack, owner.token, repo, 2, "PUBLISHED")
    assert _status(stack, owner.token, repo) == {"v1": "PUBLISHED", "release/2": "LIVE"}

    # roll back: v1 again, with a newer sequence
    rolled = ok(publish(stack.api, owner.token, repo, "v1"))["publication"]
    assert (rolled["sequence"], rolled["tag"], rolled["kind"]) == (3, "v1", "PUBLISH")
    third = queue.requests(repo)[2]
    assert (third.sequence, third.tag, third.kind) == (3, "v1", "PUBLISH")
    queue.report(third)
    _wait_state(stack, owner.token, repo, 3, "PUBLISHED")
    data = releases(stack.api, owner.token, repo)
    assert data["liveRelease"]["tag"] == "v1"
    statuses = {n["tag"]: (n["status"], n["publishedBy"]) for n in data["releases"]["nodes"]}
    assert statuses == {"v1": ("LIVE", owner.username), "release/2": ("PUBLISHED", owner.username)}

    replayed = ok(replay(stack.api, owner.token, repo, "release/2"))["publication"]
    assert (replayed["sequence"], replayed["kind"]) == (4, "REPLAY")
    assert queue.requests(repo)[3].kind == "REPLAY"
    assert [p["sequence"] for p in publications(stack.api, owner.token, repo, "v1")] == [3, 1]


def test_superseded_and_failed_outcomes_are_recorded_without_going_live(
    stack: Stack, owner: Person, repo: str, queue: QueueView
) -> None:
    ok(create_release(stack.api, owner.token, repo, "v1"))
    ok(create_release(stack.api, owner.token, repo, "v2"))
    first, second = queue.requests(repo)
    queue.report(second, state="FAILED", error="projection failed: boom", changed=())
    failed = _wait_state(stack, owner.token, repo, 2, "FAILED")
    assert failed["error"] == "projection failed: boom"
    queue.report(first, state="SUPERSEDED", changed=())
    _wait_state(stack, owner.token, repo, 1, "SUPERSEDED")
    assert _status(stack, owner.token, repo) == {"v1": "NEVER_PUBLISHED", "v2": "NEVER_PUBLISHED"}
    assert releases(stack.api, owner.token, repo)["liveRelease"] is None


def test_release_tags_must_match_the_patterns_and_are_recorded_once(
    stack: Stack, owner: Person, repo: str
) -> None:
    error = error_of(create_release(stack.api, owner.token, repo, "nightly-1"))
    assert error["code"] == "INVALID_ARGUMENT" and error["field"] == "tag"
    assert "release/*, v*" in error["message"]
    bad = error_of(create_release(stack.api, owner.token, repo, "v1 beta"))
    assert bad["code"] == "INVALID_ARGUMENT" and "letters, digits" in bad["message"]
    ok(create_release(stack.api, owner.token, repo, "v1"))
    again = error_of(create_release(stack.api, owner.token, repo, "v1"))
    assert again["code"] == "ALREADY_EXISTS"
    missing = error_of(create_release(stack.api, owner.token, repo, "v2", revision="nope"))
    assert missing["code"] in {"NOT_FOUND", "INVALID_ARGUMENT"}
    unknown = error_of(publish(stack.api, owner.token, repo, "v9"))
    assert unknown["code"] == "NOT_FOUND" and unknown["field"] == "tag"


def test_on_commit_repositories_record_releases_but_do_not_publish_them(
    stack: Stack, owner: Person, queue: QueueView
) -> None:
    repo = make_repository(stack.api, owner, publish_mode="ON_COMMIT")
    payload = ok(create_release(stack.api, owner.token, repo, "v1"))
    assert payload["release"]["tag"] == "v1" and payload["publication"] is None
    assert queue.requests(repo) == []
    refused = error_of(publish(stack.api, owner.token, repo, "v1"))
    assert refused["code"] == "FAILED_PRECONDITION" and "ON_COMMIT" in refused["message"]
    assert error_of(replay(stack.api, owner.token, repo, "v1"))["code"] == "FAILED_PRECONDITION"
    assert _status(stack, owner.token, repo) == {"v1": "NEVER_PUBLISHED"}


def test_who_may_create_publish_and_read_releases(stack: Stack, owner: Person) -> None:
    repo = make_repository(stack.api, owner, organisation=True)
    writer, reader, maintainer, stranger = (person(stack.api) for _ in range(4))
    add_member(stack.api, owner, repo, writer, "WRITER")
    add_member(stack.api, owner, repo, reader, "READER")
    add_member(stack.api, owner, repo, maintainer, "MAINTAINER")

    denied = error_of(create_release(stack.api, reader.token, repo, "v1"))
    assert denied["code"] == "PERMISSION_DENIED" and "write access" in denied["message"]
    hidden = error_of(create_release(stack.api, stranger.token, repo, "v1"))
    assert hidden["code"] == "NOT_FOUND"
    ok(create_release(stack.api, writer.token, repo, "v1"))  # writers may tag (= push a tag)

    refused = error_of(publish(stack.api, writer.token, repo, "v1"))
    assert refused["code"] == "PERMISSION_DENIED" and "maintainer or owner" in refused["message"]
    assert error_of(replay(stack.api, writer.token, repo, "v1"))["code"] == "PERMISSION_DENIED"
    assert error_of(publish(stack.api, stranger.token, repo, "v1"))["code"] == "NOT_FOUND"
    assert ok(publish(stack.api, maintainer.token, repo, "v1"))["publication"]["sequence"] == 2

    assert _status(stack, reader.token, repo) == {"v1": "PENDING"}
    response = stack.api.graphql(
        "query($r: String!) { releases(repository: $r) { totalCount } }",
        {"r": repo},
        token=stranger.token,
    )
    assert response.json()["errors"][0]["extensions"]["code"] == "NOT_FOUND"


def test_public_repositories_show_releases_to_anyone(stack: Stack, owner: Person) -> None:
    repo = make_repository(stack.api, owner, visibility="PUBLIC")
    ok(create_release(stack.api, owner.token, repo, "v1"))
    assert _status(stack, None, repo) == {"v1": "PENDING"}
    anonymous = stack.api.graphql(
        "mutation($i: PublishReleaseInput!) { publishRelease(input: $i) { userErrors { code } } }",
        {"i": {"repository": repo, "tag": "v1"}},
    )
    assert anonymous.status_code == 401


def test_releases_page_newest_first(stack: Stack, owner: Person, repo: str) -> None:
    for tag in ("v1", "v2", "v3"):
        ok(create_release(stack.api, owner.token, repo, tag))
    query = """
    query($r: String!, $after: String) {
      releases(repository: $r, first: 2, after: $after) {
        totalCount pageInfo { hasNextPage endCursor } nodes { tag }
      }
    }"""
    first = stack.api.graphql(query, {"r": repo}, token=owner.token).json()["data"]["releases"]
    assert [n["tag"] for n in first["nodes"]] == ["v3", "v2"] and first["totalCount"] == 3
    assert first["pageInfo"]["hasNextPage"] is True
    cursor = first["pageInfo"]["endCursor"]
    rest = stack.api.graphql(query, {"r": repo, "after": cursor}, token=owner.token).json()
    page = rest["data"]["releases"]
    assert [n["tag"] for n in page["nodes"]] == ["v1"] and page["pageInfo"]["hasNextPage"] is False
