"""PreReceive with real ApiServices against a real git service (see harness)."""

from __future__ import annotations

from typing import Any

import pytest

from gitstore.api.hooks.prereceive import pre_receive
from gitstore.backends.metadata.base import RepositoryPatch
from gitstore.domain.content import ManifestFormat
from gitstore.hook.v1 import hook_service_pb2 as hook_pb2
from tests.api_hooks.harness import ZERO, Hooks, pushed_commit, pushed_ref, request
from tests.worker.harness import category, collection, encode, files_of, path_of, product

pytestmark = pytest.mark.asyncio

SHIRT = product("shirt", categories=["tops"])
TOPS = category("tops")


def rules(response: hook_pb2.PreReceiveResponse) -> list[tuple[str, str]]:
    return [(v.rule, v.path or v.ref) for v in response.violations]


async def push_main(
    hooks: Hooks, files: dict[str, bytes], deletes: tuple[str, ...] = ()
) -> tuple[hook_pb2.PreReceiveResponse, str]:
    """Main holds TOPS + SHIRT; push one commit with ``files`` on top."""
    base = await hooks.land(files_of(TOPS, SHIRT))
    sha = await hooks.stage(files, deletes, parent=base)
    ref = pushed_ref("refs/heads/main", base, sha, [pushed_commit(sha, [base])])
    return await pre_receive(hooks.services, request(hooks, ref)), sha


async def test_valid_push_is_allowed(hooks: Hooks) -> None:
    response, _ = await push_main(hooks, files_of(product("hat", categories=["tops"])))
    assert response.allowed, response.messages
    assert list(response.violations) == []
    assert response.messages[0].startswith("✓ 1 manifest validated in ")


async def test_schema_violation_names_path_commit_and_field(hooks: Hooks) -> None:
    bad = product("hat", price="-1.00")
    response, sha = await push_main(hooks, files_of(bad))
    assert not response.allowed
    (v,) = response.violations
    assert (v.rule, v.path, v.commit, v.ref) == (
        "schema",
        "products/hat.yaml",
        sha,
        "refs/heads/main",
    )
    assert v.field == "spec.price.amount"
    text = "\n".join(response.messages)
    assert "❌ POLICY CHECK FAILED  (1 problem)" in text
    assert f"products/hat.yaml @ {sha[:7]} [schema] spec.price.amount:" in text
    assert "Please fix policy violations and push again." in text


async def test_parse_and_path_violations(hooks: Hooks) -> None:
    files = {
        "products/broken.yaml": b"apiVersion: gitstore.dev/v1\nkind: [\n",
        "products/Upper.yaml": encode(product("upper")),
        "products/renamed.yaml": encode(product("other-name")),
        "README.md": b"not a manifest",
    }
    response, _ = await push_main(hooks, files)
    assert not response.allowed
    assert sorted(rules(response)) == [
        ("parse", "products/broken.yaml"),
        ("path", "products/Upper.yaml"),
        ("path", "products/renamed.yaml"),
    ]


async def test_invalid_intermediate_commit_is_refused(hooks: Hooks) -> None:
    base = await hooks.land(files_of(TOPS))
    bad = await hooks.stage(files_of(product("hat", price="-1.00")), parent=base)
    fixed = await hooks.stage(files_of(product("hat")), parent=bad)
    ref = pushed_ref(
        "refs/heads/main", base, fixed, [pushed_commit(bad, [base]), pushed_commit(fixed, [bad])]
    )
    response = await pre_receive(hooks.services, request(hooks, ref))
    assert not response.allowed
    (v,) = response.violations
    assert (v.rule, v.commit, v.path) == ("schema", bad, "products/hat.yaml")


async def test_each_blob_is_validated_once(hooks: Hooks) -> None:
    base = await hooks.land(files_of(TOPS))
    first = await hooks.stage(files_of(product("hat")), parent=base)
    second = await hooks.stage({"README.md": b"x"}, parent=first)
    main = pushed_ref(
        "refs/heads/main",
        base,
        second,
        [pushed_commit(first, [base]), pushed_commit(second, [first])],
    )
    topic = pushed_ref("refs/heads/topic", ZERO, first, [pushed_commit(first, [base])])
    response = await pre_receive(hooks.services, request(hooks, main, topic))
    assert response.allowed, response.messages
    assert response.messages == [response.messages[0]]
    assert response.messages[0].startswith("✓ 1 manifest validated")


async def test_missing_reference_is_refused(hooks: Hooks) -> None:
    response, sha = await push_main(hooks, files_of(product("hat", categories=["tops", "hats"])))
    assert not response.allowed
    (v,) = response.violations
    assert (v.rule, v.path, v.field, v.commit) == (
        "reference",
        "products/hat.yaml",
        "spec.categories[1]",
        sha,
    )
    assert "'hats'" in v.message


async def test_reference_to_a_category_added_in_the_same_push(hooks: Hooks) -> None:
    response, _ = await push_main(
        hooks,
        files_of(
            category("hats"),
            product("hat", categories=["hats"], collections=["sale"]),
            collection("sale"),
        ),
    )
    assert response.allowed, response.messages


async def test_deleting_a_referenced_category_is_refused(hooks: Hooks) -> None:
    response, _ = await push_main(hooks, {}, (path_of(TOPS),))
    assert not response.allowed
    (v,) = response.violations
    assert (v.rule, v.path, v.field) == ("reference", "products/shirt.yaml", "spec.categories[0]")


async def test_deleting_an_unreferenced_category_is_allowed(hooks: Hooks) -> None:
    base = await hooks.land(files_of(TOPS, SHIRT, category("spare")))
    sha = await hooks.stage({}, (path_of(category("spare")),), parent=base)
    ref = pushed_ref("refs/heads/main", base, sha, [pushed_commit(sha, [base])])
    response = await pre_receive(hooks.services, request(hooks, ref))
    assert response.allowed, response.messages


async def test_duplicate_files_for_one_resource(hooks: Hooks) -> None:
    response, _ = await push_main(hooks, {"products/shirt.json": encode_json(SHIRT)})
    assert not response.allowed
    assert sorted(rules(response)) == [
        ("duplicate", "products/shirt.json"),
        ("duplicate", "products/shirt.yaml"),
    ]


def encode_json(obj: dict[str, Any]) -> bytes:
    return encode(obj, ManifestFormat.JSON)


async def test_new_branch_from_existing_commit_checks_only_new_commits(hooks: Hooks) -> None:
    base = await hooks.land(files_of(TOPS, SHIRT))
    # a branch at an existing commit brings no commits: nothing to validate
    ref = pushed_ref("refs/heads/topic", ZERO, base, [])
    response = await pre_receive(hooks.services, request(hooks, ref))
    assert response.allowed
    assert response.messages == ["✓ policy check passed"]


async def test_first_push_to_an_empty_repository(hooks: Hooks) -> None:
    root = await hooks.stage(files_of(TOPS, SHIRT, product("ghost-ref", collections=["nope"])))
    ref = pushed_ref("refs/heads/main", ZERO, root, [pushed_commit(root, [])])
    response = await pre_receive(hooks.services, request(hooks, ref))
    assert not response.allowed
    assert rules(response) == [("reference", "products/ghost-ref.yaml")]


async def test_default_branch_rules(hooks: Hooks) -> None:
    base = await hooks.land(files_of(TOPS))
    delete = pushed_ref("refs/heads/main", base, ZERO)
    other = await hooks.stage({"README.md": b"x"}, parent=base)
    force = pushed_ref(
        "refs/heads/main", base, other, [pushed_commit(other, [base])], fast_forward=False
    )
    for ref, rule in ((delete, "branch-delete"), (force, "force-push")):
        response = await pre_receive(hooks.services, request(hooks, ref))
        assert not response.allowed
        assert rules(response) == [(rule, "refs/heads/main")]
        assert f"refs/heads/main [{rule}] " in "\n".join(response.messages)


async def test_other_refs_and_bad_names(hooks: Hooks) -> None:
    base = await hooks.land(files_of(TOPS))
    notes = pushed_ref("refs/notes/commits", ZERO, base)
    bad_tag = pushed_ref("refs/tags/bad tag", ZERO, base)
    response = await pre_receive(hooks.services, request(hooks, notes, bad_tag))
    assert not response.allowed
    assert rules(response) == [
        ("ref-namespace", "refs/notes/commits"),
        ("ref-name", "refs/tags/bad tag"),
    ]


async def test_permission(hooks: Hooks) -> None:
    base = await hooks.land(files_of(TOPS))
    ref = pushed_ref("refs/heads/topic", ZERO, base)
    for user in ("mallory", "nobody", ""):
        response = await pre_receive(hooks.services, request(hooks, ref, username=user))
        assert not response.allowed
        assert [v.rule for v in response.violations] == ["permission"]
    unknown = request(hooks, ref)
    unknown.repository_id = "alice/missing"
    response = await pre_receive(hooks.services, unknown)
    assert [v.rule for v in response.violations] == ["permission"]


async def test_release_tag_immutable(hooks: Hooks) -> None:
    base = await hooks.land(files_of(TOPS))
    later = await hooks.land(files_of(SHIRT))
    store = hooks.services.store
    await store.create_release(hooks.record.id, "v1", base, created_by="alice", source="ssh")
    moved = pushed_ref("refs/tags/v1", base, later)
    deleted = pushed_ref("refs/tags/v1", base, ZERO)
    again = pushed_ref("refs/tags/v1", ZERO, base)
    fresh = pushed_ref("refs/tags/v2", ZERO, later)
    response = await pre_receive(hooks.services, request(hooks, moved, deleted, again, fresh))
    assert not response.allowed
    assert rules(response) == [("tag-immutable", "refs/tags/v1")] * 2
    assert "release 'v1' is recorded at" in response.violations[0].message


async def test_signatures(hooks: Hooks) -> None:
    store = hooks.services.store
    alice = await store.get_user_by_username("alice")
    assert alice is not None
    await store.add_ssh_key(
        alice.id, title="laptop", public_key="ssh-ed25519 AAAAC3Nz", fingerprint="SHA256:alice"
    )
    await store.update_repository(
        hooks.record.id, RepositoryPatch(require_signed_commits=True), updated_by="alice"
    )
    base = await hooks.land(files_of(TOPS))
    one = await hooks.stage({"README.md": b"1"}, parent=base)
    two = await hooks.stage({"README.md": b"2"}, parent=one)
    three = await hooks.stage({"README.md": b"3"}, parent=two)
    commits = [
        pushed_commit(one, [base], signature="good", signer="SHA256:alice"),
        pushed_commit(two, [one], signature="good", signer="SHA256:mallory"),
        pushed_commit(three, [two], signature="none"),
    ]
    response = await pre_receive(
        hooks.services, request(hooks, pushed_ref("refs/heads/main", base, three, commits))
    )
    assert not response.allowed
    assert [(v.rule, v.commit) for v in response.violations] == [
        ("signature", two),
        ("signature", three),
    ]
    good = [pushed_commit(one, [base], signature="good", signer="SHA256:alice")]
    response = await pre_receive(
        hooks.services, request(hooks, pushed_ref("refs/heads/main", base, one, good))
    )
    assert response.allowed, response.messages


async def test_moving_a_category_to_another_format_keeps_references(hooks: Hooks) -> None:
    moved = {"categories/tops.json": encode_json(TOPS)}
    response, _ = await push_main(hooks, moved, (path_of(TOPS),))
    assert response.allowed, response.messages


async def test_untouched_dangling_references_are_not_this_pushs_fault(hooks: Hooks) -> None:
    # main already holds a product naming a category that does not exist
    base = await hooks.land(files_of(TOPS, category("spare"), product("old", categories=["gone"])))
    sha = await hooks.stage({}, (path_of(category("spare")),), parent=base)
    ref = pushed_ref("refs/heads/main", base, sha, [pushed_commit(sha, [base])])
    response = await pre_receive(hooks.services, request(hooks, ref))
    assert response.allowed, response.messages
    # ... but deleting the category a product still names is refused
    sha = await hooks.stage({}, (path_of(TOPS),), parent=base)
    ref = pushed_ref("refs/heads/main", base, sha, [pushed_commit(sha, [base])])
    response = await pre_receive(hooks.services, request(hooks, ref))
    assert response.allowed, response.messages  # "old" names "gone", not "tops"
    shirt_base = await hooks.land(files_of(SHIRT))
    sha = await hooks.stage({}, (path_of(TOPS),), parent=shirt_base)
    ref = pushed_ref("refs/heads/main", shirt_base, sha, [pushed_commit(sha, [shirt_base])])
    response = await pre_receive(hooks.services, request(hooks, ref))
    assert rules(response) == [("reference", "products/shirt.yaml")]


async def test_every_problem_of_a_push_is_reported_at_once(hooks: Hooks) -> None:
    """A parse error does not hide the reference, duplicate and deletion problems of the same
    push: one answer lists them all."""
    files = {
        "products/broken.yaml": b"apiVersion: gitstore.dev/v1\nkind: [\n",
        **files_of(product("hat", categories=["hats"])),
        "products/bad.yaml": encode(product("bad", price="-1.00", categories=["nowhere"])),
        "products/cap.yaml": encode(product("cap", categories=["nope"])),
        "products/cap.json": encode(product("cap", categories=["tops"]), ManifestFormat.JSON),
    }
    response, _ = await push_main(hooks, files, (path_of(TOPS),))
    assert not response.allowed
    found = sorted(rules(response))
    assert ("parse", "products/broken.yaml") in found, found
    assert ("reference", "products/hat.yaml") in found, found
    # a file that breaks its schema still has its references checked in the same answer
    assert ("schema", "products/bad.yaml") in found, found
    assert ("reference", "products/bad.yaml") in found, found
    assert ("duplicate", "products/cap.yaml") in found, found
    assert ("reference", "products/shirt.yaml") in found, found  # tops deleted, still named
    assert f"({len(found)} problems)" in "\n".join(response.messages)


@pytest.mark.parametrize(
    ("text", "rule", "field"),
    [
        (b'  title: "a\\x00b"\n', "schema", "spec.title"),  # YAML escape: a valid file
        (b'  title: "a\\e[31m"\n', "schema", "spec.title"),
        (b"  title: a\x01b\n", "parse", ""),  # raw: the YAML reader refuses the file
        (b"  title: a\x7fb\n", "parse", ""),
    ],
)
async def test_control_characters_in_pushed_text_are_refused(
    hooks: Hooks, text: bytes, rule: str, field: str
) -> None:
    """The API's text rule (domain/content/text.py) holds for a push too."""
    good = encode(product("hat", categories=["tops"]))
    assert b"\n  title: " in good
    lines = [line for line in good.split(b"\n") if not line.startswith(b"  title: ")]
    spec = lines.index(b"spec:")
    content = b"\n".join(lines[: spec + 1]) + b"\n" + text + b"\n".join(lines[spec + 1 :])
    response, _ = await push_main(hooks, {"products/hat.yaml": content})
    assert not response.allowed
    (v,) = response.violations
    assert (v.rule, v.path, v.field) == (rule, "products/hat.yaml", field)
    assert "control character" in v.message or "not allowed in YAML text" in v.message
