"""Single connection mode over raw HTTP: reservation, stream, operations with ids, DELETE,
and the refusals (unknown token, a second stream, no operationId, another caller)."""

from __future__ import annotations

from pathlib import Path

from tests.sse.harness import WATCH, sse_events, watch_server

TOKEN = "X-GraphQL-Event-Stream-Token"


def test_reserve_stream_run_and_stop(tmp_path: Path) -> None:
    with watch_server(tmp_path, f"sqlite:///{tmp_path / 'q.sqlite3'}") as server:
        client, repo = server.api.client, server.public
        auth = {"Authorization": f"Bearer {server.token}"}
        server.write(repo, "Product", "a")
        reserved = client.put("/graphql", headers=auth)
        assert reserved.status_code == 201
        token = reserved.text
        early = client.post(
            "/graphql",
            json={"query": WATCH, "variables": {"repo": repo}, "extensions": {"operationId": "w"}},
            headers={**auth, TOKEN: token},
        )
        assert early.status_code == 409  # no stream yet
        assert "open the event stream" in early.json()["errors"][0]["message"]
        with client.stream(
            "GET", "/graphql", headers={**auth, TOKEN: token, "Accept": "text/event-stream"}
        ) as stream:
            assert stream.status_code == 200
            second = client.get(
                "/graphql", headers={**auth, TOKEN: token, "Accept": "text/event-stream"}
            )
            assert second.status_code == 409
            body = {"query": WATCH, "variables": {"repo": repo}}
            missing_id = client.post("/graphql", json=body, headers={**auth, TOKEN: token})
            assert missing_id.status_code == 400
            stranger = client.post(
                "/graphql",
                json={**body, "extensions": {"operationId": "w"}},
                headers={TOKEN: token},
            )
            assert stranger.status_code == 403
            for operation_id in ("w1", "w2"):
                accepted = client.post(
                    "/graphql",
                    json={**body, "extensions": {"operationId": operation_id}},
                    headers={**auth, TOKEN: token},
                )
                assert accepted.status_code == 202, accepted.text
            events = sse_events(stream)
            got: dict[str, list[str]] = {"w1": [], "w2": []}
            while min(len(v) for v in got.values()) < 2:
                event, data = next(events)
                assert event == "next"
                got[data["id"]].append(data["payload"]["data"]["watchResources"]["type"])
            assert got == {"w1": ["ADDED", "BOOKMARK"], "w2": ["ADDED", "BOOKMARK"]}
            stopped = client.delete(
                "/graphql", params={"operationId": "w1"}, headers={**auth, TOKEN: token}
            )
            assert stopped.status_code == 200
            server.write(repo, "Product", "b")
            event, data = next(events)
            assert (event, data["id"]) == ("next", "w2")  # w1 no longer runs
            assert data["payload"]["data"]["watchResources"]["resourceVersion"] == "2"
        unknown = client.get("/graphql", headers={TOKEN: "nope", "Accept": "text/event-stream"})
        assert unknown.status_code == 404
