"""``gitstore serve`` with ``GITSTORE_API__FEDERATION=true`` behind ``@apollo/gateway``: a
product written through the API (committed, projected by the serve process's own worker) is
read through the gateway with its reviews from a second subgraph."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from gitstore.api.catalog.ids import encode_resource_id
from tests.e2e.flows import create_namespace, create_repository, login, ok, product_spec, upsert
from tests.e2e.served import Served
from tests.federation.gateway import run_gateway

PASSWORD = "correct-horse-battery"
QUERY = '{ catalog { product(name: "lamp") { id title reviews { stars body } } } }'


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    data_dir = tmp_path_factory.mktemp("federation-serve") / "data"
    server = Served.start(data_dir, env={"GITSTORE_API__FEDERATION": "true"})
    try:
        yield server
    finally:
        code = server.stop()
        assert code == 0, f"gitstore exited with {code}:\n{server.log}"


def test_gateway_in_front_of_gitstore_serve(node: str, served: Served) -> None:
    args = ["user", "create", "owner", "--password-stdin", "--data-dir", str(served.data_dir)]
    created = served.cli(*args, "--admin", stdin=PASSWORD + "\n")
    assert created.returncode == 0, created.stderr
    token = login(served, "owner", PASSWORD)
    create_namespace(served, token, "shop")
    repo = create_repository(served, token, "shop/lights")
    written = ok(
        upsert(
            served, token, repo, "lamp", product_spec(title="Desk Lamp"),
            waitForIndex=True, indexTimeout=60.0,
        )
    )  # fmt: skip
    assert written["indexing"]["state"] == "INDEXED", written
    lamp = encode_resource_id("Product", repo, "lamp")
    result = run_gateway(
        node,
        f"{served.url}/{repo}/graphql",
        {lamp: [{"stars": 4, "body": "Bright"}]},
        {"lamp": QUERY},
    )
    assert result["composed"] is True, result.get("errors")
    assert result["results"]["lamp"] == {
        "data": {
            "catalog": {
                "product": {
                    "id": lamp,
                    "title": "Desk Lamp",
                    "reviews": [{"stars": 4, "body": "Bright"}],
                }
            }
        }
    }
