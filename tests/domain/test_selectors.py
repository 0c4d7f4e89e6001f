"""Label selectors: the Kubernetes grammar, matching, and clear errors."""

from __future__ import annotations

import pytest

from gitstore.domain.errors import InvalidArgument
from gitstore.domain.selectors import parse_selector

LABELS = {"tier": "gold", "app": "shop", "example.com/team": "a"}


@pytest.mark.parametrize(
    ("selector", "matches"),
    [
        ("", True),
        ("tier=gold", True),
        ("tier==gold", True),
        ("tier=silver", False),
        ("tier!=silver", True),
        ("missing!=x", True),
        ("tier in (gold, silver)", True),
        ("tier notin (gold)", False),
        ("missing notin (gold)", True),
        ("missing in (gold)", False),
        ("app", True),
        ("!app", False),
        ("!missing", True),
        ("tier=gold,app=shop,example.com/team=a", True),
        ("tier=gold,app=other", False),
        ("tier in (gold,silver),!hidden", True),
    ],
)
def test_matching(selector: str, matches: bool) -> None:
    assert parse_selector(selector).matches(LABELS) is matches


def test_no_labels_match_only_absence() -> None:
    assert parse_selector("!a,b!=c").matches(None)
    assert not parse_selector("a").matches(None)


@pytest.mark.parametrize(
    ("selector", "fragment"),
    [
        ("tier=gold,,app", "empty requirement"),
        ("tier in (gold", "unbalanced parentheses"),
        ("tier in ()", "empty value set"),
        ("bad key=x", "invalid label key"),
        ("tier=no spaces", "invalid label value"),
        ("-lead=x", "invalid label key"),
    ],
)
def test_bad_selectors_name_the_requirement(selector: str, fragment: str) -> None:
    with pytest.raises(InvalidArgument) as caught:
        parse_selector(selector)
    assert fragment in caught.value.message
    assert caught.value.field == "labelSelector"
