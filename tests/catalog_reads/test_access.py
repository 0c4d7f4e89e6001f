"""Who may read which channel, channel resolution (ON_COMMIT fallback, live aliases,
ON_RELEASE_TAG), not-found answers, ``commitStatus``, the raw floor route and the read-latency
metric — over HTTP against a real server."""

from __future__ import annotations

import json
from typing import Any

import pytest

from gitstore.backends.kv import Batch
from gitstore.domain.keys import ChannelScope
from gitstore.domain.projection import status_error, status_value

from .seed import Resource, Shop, batch_of, data, error_codes, sha

CATALOG = """
query($repo: String!, $channel: Channel) {
  catalog(repository: $repo, channel: $channel) {
    channel resolvedChannel version
    product(name: "p01") { name version }
    products(first: 1) { totalCount }
  }
}"""


def read(shop: Shop, repo: str, channel: str | None = None, token: str | None = None) -> Any:
    variables: dict[str, Any] = {"repo": repo}
    if channel:
        variables["channel"] = channel
    return shop.server.graphql(CATALOG, variables, token=token)


# ---------------------------------------------------------------------- permissions


def test_live_of_a_public_repository_is_anonymous(shop: Shop) -> None:
    catalog = data(read(shop, shop.public))["catalog"]
    assert catalog["product"] == {"name": "p01", "version": sha(1)}
    assert catalog["products"]["totalCount"] == 24


def test_draft_needs_read_access(shop: Shop) -> None:
    anonymous = read(shop, shop.public, "DRAFT")
    assert anonymous.status_code == 401
    assert error_codes(anonymous) == ["UNAUTHENTICATED"]
    assert "DRAFT" in anonymous.json()["errors"][0]["message"]

    outsider = read(shop, shop.public, "DRAFT", shop.outsider_token)
    assert outsider.status_code == 200
    assert error_codes(outsider) == ["PERMISSION_DENIED"]
    assert outsider.json()["data"] is None

    for token in (shop.owner_token, shop.admin_token):
        catalog = data(read(shop, shop.public, "DRAFT", token))["catalog"]
        assert catalog["channel"] == "DRAFT"
        assert catalog["resolvedChannel"] == "draft"
        assert catalog["product"]["name"] == "p01"


def test_private_repository_is_not_found_without_read_access(shop: Shop) -> None:
    for channel in (None, "DRAFT"):
        for token in (None, shop.outsider_token):
            response = read(shop, shop.private, channel, token)
            assert response.status_code == 200
            assert error_codes(response) == ["NOT_FOUND"], response.json()
            # the same words as for a repository that does not exist
            assert response.json()["errors"][0]["message"] == (
                f"repository {shop.private!r} not found (or it is private: send a token with"
                " read access)"
            )
    for channel in (None, "DRAFT"):
        catalog = data(read(shop, shop.private, channel, shop.owner_token))["catalog"]
        assert catalog["product"]["name"] == "p01"


def test_a_read_only_access_token_reads_and_a_bad_token_is_401(shop: Shop) -> None:
    create = """mutation { createAccessToken(input: {name: "ro", scopes: [READ]}) {
      secret userErrors { message } } }"""
    pat = data(shop.server.graphql(create, token=shop.owner_token))["createAccessToken"]["secret"]
    assert data(read(shop, shop.private, "DRAFT", pat))["catalog"]["product"]["name"] == "p01"
    assert read(shop, shop.public, None, "gst_" + "x" * 43).status_code == 401


@pytest.mark.parametrize(
    ("repo", "code"),
    [
        ("nobody/nothing", "NOT_FOUND"),
        ("no-slash", "INVALID_ARGUMENT"),
        ("A/b", "INVALID_ARGUMENT"),
    ],
)
def test_unknown_or_malformed_repository(shop: Shop, repo: str, code: str) -> None:
    response = read(shop, repo)
    body = response.json()
    assert response.status_code == 200
    assert body["data"] is None
    (error,) = body["errors"]
    assert error["extensions"] == {"code": code, "field": "repository"}
    assert "internal" not in error["message"]


# ---------------------------------------------------------------------- channel resolution


def test_on_release_tag_live_is_empty_until_published(shop: Shop) -> None:
    catalog = data(read(shop, shop.tags))["catalog"]
    assert catalog == {
        "channel": "LIVE",
        "resolvedChannel": "live",
        "version": None,
        "product": None,
        "products": {"totalCount": 0},
    }
    # the draft is there for readers with access
    draft = data(read(shop, shop.tags, "DRAFT", shop.owner_token))["catalog"]
    assert draft["product"]["name"] == "p01"


def test_live_alias_points_reads_at_a_release_channel(
    api_server_factory: Any, tmp_path: Any
) -> None:
    from .seed import seed_shop

    shop = seed_shop(api_server_factory(data_dir=tmp_path))
    release = [Resource("Product", "p01", {"title": "Released", "status": "active"})]
    shop.apply(batch_of(shop.tags, "rel-1", release, sequence=1, version=sha(7)))
    kv = shop.server.services.kv()
    shop.server.run(kv.set_alias(shop.tags, "live", "rel-1", sequence=1))
    catalog = data(read(shop, shop.tags))["catalog"]
    assert catalog == {
        "channel": "LIVE",
        "resolvedChannel": "rel-1",
        "version": sha(7),
        "product": {"name": "p01", "version": sha(7)},
        "products": {"totalCount": 1},
    }
    # an ON_COMMIT repository whose live scope has a head reads it, not the draft
    shop.apply(batch_of(shop.public, "live", release, sequence=1, version=sha(8)))
    public = data(read(shop, shop.public))["catalog"]
    assert (public["resolvedChannel"], public["version"]) == ("live", sha(8))
    assert public["products"]["totalCount"] == 1
    draft = data(read(shop, shop.public, "DRAFT", shop.owner_token))["catalog"]
    assert (draft["resolvedChannel"], draft["version"]) == ("draft", sha(1))


# ---------------------------------------------------------------------- commitStatus

STATUS = """
query($repo: String!, $sha: String!) {
  commitStatus(repository: $repo, sha: $sha) {
    state commit checkedAt errors { path field rule message line column }
  }
}"""


def test_commit_status_pending_valid_invalid(shop: Shop) -> None:
    errors = [
        status_error(
            path="products/p01.yaml",
            field="spec.price.amount",
            rule="pattern",
            message="spec.price.amount: '-5' is not a valid amount",
            line=7,
            column=11,
        ),
        status_error(path="products/x.yaml", field="", rule="yaml-syntax", message="bad YAML"),
    ]
    batch = Batch(ChannelScope(shop.public, "status"), sequence=1, version=sha(21))
    batch.advance_head = False
    batch.upsert("commit", sha(21), status_value(sha(21), [], "2025-01-02T03:04:05Z"))
    shop.apply(batch)
    batch = Batch(ChannelScope(shop.public, "status"), sequence=1, version=sha(22))
    batch.advance_head = False
    batch.upsert("commit", sha(22), status_value(sha(22), errors, "2025-01-02T03:04:06+00:00"))
    shop.apply(batch)

    def status(commit: str) -> Any:
        return data(shop.server.graphql(STATUS, {"repo": shop.public, "sha": commit}))[
            "commitStatus"
        ]

    assert status(sha(20)) == {
        "state": "PENDING",
        "commit": sha(20),
        "checkedAt": None,
        "errors": [],
    }
    assert status(sha(21)) == {
        "state": "VALID",
        "commit": sha(21),
        "checkedAt": "2025-01-02T03:04:05Z",
        "errors": [],
    }
    invalid = status(sha(22).upper())  # any case is accepted
    assert invalid["state"] == "INVALID"
    assert invalid["commit"] == sha(22)
    assert invalid["errors"] == [
        {
            "path": "products/p01.yaml",
            "field": "spec.price.amount",
            "rule": "pattern",
            "message": "spec.price.amount: '-5' is not a valid amount",
            "line": 7,
            "column": 11,
        },
        {
            "path": "products/x.yaml",
            "field": "",
            "rule": "yaml-syntax",
            "message": "bad YAML",
            "line": None,
            "column": None,
        },
    ]


def test_commit_status_errors(shop: Shop) -> None:
    bad = shop.server.graphql(STATUS, {"repo": shop.public, "sha": "abc123"})
    assert bad.json()["errors"][0]["extensions"] == {"code": "INVALID_ARGUMENT", "field": "sha"}
    hidden = shop.server.graphql(STATUS, {"repo": shop.private, "sha": sha(1)})
    assert error_codes(hidden) == ["NOT_FOUND"]
    allowed = shop.server.graphql(
        STATUS, {"repo": shop.private, "sha": sha(1)}, token=shop.owner_token
    )
    assert data(allowed)["commitStatus"]["state"] == "PENDING"


# ---------------------------------------------------------------------- the floor route


def raw(shop: Shop, path: str, token: str | None = None, **params: str) -> Any:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return shop.server.client.get(f"/storefront/raw/{path}", params=params, headers=headers)


def test_floor_route_returns_the_kv_document(shop: Shop) -> None:
    response = raw(shop, f"{shop.public}/product/p01")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.headers["x-gitstore-version"] == sha(1)
    body = response.json()
    stored = shop.server.run(
        shop.server.services.kv().get(ChannelScope(shop.public, "draft"), "product", "p01")
    )
    assert stored is not None
    assert body == {
        "repository": shop.public,
        "channel": "draft",
        "kind": "product",
        "name": "p01",
        "version": sha(1),
        "document": json.loads(stored.body),
    }
    assert body["document"]["spec"] == shop.products()["p01"]
    category = raw(shop, f"{shop.public}/category/shirts").json()
    assert category["document"]["spec"]["parent"] == "apparel"


def test_floor_route_applies_the_same_rules(shop: Shop) -> None:
    cases = [
        (raw(shop, f"{shop.public}/product/nope"), 404, "NOT_FOUND"),
        (raw(shop, f"{shop.namespace}/nothing/product/p01"), 404, "NOT_FOUND"),
        (raw(shop, f"{shop.private}/product/p01"), 404, "NOT_FOUND"),
        (raw(shop, f"{shop.private}/product/p01", shop.outsider_token), 404, "NOT_FOUND"),
        (raw(shop, f"{shop.public}/product/p01", channel="draft"), 401, "UNAUTHENTICATED"),
        (
            raw(shop, f"{shop.public}/product/p01", shop.outsider_token, channel="draft"),
            403,
            "PERMISSION_DENIED",
        ),
        (raw(shop, f"{shop.public}/widget/p01"), 400, "INVALID_ARGUMENT"),
        (raw(shop, f"{shop.public}/product/p01", channel="staging"), 400, "INVALID_ARGUMENT"),
        (raw(shop, f"{shop.public}/product/Bad!"), 400, "INVALID_ARGUMENT"),
        (raw(shop, f"{shop.public}/product/p01", "garbage"), 401, "UNAUTHENTICATED"),
    ]
    for response, status, code in cases:
        assert response.status_code == status, response.text
        assert response.json()["error"]["code"] == code
    ok = raw(shop, f"{shop.private}/product/p01", shop.owner_token, channel="draft")
    assert ok.status_code == 200
    assert ok.json()["document"]["metadata"]["name"] == "p01"


# ---------------------------------------------------------------------- metrics


def test_read_latency_is_in_metrics(shop: Shop) -> None:
    data(read(shop, shop.public))
    raw(shop, f"{shop.public}/product/p01")
    text = shop.server.client.get("/metrics").text
    for field in ("catalog", "product", "products", "raw"):
        line = f'gitstore_api_storefront_read_duration_seconds_count{{field="{field}"}}'
        assert line in text, field
        count = float(text.split(line, 1)[1].split()[0])
        assert count >= 1
