"""The pure push rules of ``gitstore.domain.publishing``."""

from __future__ import annotations

import pytest

from gitstore.domain.content import ContentError, KindRegistry, Manifest
from gitstore.domain.publishing import (
    BRANCH_DELETE,
    FORCE_PUSH,
    MAX_LINES,
    REF_NAME,
    REF_NAMESPACE,
    SIGNATURE,
    TAG_IMMUTABLE,
    TAG_TARGET,
    TOO_MANY_COMMITS,
    PolicyFacts,
    PushedCommit,
    RecordedRelease,
    RefKind,
    RefPush,
    RepositoryPolicy,
    Violation,
    classify_ref,
    content_rule,
    ref_name_problem,
    ref_violations,
    reference_errors,
    referencing_kinds,
    refusal_lines,
    release_tag_matches,
)

A, B, C = "a" * 40, "b" * 40, "c" * 40
ZERO = "0" * 40
POLICY = RepositoryPolicy("main")
SIGNED = RepositoryPolicy("main", require_signed_commits=True)


@pytest.mark.parametrize(
    ("tag", "patterns", "expected"),
    [
        ("v1.2.0", ("v*",), True),
        ("v1/rc", ("v*",), False),  # * does not cross /
        ("release/2026-11", ("release/*",), True),
        ("release/2026/11", ("release/*",), False),
        ("release/2026/11", ("release/**",), True),
        ("release", ("release/*",), False),
        ("V1", ("v*",), False),  # case-sensitive
        ("v1", ("v?",), True),
        ("v12", ("v?",), False),
        ("rc-3", ("rc-[0-9]",), True),
        ("rc-x", ("rc-[!0-9]",), True),
        ("rc-5", ("rc-[!0-9]",), False),
        ("x.y", ("x.y",), True),
        ("xzy", ("x.y",), False),  # . is literal
        ("anything", (), False),
        ("v1", ("", "v*"), True),
    ],
)
def test_release_patterns(tag: str, patterns: tuple[str, ...], expected: bool) -> None:
    assert release_tag_matches(tag, patterns) is expected


def test_classify_refs() -> None:
    policy = RepositoryPolicy("main", ("v*",))
    assert classify_ref("refs/heads/main", policy).kind is RefKind.DEFAULT_BRANCH
    assert classify_ref("refs/heads/feature/x", policy).kind is RefKind.BRANCH
    assert classify_ref("refs/tags/v1", policy).kind is RefKind.RELEASE_TAG
    assert classify_ref("refs/tags/nightly", policy).kind is RefKind.TAG
    assert classify_ref("refs/notes/commits", policy).kind is RefKind.OTHER
    assert classify_ref("refs/tags/v1", policy).short == "v1"


@pytest.mark.parametrize(
    "ref",
    [
        "main",
        "refs/heads",
        "refs/heads/a b",
        "refs/heads/a..b",
        "refs/heads/x.lock",
        "refs/heads/.hidden",
        "refs/heads/a//b",
        "refs/heads/a/",
        "refs/heads/a@{1}",
        "refs/heads/a~1",
        "refs/heads/a:b",
        "refs/heads/a.",
    ],
)
def test_invalid_ref_names(ref: str) -> None:
    assert ref_name_problem(ref) is not None
    violations = ref_violations(RefPush(ref, ZERO, A), POLICY, PolicyFacts())
    assert REF_NAME in [v.rule for v in violations]


def test_valid_ref_names() -> None:
    for ref in ("refs/heads/main", "refs/heads/feature/x-1", "refs/tags/v1.2.0+build"):
        assert ref_name_problem(ref) is None
        assert ref_violations(RefPush(ref, ZERO, A, peeled=A), POLICY, PolicyFacts()) == []


def test_tag_names_are_restricted() -> None:
    (v,) = ref_violations(RefPush("refs/tags/caf\u00e9", ZERO, A), POLICY, PolicyFacts())
    assert v.rule == REF_NAME


def rules(
    push: RefPush,
    policy: RepositoryPolicy = POLICY,
    releases: dict[str, RecordedRelease] | None = None,
) -> list[str]:
    facts = PolicyFacts(releases=releases or {})
    return [v.rule for v in ref_violations(push, policy, facts)]


def test_other_ref_namespaces_are_refused() -> None:
    assert rules(RefPush("refs/notes/commits", ZERO, A)) == [REF_NAMESPACE]
    assert rules(RefPush("refs/gitstore/x", ZERO, A)) == [REF_NAMESPACE]


def test_default_branch_delete_and_force_push() -> None:
    assert rules(RefPush("refs/heads/main", A, ZERO, "")) == [BRANCH_DELETE]
    assert rules(RefPush("refs/heads/main", A, B, fast_forward=False)) == [FORCE_PUSH]
    assert rules(RefPush("refs/heads/main", A, B, fast_forward=True)) == []
    # other branches may be deleted and rewritten
    assert rules(RefPush("refs/heads/topic", A, ZERO, "")) == []
    assert rules(RefPush("refs/heads/topic", A, B, fast_forward=False)) == []


def test_release_tag_immutable_once_recorded() -> None:
    recorded = {"v1": RecordedRelease("v1", A)}
    tag = "refs/tags/v1"
    assert rules(RefPush(tag, A, ZERO, ""), releases=recorded) == [TAG_IMMUTABLE]
    assert rules(RefPush(tag, A, B, peeled=B), releases=recorded) == [TAG_IMMUTABLE]
    assert rules(RefPush(tag, ZERO, B, peeled=B), releases=recorded) == [TAG_IMMUTABLE]
    assert rules(RefPush(tag, ZERO, C, "tag", peeled=A), releases=recorded) == []  # same commit
    # not recorded yet: free; a non-release tag: free
    assert rules(RefPush(tag, A, B, peeled=B)) == []
    assert rules(RefPush("refs/tags/nightly", A, ZERO, ""), releases=recorded) == []


def test_release_tag_must_point_at_a_commit() -> None:
    assert rules(RefPush("refs/tags/v2", ZERO, A, "tree", peeled="")) == [TAG_TARGET]
    assert rules(RefPush("refs/tags/nightly", ZERO, A, "tree", peeled="")) == []


def test_truncated_commit_list_is_refused() -> None:
    push = RefPush("refs/heads/topic", ZERO, A, peeled=A, truncated=True)
    (v,) = ref_violations(push, POLICY, PolicyFacts(), max_commits=10)
    assert v.rule == TOO_MANY_COMMITS and "10" in v.message


def test_signatures() -> None:
    mine = "SHA256:mine"
    commits = (
        PushedCommit(A, (), "good", mine),
        PushedCommit(B, (A,), "good", "SHA256:theirs"),
        PushedCommit(C, (B,), "bad"),
        PushedCommit("d" * 40, (C,), "none"),
    )
    push = RefPush("refs/heads/main", ZERO, "d" * 40, peeled="d" * 40, commits=commits)
    found = ref_violations(push, SIGNED, PolicyFacts(fingerprints=[mine]))
    assert [v.rule for v in found] == [SIGNATURE] * 3
    assert [v.commit for v in found] == [B, C, "d" * 40]
    assert "SHA256:theirs" in found[0].message and "bbbbbbb" in found[0].message
    assert "not signed" in found[2].message
    # the rule only applies when the repository asks for it
    assert ref_violations(push, POLICY, PolicyFacts()) == []


def test_annotated_tag_signature() -> None:
    mine = "SHA256:mine"
    push = RefPush("refs/tags/v1", ZERO, C, "tag", peeled=A, tag_signature="none")
    (v,) = ref_violations(push, SIGNED, PolicyFacts(fingerprints=[mine]))
    assert v.rule == SIGNATURE and "tag object" in v.message
    good = RefPush("refs/tags/v1", ZERO, C, "tag", peeled=A, tag_signature="good", tag_signer=mine)
    assert ref_violations(good, SIGNED, PolicyFacts(fingerprints=[mine])) == []
    # a deletion carries nothing to sign
    assert ref_violations(RefPush("refs/tags/x", A, ZERO, ""), SIGNED, PolicyFacts()) == []


def test_content_rules() -> None:
    def rule(r: str) -> str:
        return content_rule(ContentError("p", "", r, "m"))

    assert rule("yaml-syntax") == "parse"
    assert rule("too-large") == "parse"
    assert rule("invalid-path") == "path"
    assert rule("identity-mismatch") == "path"
    assert rule("minimum") == "schema"
    assert rule("required") == "schema"
    assert rule("currency-mismatch") == "schema"
    assert rule("duplicate") == "duplicate"
    assert rule("reference") == "reference"


def test_refusal_block() -> None:
    violations = [
        Violation(
            "refs/heads/main",
            "schema",
            "spec.price.amount: must be >= 0",
            "1a2b3c4d" + "0" * 32,
            "products/bad.yaml",
            "spec.price.amount",
        ),
        Violation(
            "refs/heads/main", FORCE_PUSH, "the default branch 'main' cannot be force-pushed"
        ),
        Violation("refs/heads/main", "parse", "bad YAML", "f" * 40, "products/x.yaml", "spec"),
    ]
    lines = refusal_lines(violations)
    assert lines == [
        "-" * 49,
        "❌ POLICY CHECK FAILED  (3 problems)",
        "-" * 49,
        "products/bad.yaml @ 1a2b3c4 [schema] spec.price.amount: must be >= 0",
        "refs/heads/main [force-push] the default branch 'main' cannot be force-pushed",
        "products/x.yaml @ fffffff [parse] spec: bad YAML",
        "Please fix policy violations and push again.",
        "-" * 49,
    ]


def test_refusal_block_is_capped() -> None:
    many = [
        Violation("refs/heads/main", "schema", f"m{i}", A, f"products/p{i}.yaml") for i in range(75)
    ]
    lines = refusal_lines(many)
    assert lines[1] == "❌ POLICY CHECK FAILED  (75 problems)"
    assert len([x for x in lines if x.startswith("products/")]) == MAX_LINES
    assert "… and 25 more" in lines
    assert lines[-2] == "Please fix policy violations and push again."


def test_reference_errors_and_referencing_kinds() -> None:
    registry = KindRegistry.builtin()
    targets = referencing_kinds(registry)
    assert "Product" in targets["Category"] and "Product" in targets["Collection"]
    product = Manifest(
        "gitstore.dev/v1",
        "Product",
        "tee",
        {
            "title": "Tee",
            "price": {"amount": "1.00", "currency": "EUR"},
            "categories": ["shirts", "ghost"],
        },
        path="products/tee.yaml",
    )
    names = {"Category": {"shirts"}}
    (e,) = reference_errors([product], lambda k, n: n in names.get(k, set()), registry)
    assert e.rule == "reference" and e.field == "spec.categories[1]" and "ghost" in e.message


def test_a_bounded_refusal_keeps_the_first_problem_of_every_rule() -> None:
    parse = [
        Violation("refs/heads/main", "parse", "bad", "c", f"p/{n:02d}.yaml") for n in range(60)
    ]
    late = Violation("refs/heads/main", "reference", "missing", "c", "p/x.yaml")
    lines = refusal_lines([*parse, late])
    assert "❌ POLICY CHECK FAILED  (61 problems)" in lines[1]
    shown = [line for line in lines if line.startswith("p/")]
    assert len(shown) == 50
    assert shown[-1] == late.line()  # kept although it came 61st, order otherwise kept
    assert shown[:49] == [v.line() for v in parse[:49]]
    assert "… and 11 more" in lines
