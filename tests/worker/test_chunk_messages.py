"""Chunk messages (``worker/chunks.py``): what a helper reads back is what the coordinator
published, rule-based collections included, and a bad message names what is wrong."""

from __future__ import annotations

import json

import pytest

from gitstore.domain.content.rules import rule_set
from gitstore.domain.errors import InvalidArgument
from gitstore.domain.keys import ChannelScope
from gitstore.worker.changes import FileAt
from gitstore.worker.chunks import (
    ChunkWork,
    rules_from,
    rules_value,
    shareable,
    stale_markers,
)
from gitstore.worker.claims import Claim

SPEC = {
    "rules": [
        {"field": "price", "relation": "lessThan", "condition": "5"},
        {"field": "tag", "relation": "equals", "condition": "Sale"},
    ],
    "appliedDisjunctively": True,
}


def chunk() -> ChunkWork:
    rules = rule_set(SPEC)
    assert rules is not None
    return ChunkWork(
        ChannelScope("acme/catalog", "draft-b"),
        sequence=7,
        index=2,
        count=5,
        target="a" * 40,
        owner="host-1-abcd",
        fence="draft-view",
        upserts=(("products/x.yaml", "b" * 40),),
        deletes=(("product", "gone"),),
        rules=rules_value({"cheap": rules}),
    )


def test_a_chunk_message_round_trips() -> None:
    sent = chunk()
    got = ChunkWork.from_json(sent.to_json())
    assert got == sent
    assert got.marker == "done-7-2"
    assert got.work() == [("product", "gone"), FileAt("products/x.yaml", "b" * 40)]
    assert got.rules is not None
    rules = rules_from(got.rules)["cheap"]
    assert rules == rule_set(SPEC)
    assert rules.matches({"price": {"amount": "9.00"}, "tags": ["sale"]})
    assert not rules.matches({"price": {"amount": "9.00"}, "tags": ["new"]})


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"type": "ref.updated"}, "type"),
        ({"sequence": "7"}, "sequence"),
        ({"index": True}, "index"),
        ({"upserts": [["only-a-path"]]}, "upserts"),
        ({"deletes": "product/gone"}, "deletes"),
        ({"fence": 3}, "fence"),
        ({"rules": ["cheap"]}, "rules"),
    ],
)
def test_a_bad_chunk_message_names_its_field(change: dict[str, object], field: str) -> None:
    data = json.loads(chunk().to_json())
    data.update(change)
    with pytest.raises(InvalidArgument) as info:
        ChunkWork.from_json(json.dumps(data).encode())
    assert info.value.field == field


def test_not_json_is_refused() -> None:
    with pytest.raises(InvalidArgument, match="not JSON"):
        ChunkWork.from_json(b"{")


def test_only_plain_files_and_deletes_are_shared() -> None:
    assert shareable(("product", "gone"))
    assert shareable(FileAt("products/x.yaml", "b" * 40))
    assert not shareable(FileAt("products/x.yaml", "b" * 40, content=b"read already"))


def test_a_taken_over_claim_names_the_markers_to_delete() -> None:
    claim = Claim(None, ("a" * 40,), "w", 0.0, 12, chunks=3)
    assert stale_markers(claim) == ["done-12-0", "done-12-1", "done-12-2"]
    assert claim.value()["chunks"] == 3 and claim.beat(1.0).chunks == 3
    assert stale_markers(None) == []
