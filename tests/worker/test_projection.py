"""The projector against a real git service and a SQLite KV: documents, stamps, indexes,
updates, deletes, invalid files, duplicates, ordering, and full resyncs."""

from __future__ import annotations

from gitstore.backends.kv import Batch, KvStore
from gitstore.domain.content import ManifestFormat
from gitstore.domain.projection import draft_scope
from gitstore.git.client import GitClient
from gitstore.worker.projector import Projector
from tests.worker.harness import (
    assert_kv_matches_head,
    category,
    collection,
    commit,
    encode,
    files_of,
    path_of,
    product,
)


async def names(kv: KvStore, repo: str, kind: str, index: str, value: str) -> list[str]:
    page = await kv.lookup(draft_scope(repo), kind, index, value, first=100)
    return [d.name for d in page.items]


async def test_first_projection_writes_documents_stamps_and_indexes(
    git: GitClient, kv: KvStore, repo: str, projector: Projector
) -> None:
    files = files_of(
        product(
            "blue-shirt",
            categories=["shirts", "summer"],
            collections=["sale"],
            status="active",
            labels={"team": "apparel"},
        ),
        product("red-shirt", categories=["shirts"], handle="red-tee"),
        product("green-hat", categories=["hats"], status="archived"),
        category("shirts", parent="clothing"),
        category("clothing"),
        collection("sale", products=["red-shirt"]),
    )
    files["README.md"] = b"# Catalogue\n"
    files["docs/notes.txt"] = b"not a manifest"
    done = await commit(git, repo, files)

    result = await projector.project(repo)

    assert result.changed and result.version == done.commit_sha and result.previous is None
    assert (result.upserts, result.deletes, result.invalid_files) == (6, 0, 0)
    scope = draft_scope(repo)
    head = await kv.head(scope)
    assert head is not None and (head.version, head.sequence) == (done.commit_sha, 1)
    doc = await kv.get(scope, "product", "blue-shirt")
    assert doc is not None and doc.version == done.commit_sha
    value = doc.value()
    assert value["apiVersion"] == "gitstore.dev/v1" and value["kind"] == "Product"
    assert value["metadata"] == {
        "name": "blue-shirt",
        "labels": {"team": "apparel"},
        "annotations": {},
    }
    assert value["spec"]["price"] == {"amount": "10.00", "currency": "EUR"}
    assert value["path"] == "products/blue-shirt.yaml"
    assert len(value["blobId"]) == 40
    assert await names(kv, repo, "product", "category", "shirts") == ["blue-shirt", "red-shirt"]
    assert await names(kv, repo, "product", "collection", "sale") == ["blue-shirt"]
    assert await names(kv, repo, "product", "handle", "red-tee") == ["red-shirt"]
    assert await names(kv, repo, "product", "handle", "blue-shirt") == ["blue-shirt"]
    assert await names(kv, repo, "product", "status", "draft") == ["red-shirt"]
    assert await names(kv, repo, "product", "category-status", "shirts|active") == ["blue-shirt"]
    assert await names(kv, repo, "product", "collection-status", "sale|active") == ["blue-shirt"]
    assert await names(kv, repo, "category", "parent", "clothing") == ["shirts"]
    coll = await kv.get(scope, "collection", "sale")
    assert coll is not None and coll.value()["spec"]["products"] == ["red-shirt"]
    await assert_kv_matches_head(kv, git, repo)


async def test_update_and_delete_touch_only_what_changed(
    git: GitClient, kv: KvStore, repo: str, projector: Projector
) -> None:
    first = await commit(
        git,
        repo,
        files_of(
            product("a", categories=["old"]),
            product("b", categories=["old"]),
            product("c", categories=["old"]),
        ),
    )
    await projector.project(repo)
    second = await commit(
        git,
        repo,
        files_of(product("a", title="A renamed", categories=["new"])),
        deletes=[path_of(product("b"))],
    )

    result = await projector.project(repo)

    assert (result.upserts, result.deletes, result.previous) == (1, 1, first.commit_sha)
    scope = draft_scope(repo)
    a = await kv.get(scope, "product", "a")
    assert (
        a is not None
        and a.version == second.commit_sha
        and a.value()["spec"]["title"] == "A renamed"
    )
    assert await kv.get(scope, "product", "b") is None
    c = await kv.get(scope, "product", "c")
    assert c is not None and c.version == first.commit_sha  # untouched: still its first stamp
    assert await names(kv, repo, "product", "category", "old") == ["c"]
    assert await names(kv, repo, "product", "category", "new") == ["a"]
    head = await kv.head(scope)
    assert head is not None and (head.version, head.sequence) == (second.commit_sha, 2)
    await assert_kv_matches_head(kv, git, repo)


async def test_invalid_file_is_skipped_and_the_last_valid_document_stays(
    git: GitClient, kv: KvStore, repo: str, projector: Projector
) -> None:
    first = await commit(git, repo, files_of(product("a", price="5.00")))
    await projector.project(repo)
    bad = encode(product("a", price="5.00")).replace(b"5.00", b"-5")
    second = await commit(
        git,
        repo,
        {
            "products/a.yaml": bad,
            "products/b.yaml": b"apiVersion: gitstore.dev/v1\nkind: Product\nmetadata: {name: b}\n"
            b"spec: {price: {amount: '1', currency: EUR}}\n",
            "products/Bad_Name.yaml": encode(product("x")),
            **files_of(product("good")),
        },
    )

    result = await projector.project(repo)

    assert result.version == second.commit_sha
    assert result.upserts == 1 and result.invalid_files == 3
    rules = {(e.path, e.field, e.rule) for e in result.invalid}
    assert ("products/a.yaml", "spec.price.amount", "pattern") in rules
    assert ("products/b.yaml", "spec.title", "required") in rules
    assert ("products/Bad_Name.yaml", "", "invalid-path") in rules
    scope = draft_scope(repo)
    a = await kv.get(scope, "product", "a")
    assert a is not None and a.version == first.commit_sha
    assert a.value()["spec"]["price"]["amount"] == "5.00"
    assert await kv.get(scope, "product", "b") is None
    assert await kv.get(scope, "product", "good") is not None
    head = await kv.head(scope)
    assert head is not None and head.version == second.commit_sha

    fixed = await commit(
        git,
        repo,
        files_of(product("a", price="6.00")),
        deletes=["products/b.yaml", "products/Bad_Name.yaml"],
    )
    await projector.project(repo)
    a = await kv.get(scope, "product", "a")
    assert a is not None and a.version == fixed.commit_sha
    await assert_kv_matches_head(kv, git, repo)


async def test_two_files_for_one_identity_keep_the_document_until_resolved(
    git: GitClient, kv: KvStore, repo: str, projector: Projector
) -> None:
    first = await commit(git, repo, files_of(product("a", title="From YAML")))
    await projector.project(repo)
    json_path = path_of(product("a"), ManifestFormat.JSON)
    await commit(
        git, repo, {json_path: encode(product("a", title="From JSON"), ManifestFormat.JSON)}
    )

    result = await projector.project(repo)

    assert {e.rule for e in result.invalid} == {"duplicate"}
    assert {e.path for e in result.invalid} == {"products/a.yaml", json_path}
    scope = draft_scope(repo)
    doc = await kv.get(scope, "product", "a")
    assert doc is not None and doc.version == first.commit_sha

    third = await commit(git, repo, deletes=["products/a.yaml"])
    await projector.project(repo)
    doc = await kv.get(scope, "product", "a")
    assert doc is not None and doc.version == third.commit_sha
    assert doc.value()["spec"]["title"] == "From JSON" and doc.value()["path"] == json_path
    await assert_kv_matches_head(kv, git, repo)

    await commit(git, repo, deletes=[json_path])
    await projector.project(repo)
    assert await kv.get(scope, "product", "a") is None


async def test_projecting_again_without_a_new_commit_changes_nothing(
    git: GitClient, kv: KvStore, repo: str, projector: Projector
) -> None:
    await commit(git, repo, files_of(product("a")))
    await projector.project(repo)
    head = await kv.head(draft_scope(repo))

    again = await projector.project(repo)
    other = await Projector(git, kv, owner="other").project(repo)

    assert not again.changed and not other.changed
    assert await kv.head(draft_scope(repo)) == head


async def test_commit_without_manifests_moves_the_head_only(
    git: GitClient, kv: KvStore, repo: str, projector: Projector
) -> None:
    await commit(git, repo, files_of(product("a")))
    await projector.project(repo)
    second = await commit(git, repo, {"README.md": b"hello\n"})

    result = await projector.project(repo)

    assert result.changed and (result.upserts, result.deletes) == (0, 0)
    head = await kv.head(draft_scope(repo))
    assert head is not None and head.version == second.commit_sha
    await assert_kv_matches_head(kv, git, repo)


async def test_unknown_base_falls_back_to_a_full_resync(
    git: GitClient, kv: KvStore, repo: str, projector: Projector
) -> None:
    await commit(git, repo, files_of(product("a"), product("b"), category("c")))
    await projector.project(repo)
    scope = draft_scope(repo)
    # A head naming a commit this repository never had, and a document no file backs.
    head = await kv.head(scope)
    assert head is not None
    foreign = Batch(scope, head.sequence + 1, "f" * 40)
    foreign.upsert("product", "ghost", {"spec": {}})
    foreign.delete("product", "b")
    await kv.apply(foreign)

    result = await projector.project(repo)

    assert result.full and result.changed
    assert await kv.get(scope, "product", "ghost") is None
    assert await kv.get(scope, "product", "b") is not None
    await assert_kv_matches_head(kv, git, repo)


async def test_only_the_default_branch_is_projected(
    git: GitClient, kv: KvStore, repo: str, projector: Projector
) -> None:
    main = await commit(git, repo, files_of(product("a")))
    await commit(git, repo, files_of(product("b")), branch="dev", start_revision="main")

    await projector.project(repo)

    assert await kv.get(draft_scope(repo), "product", "b") is None
    head = await kv.head(draft_scope(repo))
    assert head is not None and head.version == main.commit_sha
